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
    expect(await new Auth({ reviewer, nodesFor: () => ['n'], anonymous: false }).check(req)).toMatchObject({
      ok: false,
      status: 401,
    });
    expect(reviews).toHaveLength(0);
    const r = await new Auth({ reviewer, nodesFor: () => ['n'], anonymous: true }).check(req);
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

describe('kubelet authorization with pool nodes: the node that was called', () => {
  const pod = (ns: string, name: string, node: string) => ({ metadata: { namespace: ns, name }, spec: { nodeName: node } });
  const pods = [pod('team-a', 'web', 'vn-gpu'), pod('team-b', 'db', 'vn-cpu')] as never[];
  const served = ['vn-gpu', 'vn-cpu'];

  it("finds a pod's node for its logs, exec, attach and port-forward; node-wide paths need every served node", async () => {
    const { targetNodes } = await import('../../src/kubelet/auth.js');
    expect(targetNodes('/containerLogs/team-a/web/c', pods, served)).toEqual(['vn-gpu']);
    expect(targetNodes('/exec/team-b/db/c', pods, served)).toEqual(['vn-cpu']);
    expect(targetNodes('/portForward/team-a/web', pods, served)).toEqual(['vn-gpu']);
    expect(targetNodes('/attach/team-b/db/uid-1/c', pods, served)).toEqual(['vn-cpu']);
    expect(targetNodes('/stats/summary', pods, served)).toEqual(served);
    // A pod this process does not serve (the request ends in 404) gives no node a caller could pick.
    expect(targetNodes('/exec/team-a/unknown/c', pods, served)).toEqual(served);
    // A malformed escape from an authenticated caller is no pod, not an exception.
    expect(targetNodes('/exec/team-a/%zz/c', pods, served)).toEqual(served);
  });

  it('asks the upper API server about the pool node the pod is on, and refuses a caller allowed only on another', async () => {
    const { KubeletAuth: Auth, targetNodes } = await import('../../src/kubelet/auth.js');
    const asked: string[] = [];
    // The caller's rights: nodes/proxy on vn-cpu only (e.g. a RoleBinding with resourceNames).
    const reviewer = {
      create: async (_p: string, body: { spec: { resourceAttributes: { name: string } } }) => {
        asked.push(body.spec.resourceAttributes.name);
        return { status: { allowed: body.spec.resourceAttributes.name === 'vn-cpu' } };
      },
    } as never;
    const auth = new Auth({ reviewer, nodesFor: (p) => targetNodes(p, pods, served), anonymous: true });
    const req = (url: string) => ({ socket: { authorized: false }, headers: {}, method: 'POST', url }) as never;
    expect(await auth.check(req('/exec/team-b/db/c?command=sh'))).toMatchObject({ ok: true });
    expect(asked).toEqual(['vn-cpu']);
    const refused = await auth.check(req('/exec/team-a/web/c?command=sh'));
    expect(refused).toMatchObject({ ok: false, status: 403 });
    expect((refused as { message: string }).message).toContain('name=vn-gpu');
    // Node-wide: allowed on one pool node is not enough.
    expect(await auth.check(req('/stats/summary'))).toMatchObject({ ok: false, status: 403 });
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
    const auth = new Auth({ reviewer, nodesFor: () => ['n'], anonymous: false, maxPendingReviews: 3 });
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
    const r = await new Auth({ reviewer, nodesFor: () => ['n'], anonymous: false }).check(tokenReq('t'));
    expect(r).toMatchObject({ ok: false, status: 500 });
    if (r.ok) throw new Error('unreachable');
    expect(r.message).not.toMatch(/ECONNREFUSED|10\.0\.0\.1|tokenreviews/);
    expect(r.detail).toMatch(/ECONNREFUSED/);
  });
});
