// A scheduler extender called as kube-scheduler calls it (HTTPS with a client certificate) or as someone
// without one: the sandbox's own (a host process on loopback) or another one reached by address, such as
// the chart's extender pods.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { sandbox } from './kubectl.js';

/** Where an extender listens and the TLS material to call it with. */
export interface ExtenderEndpoint {
  host: string;
  port: number;
  /** The name its serving certificate is verified against (default: host). */
  servername?: string;
  caCert: string;
  clientCert: string;
  clientKey: string;
}

/** The sandbox's own extender. */
function sandboxExtender(): ExtenderEndpoint {
  const ext = sandbox().extender;
  if (!ext?.tls) throw new Error('this sandbox has no extender with TLS');
  return { host: '127.0.0.1', port: ext.port, ...ext.tls };
}

export function extenderRequest(
  method: 'GET' | 'POST',
  urlPath: string,
  opts: { body?: string; as?: 'scheduler' | 'none' | { cert: string; key: string }; at?: ExtenderEndpoint } = {},
): Promise<{ status: number; body: string }> {
  const ext = opts.at ?? sandboxExtender();
  const as = opts.as ?? 'scheduler';
  const client = as === 'none' ? undefined : as === 'scheduler' ? { cert: ext.clientCert, key: ext.clientKey } : as;
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: ext.host,
        port: ext.port,
        path: urlPath,
        method,
        ca: readFileSync(ext.caCert),
        ...(ext.servername ? { servername: ext.servername } : {}),
        ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
        headers: opts.body !== undefined ? { 'Content-Type': 'application/json' } : {},
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}
