import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type https from 'node:https';
import { describe, expect, it } from 'vitest';
import { KubeconfigError, loadCredentials } from '../../src/kube/kubeconfig.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'kc-'));
function kc(name: string, body: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, body);
  return f;
}

describe('loadCredentials', () => {
  it('reads token users, inline CA data and the current context', async () => {
    const f = kc(
      'token.yaml',
      `apiVersion: v1
kind: Config
current-context: b
clusters:
- {name: a, cluster: {server: "https://a:6443"}}
- {name: b, cluster: {server: "https://b:6443", certificate-authority-data: ${Buffer.from('CA').toString('base64')}}}
users:
- {name: u, user: {token: secret-token}}
contexts:
- {name: a, context: {cluster: a, user: u}}
- {name: b, context: {cluster: b, user: u}}
`,
    );
    const c = loadCredentials(f);
    expect(c.server).toBe('https://b:6443');
    const o: https.RequestOptions = {};
    await c.apply(o);
    expect(o.ca?.toString()).toBe('CA');
    expect(o.headers).toEqual({ Authorization: 'Bearer secret-token' });
  });

  it('reads client certificates from files relative to the kubeconfig', async () => {
    writeFileSync(path.join(dir, 'c.crt'), 'CERT');
    writeFileSync(path.join(dir, 'c.key'), 'KEY');
    const f = kc(
      'cert.yaml',
      `current-context: x
clusters: [{name: x, cluster: {server: "https://x", insecure-skip-tls-verify: true}}]
users: [{name: x, user: {client-certificate: c.crt, client-key: c.key}}]
contexts: [{name: x, context: {cluster: x, user: x}}]
`,
    );
    const o: https.RequestOptions = {};
    await loadCredentials(f).apply(o);
    expect(o.cert?.toString()).toBe('CERT');
    expect(o.key?.toString()).toBe('KEY');
    expect(o.rejectUnauthorized).toBe(false);
  });

  it('explains broken kubeconfigs', () => {
    expect(() => loadCredentials(kc('noctx.yaml', 'clusters: []\n'))).toThrow(KubeconfigError);
    expect(() => loadCredentials(kc('noctx2.yaml', 'clusters: []\n'))).toThrow(/no current context/);
    expect(() =>
      loadCredentials(
        kc(
          'noserver.yaml',
          'current-context: a\ncontexts: [{name: a, context: {cluster: a}}]\nclusters: [{name: a, cluster: {}}]\n',
        ),
      ),
    ).toThrow(/cluster "a" has no server/);
    expect(() => loadCredentials(kc('bad.yaml', 'a: [\n'))).toThrow(/kubeconfig .*bad.yaml/);
  });
});
