// What the bench reads from a running fedlet: its resident memory and its /metrics (on the kubelet port,
// authenticated with the upper API server's kubelet client certificate, as metrics-server would).
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { SandboxState } from '../../sandbox/sandbox.js';

export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Prometheus text of the fedlet serving the kubelet API on `port` (default: the sandbox's first fedlet). */
export function fedletMetrics(s: SandboxState, port = s.fedlets[0]!.kubeletPort): Promise<string> {
  const cert = s.upper.kubeletClientCert!;
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: s.nodeIP ?? '127.0.0.1',
        port,
        path: '/metrics',
        rejectUnauthorized: false,
        cert: readFileSync(cert),
        key: readFileSync(cert.replace(/\.crt$/, '.key')),
      },
      (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve(b));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
