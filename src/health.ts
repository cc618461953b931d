// Plain-HTTP liveness/readiness for the pod's probes (the kubelet API needs authentication, probes have
// none). /healthz: the process is alive. /readyz: this replica is leading and its loops run, or is a
// healthy standby (standbys are ready: they are doing exactly what they should); not ready while
// starting or stopping, or while an informer cache is stale (`problem`: watch broken, relisting).
// Unauthenticated, so it binds to 127.0.0.1 unless told otherwise (a Deployment binds it to the pod IP for
// the kubelet's probes) and answers with the role and a short reason only: internal error text (which
// cache, which API server error) goes to fedlet's log, never to whoever can reach the port.
import http from 'node:http';
import type { Logger } from 'pino';

export type HealthState = {
  role: 'starting' | 'standby' | 'leader' | 'stopping';
  /** A short reason not to be ready, safe to show anyone (e.g. "2 informer caches stale"). */
  problem?: string;
  /** The internals behind `problem`, for the log only. */
  detail?: string;
};

/** The body /readyz answers: the role, and the short problem if any. */
export function readyzBody(s: HealthState): string {
  return `${s.role}${s.problem ? `: ${s.problem}` : ''}\n`;
}

/** Resolves once listening; rejects with what to change when the address cannot be bound. */
export async function startHealthServer(
  port: number,
  host: string,
  state: () => HealthState,
  log?: Logger,
): Promise<http.Server> {
  let lastDetail: string | undefined;
  const server = http.createServer((req, res) => {
    const s = state();
    if (req.url === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
      return;
    }
    if (req.url === '/readyz') {
      const ok = (s.role === 'leader' || s.role === 'standby') && !s.problem;
      if (s.detail !== lastDetail && s.detail) log?.warn({ problem: s.problem, detail: s.detail }, 'not ready');
      lastDetail = s.detail;
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' }).end(readyzBody(s));
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  });
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
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
