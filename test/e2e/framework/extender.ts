// The sandbox's scheduler extender, called as kube-scheduler calls it (HTTPS with a client certificate)
// or as someone without one.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { sandbox } from './kubectl.js';

export function extenderRequest(
  method: 'GET' | 'POST',
  urlPath: string,
  opts: { body?: string; as?: 'scheduler' | 'none' | { cert: string; key: string } } = {},
): Promise<{ status: number; body: string }> {
  const ext = sandbox().extender;
  if (!ext?.tls) throw new Error('this sandbox has no extender with TLS');
  const as = opts.as ?? 'scheduler';
  const client = as === 'none' ? undefined : as === 'scheduler' ? { cert: ext.tls.clientCert, key: ext.tls.clientKey } : as;
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: ext.port,
        path: urlPath,
        method,
        ca: readFileSync(ext.tls!.caCert),
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
