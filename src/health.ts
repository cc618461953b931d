// Plain-HTTP liveness/readiness for the pod's probes (the kubelet API needs authentication, probes have
// none). /healthz: the process is alive. /readyz: this replica is leading and its loops run, or is a
// healthy standby (standbys are ready: they are doing exactly what they should); not ready while
// starting or stopping, or while an informer cache is stale (`problem`: watch broken, relisting).
import http from 'node:http';

export type HealthState = { role: 'starting' | 'standby' | 'leader' | 'stopping'; problem?: string };

/** Resolves once listening; rejects with what to change when the address cannot be bound. */
export async function startHealthServer(port: number, host: string, state: () => HealthState): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const s = state();
    if (req.url === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
      return;
    }
    if (req.url === '/readyz') {
      const ok = (s.role === 'leader' || s.role === 'standby') && !s.problem;
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' }).end(`${s.role}${s.problem ? `: ${s.problem}` : ''}\n`);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new Error(
          `the health port ${host}:${port} cannot be bound (${e.code ?? e.message}): free it or choose another --health-port (0 turns the health server off)`,
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  server.unref();
  return server;
}
