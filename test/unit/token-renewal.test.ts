// fedlet's own ServiceAccount token renews itself before it expires, and is kept across restarts.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type https from 'node:https';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { RenewingToken, renewAt, tokenFacts } from '../../src/kube/token-renewal.js';

const log = pino({ level: 'silent' });
const jwt = (claims: Record<string, unknown>) =>
  ['e30', Buffer.from(JSON.stringify(claims)).toString('base64url'), 'sig'].join('.');
const sa = 'system:serviceaccount:fedlet-system:fedlet';
const base = (token: string) => ({
  server: 'https://lower:6443',
  async apply(o: https.RequestOptions) {
    o.headers = { ...o.headers, Authorization: `Bearer ${token}` };
  },
});
const bearer = async (c: RenewingToken) => {
  const o: https.RequestOptions = { headers: {} };
  await c.apply(o);
  return (o.headers as Record<string, string>).Authorization ?? '';
};

describe('ServiceAccount token facts', () => {
  it('reads namespace, account and lifetime; ignores tokens without an expiry or of a user', () => {
    const t = jwt({ sub: sa, iat: 1000, exp: 2000 });
    expect(tokenFacts(t)).toEqual({
      namespace: 'fedlet-system',
      serviceAccount: 'fedlet',
      issuedAt: 1_000_000,
      expiresAt: 2_000_000,
    });
    expect(renewAt(tokenFacts(t)!)).toBe(1_800_000);
    expect(tokenFacts(jwt({ sub: sa, iat: 1000 }))).toBeUndefined(); // a legacy token that never expires
    expect(tokenFacts(jwt({ sub: 'alice', iat: 1, exp: 2 }))).toBeUndefined();
    expect(tokenFacts('opaque-token')).toBeUndefined();
  });
});

describe('RenewingToken', () => {
  it('asks for a token of the same lifetime for its own account when 80% is used, uses it and keeps it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'renew-'));
    const file = path.join(dir, 'lower-token');
    const now = Date.now();
    const s = Math.floor(now / 1000);
    const old = jwt({ sub: sa, iat: s - 1000, exp: s + 100 }); // 91% used: due now
    const fresh = jwt({ sub: sa, iat: s, exp: s + 1100 });
    const c = new RenewingToken(base(old), { file, what: 'lower cluster x', log });
    expect(await c.init()).toBe(true);
    expect(await bearer(c)).toBe(`Bearer ${old}`);
    const requests: Array<{ path: string; body: unknown; auth: string }> = [];
    const abort = new AbortController();
    const client = {
      create: async <T>(p: string, body: unknown) => {
        requests.push({ path: p, body, auth: await bearer(c) });
        abort.abort(); // one renewal is enough for the test
        return { status: { token: fresh } } as T;
      },
    };
    await c.run(client, abort.signal);
    expect(requests).toEqual([
      {
        path: '/api/v1/namespaces/fedlet-system/serviceaccounts/fedlet/token',
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 1100 } },
        auth: `Bearer ${old}`, // asked with the token it had
      },
    ]);
    expect(await bearer(c)).toBe(`Bearer ${fresh}`);
    expect(readFileSync(file, 'utf8').trim()).toBe(fresh);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // A restart with the old kubeconfig uses the newer kept token.
    const again = new RenewingToken(base(old), { file, what: 'lower cluster x', log });
    await again.init();
    expect(await bearer(again)).toBe(`Bearer ${fresh}`);
    // A kept token of another account, or an older one, is not used.
    writeFileSync(file, jwt({ sub: 'system:serviceaccount:other:x', iat: s, exp: s + 5000 }));
    const third = new RenewingToken(base(old), { file, what: 'lower cluster x', log });
    await third.init();
    expect(await bearer(third)).toBe(`Bearer ${old}`);
  });

  it('leaves a token that never expires (or a client certificate) alone', async () => {
    const c = new RenewingToken(base(jwt({ sub: sa, iat: 1 })), { what: 'lower cluster x', log });
    expect(await c.init()).toBe(false);
    const cert = new RenewingToken({ server: 'https://x', apply: async () => undefined }, { what: 'lower cluster x', log });
    expect(await cert.init()).toBe(false);
  });
});

describe('a renewed lower token written back into the kubeconfig Secret', () => {
  const kubeconfig = (token: string) =>
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: lower, cluster: {server: "https://lower:6443"}}]',
      `users: [{name: fedlet, user: {token: "${token}"}}, {name: other, user: {token: "${jwt({ sub: 'system:serviceaccount:x:y', iat: 1, exp: 2 })}"}}]`,
      'contexts: [{name: lower, context: {cluster: lower, user: fedlet}}]',
      'current-context: lower',
    ].join('\n');
  const old = jwt({ sub: sa, iat: 1000, exp: 2000 });
  const fresh = jwt({ sub: sa, iat: 1800, exp: 2800 });

  it("replaces only the same account's older token; leaves other users, and never goes back to an older token", async () => {
    const { withRenewedToken } = await import('../../src/kube/kubeconfig-secret.js');
    const yaml = (await import('js-yaml')).default;
    const out = withRenewedToken(kubeconfig(old), fresh);
    const doc = yaml.load(out!) as { users: Array<{ name: string; user: { token: string } }>; clusters: unknown[] };
    expect(doc.users.find((u) => u.name === 'fedlet')?.user.token).toBe(fresh);
    expect(doc.users.find((u) => u.name === 'other')?.user.token).not.toBe(fresh);
    expect(doc.clusters).toHaveLength(1);
    expect(withRenewedToken(kubeconfig(fresh), old)).toBeUndefined(); // older: kept as it is
    expect(withRenewedToken(kubeconfig(old), jwt({ sub: 'system:serviceaccount:a:b', iat: 1, exp: 9999 }))).toBeUndefined();
    expect(withRenewedToken(kubeconfig(old), 'opaque')).toBeUndefined();
  });

  it('writes the Secret the kubeconfig is mounted from, under its key, and leaves a Secret without it alone', async () => {
    const { writeTokenBack } = await import('../../src/kube/kubeconfig-secret.js');
    const { FakeKube } = await import('./support/fake-kube.js');
    const api = new FakeKube();
    const b64 = (t: string) => Buffer.from(t).toString('base64');
    api.seed('/api/v1/namespaces/fedlet-system/secrets', {
      metadata: { name: 'lower-kc', namespace: 'fedlet-system' },
      data: { kubeconfig: b64(kubeconfig(old)), other: b64('x') },
    } as never);
    const ref = { namespace: 'fedlet-system', name: 'lower-kc', key: 'kubeconfig' };
    expect(await writeTokenBack(api, ref, fresh, log)).toBe(true);
    const s = await api.get<{ data: Record<string, string> }>('/api/v1/namespaces/fedlet-system/secrets/lower-kc');
    expect(Buffer.from(s.data.kubeconfig!, 'base64').toString()).toContain(fresh);
    expect(s.data.other).toBe(b64('x'));
    expect(await writeTokenBack(api, ref, fresh, log)).toBe(false); // already there: no write
    expect(await writeTokenBack(api, { ...ref, key: 'missing' }, fresh, log)).toBe(false);
  });

  it('RenewingToken hands each renewal to onRenewed, and a failing write-back does not stop renewals', async () => {
    const now = Date.now();
    const s = Math.floor(now / 1000);
    const due = jwt({ sub: sa, iat: s - 1000, exp: s + 100 });
    const next = jwt({ sub: sa, iat: s, exp: s + 1100 });
    const written: string[] = [];
    const c = new RenewingToken(base(due), {
      what: 'lower cluster x',
      log,
      onRenewed: async (t) => {
        written.push(t);
        throw new Error('secrets "lower-kc" is forbidden');
      },
    });
    expect(await c.init()).toBe(true);
    const ac = new AbortController();
    const client = { create: async () => ({ status: { token: next } }) } as never;
    const run = c.run(client, ac.signal);
    for (let i = 0; i < 50 && !written.length; i++) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    await run;
    expect(written).toEqual([next]);
    expect(await bearer(c)).toBe(`Bearer ${next}`);
  });
});
