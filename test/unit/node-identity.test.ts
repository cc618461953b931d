import type https from 'node:https';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { KubeClient } from '../../src/kube/client.js';
import { createSelfSigned, newKeyPair } from '../../src/kubelet/x509.js';
import { NODE_CLIENT_SIGNER, NodeIdentity } from '../../src/node/node-identity.js';

interface CsrBody {
  metadata: { name: string; labels: Record<string, string> };
  spec: { signerName: string; usages: string[]; request: string };
}

/** fedlet's upper client: records the CSR and answers its read with an issued certificate. */
function fakeUpper(issued: string) {
  const created: CsrBody[] = [];
  const upper = {
    credentials: {
      server: 'https://upper.example:6443',
      apply: async (o: https.RequestOptions) => {
        o.ca = 'UPPER-CA';
        o.headers = { ...o.headers, Authorization: 'Bearer sa-token' };
      },
    },
    create: async (_path: string, body: CsrBody) => {
      created.push(body);
      return body;
    },
    get: async () => ({
      metadata: { name: created[0]?.metadata.name, resourceVersion: '1' },
      status: { certificate: Buffer.from(issued).toString('base64') },
    }),
  } as unknown as KubeClient;
  return { upper, created };
}

describe('NodeIdentity (virtual node client certificate)', () => {
  it('requests system:node:<node> through a kube-apiserver-client-kubelet CSR; its client then authenticates with that certificate only', async () => {
    const cert = createSelfSigned(
      newKeyPair(),
      { commonName: 'system:node:fedlet-eu', organizations: ['system:nodes'] },
      { dns: [], ips: [] },
    );
    const { upper, created } = fakeUpper(cert);
    const id = new NodeIdentity({ upper, nodeName: 'fedlet-eu', clientOptions: {}, log: pino({ level: 'silent' }) });
    expect(id.pending()).toMatch(/not been requested/);
    const abort = new AbortController();
    const running = id.run(abort.signal);
    for (let i = 0; i < 100 && id.pending(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(id.pending()).toBeUndefined();
    expect(created).toHaveLength(1);
    expect(created[0]!.spec.signerName).toBe(NODE_CLIENT_SIGNER);
    expect(created[0]!.spec.usages).toEqual(['digital signature', 'client auth']);
    expect(created[0]!.metadata.labels).toEqual({ 'fedlet.io/node-client': 'fedlet-eu' });
    const opts = await id.client.httpOptions('POST', '/api/v1/namespaces/a/serviceaccounts/b/token');
    expect(opts.cert).toBe(cert);
    expect(opts.key).toContain('PRIVATE KEY');
    expect(opts.ca).toBe('UPPER-CA');
    expect((opts.headers as Record<string, string>).Authorization).toBeUndefined();
    abort.abort();
    await running;
  });
});
