// TLS contexts are built once per client identity, not once per connection: concurrent requests of one
// KubeClient open several connections but build one OpenSSL context, and rotated credentials get a new one.
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KubeClient } from '../../src/kube/client.js';
import { SharedTlsContext, type TlsRequestOptions } from '../../src/kube/tls-context.js';
import { selfSignedLoopbackCert as selfSigned } from '../support/self-signed-cert.js';

afterEach(() => vi.restoreAllMocks());

describe('shared TLS context', () => {
  it('serves concurrent requests over several connections with one context', async () => {
    const pki = selfSigned();
    const sockets = new Set<unknown>();
    const server = https.createServer({ ...pki, requestCert: true, ca: pki.cert }, (req, res) => {
      sockets.add(req.socket);
      // Answer only once all five are in, so that each is on a connection of its own.
      if (sockets.size >= 5) res.end('{}');
      else setTimeout(() => res.end('{}'), 200);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const built = vi.spyOn(tls, 'createSecureContext');
      const ca = Buffer.from(pki.cert);
      const client = new KubeClient({
        server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
        // Fresh Buffers on every call, as a loader that re-reads its files would hand out.
        apply: async (o) => {
          o.ca = Buffer.from(ca);
          o.cert = Buffer.from(pki.cert);
          o.key = Buffer.from(pki.key);
        },
      });
      await Promise.all(Array.from({ length: 5 }, () => client.get('/api')));
      expect(sockets.size).toBe(5);
      expect(built).toHaveBeenCalledTimes(1);
    } finally {
      server.close();
    }
  });

  it('builds a new context when the material changes, and leaves forms it does not handle to Node', () => {
    const a = selfSigned();
    const b = selfSigned();
    const shared = new SharedTlsContext();
    const opts = (p: { cert: string; key: string }): TlsRequestOptions => ({ ca: p.cert, cert: p.cert, key: p.key });
    const first = opts(a);
    const again = opts(a);
    const rotated = opts(b);
    shared.applyTo(first);
    shared.applyTo(again);
    shared.applyTo(rotated);
    expect(first.secureContext).toBeDefined();
    expect(again.secureContext).toBe(first.secureContext);
    expect(rotated.secureContext).not.toBe(first.secureContext);
    const list: TlsRequestOptions = { ca: [a.cert, b.cert] };
    shared.applyTo(list);
    expect(list.secureContext).toBeUndefined();
    // A key that is not the certificate's: no context here, the request fails at connect as before.
    const mismatched: TlsRequestOptions = { ca: a.cert, cert: a.cert, key: b.key };
    expect(() => shared.applyTo(mismatched)).not.toThrow();
    expect(mismatched.secureContext).toBeUndefined();
  });
});
