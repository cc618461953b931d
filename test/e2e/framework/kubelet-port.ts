// Direct calls to a fedlet's kubelet port (not through the upper API server), as an unknown caller, a
// ServiceAccount with a bearer token, or the API server's own kubelet client certificate would make them.
import { readFileSync } from 'node:fs';
import https from 'node:https';

export interface KubeletCall {
  host: string;
  port: number;
  path: string;
  method?: string;
  /** A client certificate file (its key beside it, `.crt` → `.key`). */
  cert?: string;
  token?: string;
  agent?: https.Agent;
  timeoutMs?: number;
}

/** The status and body of one request; a connection error rejects. */
export function kubeletCall(c: KubeletCall): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: c.host,
        port: c.port,
        path: c.path,
        method: c.method ?? 'GET',
        rejectUnauthorized: false,
        ...(c.agent ? { agent: c.agent } : {}),
        ...(c.cert ? { cert: readFileSync(c.cert), key: readFileSync(c.cert.replace(/\.crt$/, '.key')) } : {}),
        headers: c.token ? { Authorization: `Bearer ${c.token}` } : {},
        ...(c.timeoutMs ? { timeout: c.timeoutMs } : {}),
      },
      (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`kubelet port ${c.host}:${c.port}${c.path}: no answer in ${c.timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
