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
