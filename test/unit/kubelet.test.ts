import { describe, expect, it } from 'vitest';
import { subresourcesFor, verbFor } from '../../src/kubelet/auth.js';
import { parseStreamRequest } from '../../src/kubelet/streams.js';
import { logOptions } from '../../src/kubelet/logs.js';
import { streamQuery } from '../../provider/workload/streams.js';
import { InvalidInputError } from '../../src/errors.js';

describe('kubelet authorization attributes', () => {
  it.each([
    ['/stats/summary', ['stats']],
    ['/metrics/resource', ['metrics']],
    ['/metrics', ['metrics']],
    ['/logs/', ['log']],
    ['/containerLogs/ns/p/c', ['proxy']],
    ['/exec/ns/p/c', ['proxy']],
    ['/portForward/ns/p', ['proxy']],
    ['/healthz', ['healthz', 'proxy']],
    ['/pods', ['pods', 'proxy']],
    ['/runningpods/', ['pods', 'proxy']],
    ['/configz', ['configz', 'proxy']],
  ])('%s → %j', (path, want) => expect(subresourcesFor(path)).toEqual(want));

  it('maps methods to verbs like the kubelet', () => {
    expect(verbFor('GET')).toBe('get');
    expect(verbFor('HEAD')).toBe('get');
    expect(verbFor('POST')).toBe('create');
    expect(verbFor('PUT')).toBe('update');
    expect(verbFor('PATCH')).toBe('patch');
    expect(verbFor('DELETE')).toBe('delete');
  });
});

describe('streaming requests', () => {
  it('parses exec in the 3- and 4-segment forms with repeated commands', () => {
    const a = parseStreamRequest('/exec/ns/pod/app?command=sh&command=-c&command=echo%20hi&input=1&output=1&error=1&tty=1');
    expect(a).toEqual({
      kind: 'exec',
      namespace: 'ns',
      pod: 'pod',
      params: { container: 'app', command: ['sh', '-c', 'echo hi'], stdin: true, stdout: true, stderr: true, tty: true },
    });
    const b = parseStreamRequest('/exec/ns/pod/0b9c-uid/app?command=ls&output=1');
    expect(b?.params).toMatchObject({ container: 'app', command: ['ls'], stdin: false, stdout: true, stderr: false, tty: false });
  });
  it('parses attach and portForward, with and without the UID', () => {
    expect(parseStreamRequest('/attach/ns/pod/app?output=1')?.kind).toBe('attach');
    expect(parseStreamRequest('/portForward/ns/pod')).toMatchObject({ kind: 'portforward', namespace: 'ns', pod: 'pod' });
    expect(parseStreamRequest('/portForward/ns/pod/uid')).toMatchObject({ kind: 'portforward' });
    expect(parseStreamRequest('/exec/ns/pod')).toBeUndefined();
    expect(parseStreamRequest('/containerLogs/ns/pod/c')).toBeUndefined();
  });
  it('translates kubelet flags to the API server query', () => {
    expect(
      streamQuery('exec', { container: 'app', command: ['sh', '-c', 'x'], stdin: true, stdout: true, stderr: false, tty: true }),
    ).toBe('?command=sh&command=-c&command=x&container=app&stdin=true&stdout=true&tty=true');
    expect(streamQuery('attach', { container: 'app', command: [], stdin: false, stdout: true, stderr: true, tty: false })).toBe(
      '?container=app&stdout=true&stderr=true',
    );
    expect(streamQuery('portforward', { command: [], stdin: false, stdout: false, stderr: false, tty: false })).toBe('');
  });
});

describe('log options', () => {
  it('keeps tailLines=0 and parses the rest', () => {
    expect(
      logOptions({ tailLines: '0', follow: 'true', timestamps: 'true', limitBytes: '10', sinceSeconds: '60' }),
    ).toMatchObject({ tailLines: 0, follow: true, timestamps: true, limitBytes: 10, sinceSeconds: 60 });
  });
  it('rejects bad values with the parameter name', () => {
    expect(() => logOptions({ tailLines: '-1' })).toThrow(InvalidInputError);
    expect(() => logOptions({ limitBytes: 'lots' })).toThrow(/invalid limitBytes "lots"/);
    expect(() => logOptions({ sinceTime: 'yesterday' })).toThrow(/RFC3339/);
  });
});

describe('kubelet authentication without credentials', () => {
  it('answers 401 unless anonymous access is enabled, then authorizes system:anonymous', async () => {
    const { KubeletAuth: Auth } = await import('../../src/kubelet/auth.js');
    const reviews: unknown[] = [];
    const reviewer = {
      create: async (_p: string, body: unknown) => (reviews.push(body), { status: { allowed: false } }),
    } as never;
    const req = { socket: { authorized: false }, headers: {}, method: 'GET', url: '/pods' } as never;
    expect(await new Auth({ reviewer, nodeName: 'n', anonymous: false }).check(req)).toMatchObject({ ok: false, status: 401 });
    expect(reviews).toHaveLength(0);
    const r = await new Auth({ reviewer, nodeName: 'n', anonymous: true }).check(req);
    expect(r).toMatchObject({ ok: false, status: 403 });
    expect(reviews[0]).toMatchObject({
      spec: {
        user: 'system:anonymous',
        groups: ['system:unauthenticated'],
        resourceAttributes: { verb: 'get', resource: 'nodes', subresource: 'pods', name: 'n' },
      },
    });
  });
});

describe('kubelet authentication under a flood of unknown bearer tokens', () => {
  const tokenReq = (token: string) =>
    ({ socket: { authorized: false }, headers: { authorization: `Bearer ${token}` }, method: 'GET', url: '/pods' }) as never;

  it('lets a bounded number of TokenReviews wait and refuses the rest with 429 at once', async () => {
    const { KubeletAuth: Auth, REVIEWS_BUSY_MESSAGE } = await import('../../src/kubelet/auth.js');
    const release: Array<() => void> = [];
    let reviews = 0;
    const reviewer = {
      create: async () => {
        reviews++;
        await new Promise<void>((r) => release.push(r));
        return { status: { authenticated: false } };
      },
    } as never;
    const auth = new Auth({ reviewer, nodeName: 'n', anonymous: false, maxPendingReviews: 3 });
    const first = Array.from({ length: 3 }, (_, i) => auth.check(tokenReq(`fresh-${i}`)));
    await new Promise((r) => setImmediate(r));
    expect(auth.reviewsPending).toBe(3);
    // Beyond the bound: refused without a review, and the answer says why.
    const refused = await auth.check(tokenReq('fresh-overflow'));
    expect(refused).toMatchObject({ ok: false, status: 429, message: REVIEWS_BUSY_MESSAGE });
    expect(reviews).toBe(3);
    for (const r of release) r();
    for (const r of await Promise.all(first)) expect(r).toMatchObject({ ok: false, status: 401 });
    expect(auth.reviewsPending).toBe(0);
    // A token already reviewed is answered from the cache, whatever waits.
    expect(await auth.check(tokenReq('fresh-0'))).toMatchObject({ ok: false, status: 401 });
    expect(reviews).toBe(3);
  });

  it('keeps internal error text of a failed review out of the answer (detail is for the log)', async () => {
    const { KubeletAuth: Auth } = await import('../../src/kubelet/auth.js');
    const reviewer = {
      create: async () => {
        throw new Error('POST /apis/authentication.k8s.io/v1/tokenreviews: connect ECONNREFUSED 10.0.0.1:6443');
      },
    } as never;
    const r = await new Auth({ reviewer, nodeName: 'n', anonymous: false }).check(tokenReq('t'));
    expect(r).toMatchObject({ ok: false, status: 500 });
    if (r.ok) throw new Error('unreachable');
    expect(r.message).not.toMatch(/ECONNREFUSED|10\.0\.0\.1|tokenreviews/);
    expect(r.detail).toMatch(/ECONNREFUSED/);
  });
});
