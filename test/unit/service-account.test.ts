import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { dependencyRefs, translatePod, unsupportedField } from '../../provider/workload/translate.js';
import {
  apiServerEnv,
  dueTokens,
  lowerIdentityRefusal,
  nextRefresh,
  refreshAt,
  tokenRequests,
  tokenSecretName,
  type ServiceAccountOptions,
} from '../../provider/configuration/service-account.js';
import { NODE_GRAPH_RETRY_MS, PodIdentityError, TokenSecrets } from '../../provider/configuration/token-secrets.js';
import { KubeApiError, type KubeClient } from '../../src/kube/client.js';
import { loadConfig, parseHostPort, parseNamespaceList } from '../../src/config.js';
import type { Pod, Volume } from '../../src/kube/types.js';

const SA_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
/** The volume the upper ServiceAccount admission adds (kube-api-access-*), as the API server stores it. */
const kubeApiAccess = (): Volume => ({
  name: 'kube-api-access-abcde',
  projected: {
    defaultMode: 420,
    sources: [
      { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
      { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      {
        downwardAPI: {
          items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
        },
      },
    ],
  },
});
/** An explicit projection: a token for Vault next to a ConfigMap and pod labels. */
const vault = (): Volume => ({
  name: 'vault',
  projected: {
    defaultMode: 288,
    sources: [
      { serviceAccountToken: { audience: 'vault', expirationSeconds: 600, path: 'vault-token' } },
      { configMap: { name: 'vault-cfg' } },
      { downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
    ],
  },
});
const pod = (volumes: Volume[], annotations?: Record<string, string>): Pod => ({
  metadata: { name: 'api-0', namespace: 'team-a', uid: 'uid-1', ...(annotations ? { annotations } : {}) },
  spec: {
    serviceAccountName: 'robot',
    containers: [
      {
        name: 'c',
        image: 'img',
        env: [{ name: 'KUBERNETES_SERVICE_PORT', value: '9999' }],
        volumeMounts: volumes.map((v) => ({ name: v.name, mountPath: v.name === 'vault' ? '/vault' : SA_PATH, readOnly: true })),
      },
    ],
    initContainers: [{ name: 'init', image: 'img' }],
    volumes,
  },
});
const ctx = (sa: Partial<ServiceAccountOptions> = {}) => ({
  nodeName: 'fedlet-eu',
  clusterName: 'eu',
  lowerNamespace: 'team-a-eu',
  allowDaemonSetPods: false,
  serviceAccounts: { lowerIdentityNamespaces: new Set<string>(), upperAPIServer: { host: '10.0.0.1', port: 6443 }, ...sa },
});
const secret = tokenSecretName(pod([]));

describe('service-account token volumes (upper identity)', () => {
  it.each<[string, Volume, unknown]>([
    [
      'kube-api-access-*: token, upper CA and upper namespace from the token Secret, same paths and mode',
      kubeApiAccess(),
      {
        name: 'kube-api-access-abcde',
        projected: {
          defaultMode: 420,
          sources: [
            { secret: { name: secret, items: [{ key: 'token-0', path: 'token' }] } },
            { secret: { name: secret, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { secret: { name: secret, items: [{ key: 'namespace', path: 'namespace' }] } },
          ],
        },
      },
    ],
    [
      'explicit audience projection: other sources kept as they are',
      vault(),
      {
        name: 'vault',
        projected: {
          defaultMode: 288,
          sources: [
            { secret: { name: secret, items: [{ key: 'token-0', path: 'vault-token' }] } },
            { configMap: { name: 'vault-cfg' } },
            { downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
          ],
        },
      },
    ],
    [
      'a kube-root-ca.crt source without items, a namespace item mixed with others',
      {
        name: 'mixed',
        projected: {
          sources: [
            { configMap: { name: 'kube-root-ca.crt' } },
            { serviceAccountToken: { path: 't' } },
            {
              downwardAPI: {
                items: [
                  { path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' }, mode: 256 },
                  { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
                ],
              },
            },
          ],
        },
      },
      {
        name: 'mixed',
        projected: {
          sources: [
            { secret: { name: secret, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { secret: { name: secret, items: [{ key: 'token-0', path: 't' }] } },
            { secret: { name: secret, items: [{ key: 'namespace', path: 'ns', mode: 256 }] } },
            { downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } },
          ],
        },
      },
    ],
    [
      'a volume without a token source is untouched',
      { name: 'cm', configMap: { name: 'kube-root-ca.crt' } },
      { name: 'cm', configMap: { name: 'kube-root-ca.crt' } },
    ],
  ])('%s', (_name, volume, want) => {
    const l = translatePod(pod([volume]), ctx());
    expect(l.spec.volumes).toEqual([want]);
    expect(l.spec.containers[0]!.volumeMounts?.map((m) => m.name)).toEqual([volume.name]);
    expect(l.spec.serviceAccountName).toBe('default');
    expect(l.spec.automountServiceAccountToken).toBe(false);
  });

  it('keys one token per distinct audience and lifetime, in pod order', () => {
    const p = pod([kubeApiAccess(), vault(), { ...kubeApiAccess(), name: 'again' }]);
    expect(tokenRequests(p)).toEqual([
      { key: 'token-0', expirationSeconds: 3607 },
      { key: 'token-1', audience: 'vault', expirationSeconds: 600 },
    ]);
    const l = translatePod(p, ctx());
    const tokenItem = (v: Volume | undefined) =>
      (v?.projected?.sources?.[0] as { secret: { items: Array<{ key: string }> } }).secret.items[0]!.key;
    expect(l.spec.volumes!.map(tokenItem)).toEqual(['token-0', 'token-1', 'token-0']);
  });

  it('points in-cluster clients at the upper API server; the container’s own values win', () => {
    const l = translatePod(pod([kubeApiAccess()]), ctx());
    const env = (i: number) =>
      Object.fromEntries((i ? l.spec.initContainers![0]! : l.spec.containers[0]!).env!.map((e) => [e.name, e.value]));
    expect(env(0)).toMatchObject({
      KUBERNETES_SERVICE_HOST: '10.0.0.1',
      KUBERNETES_SERVICE_PORT: '9999',
      KUBERNETES_PORT: 'tcp://10.0.0.1:6443',
    });
    expect(env(1)).toMatchObject({
      KUBERNETES_SERVICE_HOST: '10.0.0.1',
      KUBERNETES_SERVICE_PORT: '6443',
      KUBERNETES_SERVICE_PORT_HTTPS: '6443',
    });
    expect(l.spec.containers[0]!.env!.filter((e) => e.name === 'KUBERNETES_SERVICE_PORT')).toHaveLength(1);
  });

  it('without an upper address, in-cluster clients find no API server rather than the lower one', () => {
    const l = translatePod(pod([kubeApiAccess()]), ctx({ upperAPIServer: undefined }));
    const env = Object.fromEntries(l.spec.initContainers![0]!.env!.map((e) => [e.name, e.value]));
    expect(env.KUBERNETES_SERVICE_HOST).toBe('');
    expect(env.KUBERNETES_SERVICE_PORT).toBe('');
    expect(apiServerEnv({ host: 'fd00::1', port: 443 }).find((e) => e.name === 'KUBERNETES_PORT')?.value).toBe(
      'tcp://[fd00::1]:443',
    );
  });

  it('a pod without tokens and without an address keeps its env', () => {
    const p = pod([]);
    p.spec.automountServiceAccountToken = false;
    const l = translatePod(p, ctx({ upperAPIServer: undefined }));
    expect(l.spec.initContainers![0]!.env).toBeUndefined();
  });

  it('copies the token volume’s other ConfigMaps but never kube-root-ca.crt (upper CA comes with the token)', () => {
    expect([...dependencyRefs(pod([kubeApiAccess(), vault()])).configMaps.keys()]).toEqual(['vault-cfg']);
  });

  it('names the Secret after the pod and its uid', () => {
    expect(secret).toMatch(/^api-0-fedlet-token-[0-9a-f]{8}$/);
    expect(tokenSecretName({ ...pod([]), metadata: { name: 'api-0', uid: 'uid-2' } })).not.toBe(secret);
  });
});

describe('lower identity', () => {
  it.each<[string, Pod, Partial<ServiceAccountOptions>]>([
    ['by pod annotation', pod([kubeApiAccess()], { 'fedlet.io/service-account': 'lower' }), {}],
    ['by namespace', pod([kubeApiAccess()]), { lowerIdentityNamespaces: new Set(['team-a']) }],
  ])('%s: same-named account, projection as is, no env', (_n, p, sa) => {
    const l = translatePod(p, ctx(sa));
    expect(l.spec.serviceAccountName).toBe('robot');
    expect(l.spec.automountServiceAccountToken).toBeUndefined();
    expect(l.spec.volumes).toEqual([kubeApiAccess()]);
    expect(l.spec.initContainers![0]!.env).toBeUndefined();
  });
  it('the pod annotation "upper" wins over the namespace list', () => {
    const l = translatePod(
      pod([kubeApiAccess()], { 'fedlet.io/service-account': 'upper' }),
      ctx({ lowerIdentityNamespaces: new Set(['team-a']) }),
    );
    expect(l.spec.serviceAccountName).toBe('default');
  });
  it('refuses an unknown mode, naming the annotation', () => {
    expect(unsupportedField(pod([], { 'fedlet.io/service-account': 'both' }), ctx())).toEqual({
      field: 'metadata.annotations[fedlet.io/service-account]',
      message: 'pod team-a/api-0: annotation fedlet.io/service-account="both" must be "upper" or "lower"',
    });
    expect(unsupportedField(pod([], { 'fedlet.io/service-account': 'lower' }), ctx())).toBeUndefined();
  });
  it.each<[string, Record<string, string>, string[], boolean, boolean]>([
    ['annotation alone, lower namespace silent', { 'fedlet.io/service-account': 'lower' }, [], false, true],
    ['annotation, lower admin allows', { 'fedlet.io/service-account': 'lower' }, [], true, false],
    ['annotation, operator lists the namespace', { 'fedlet.io/service-account': 'lower' }, ['team-a'], false, false],
    ['namespace list alone', {}, ['team-a'], false, false],
    ['operator lists another namespace', { 'fedlet.io/service-account': 'lower' }, ['team-b'], false, true],
    ['upper identity needs no allowance', {}, [], false, false],
    ['annotation upper over the list', { 'fedlet.io/service-account': 'upper' }, ['team-a'], false, false],
  ])('lower identity only where allowed: %s', (_n, annotations, listed, allows, refused) => {
    const msg = lowerIdentityRefusal(
      pod([kubeApiAccess()], annotations),
      { lowerIdentityNamespaces: new Set(listed) },
      { namespace: 'team-a-eu', allows, clusterName: 'eu', nodeName: 'fedlet-eu' },
    );
    expect(msg !== undefined).toBe(refused);
    if (refused) expect(msg).toContain('kubectl label namespace team-a-eu fedlet.io/lower-identity=fedlet-eu');
  });
});

describe('refresh schedule (as the kubelet: 80% of the lifetime, at most 24 h)', () => {
  const h = 3600_000;
  it.each([
    ['10 minutes', 0, 10 * 60_000, 8 * 60_000],
    ['1 hour', 1000, 1000 + h, 1000 + 0.8 * h],
    ['1 year (capped at 24 h)', 0, 365 * 24 * h, 24 * h],
    ['expired already', 0, 0, 0],
  ])('a token of %s', (_n, issuedAt, expiresAt, want) => expect(refreshAt({ issuedAt, expiresAt })).toBe(want));

  it('finds the tokens due now and the next refresh', () => {
    const reqs = [
      { key: 'token-0', expirationSeconds: 3600 },
      { key: 'token-1', audience: 'v', expirationSeconds: 600 },
    ];
    const issued = { 'token-0': { issuedAt: 0, expiresAt: h }, 'token-1': { issuedAt: 0, expiresAt: 600_000 } };
    expect(dueTokens(reqs, issued, 0)).toEqual([]);
    expect(dueTokens(reqs, issued, 480_000)).toEqual(['token-1']);
    expect(dueTokens(reqs, issued, 0.8 * h)).toEqual(['token-0', 'token-1']);
    expect(dueTokens(reqs, { 'token-0': issued['token-0'] }, 0)).toEqual(['token-1']);
    expect(nextRefresh(reqs, issued)).toBe(480_000);
    expect(nextRefresh(reqs, {})).toBeUndefined();
  });
});

/** Records calls; answers TokenRequests with a token whose lifetime is the requested one on the fake clock. */
function fakeClients(clock: { now: number }, opts: { tokenStatus?: number; refuseTokens?: number } = {}) {
  const calls: string[] = [];
  const bodies: unknown[] = [];
  let n = 0;
  let rv = 0;
  let refusals = opts.refuseTokens ?? 0;
  const upper = {
    create: async (path: string, body: { spec: { expirationSeconds: number } }) => {
      calls.push(`upper POST ${path}`);
      // As the Node authorizer answers until its graph has the pod's binding.
      if (refusals-- > 0)
        throw new KubeApiError(
          403,
          'Forbidden',
          `POST ${path}: 403 no relationship found between node 'fedlet-eu' and this object`,
          'POST',
          path,
        );
      if (opts.tokenStatus)
        throw new KubeApiError(
          opts.tokenStatus,
          'NotFound',
          `POST ${path}: ${opts.tokenStatus} serviceaccounts "robot" not found`,
          'POST',
          path,
        );
      return {
        spec: body.spec,
        status: {
          token: `tok-${++n}`,
          expirationTimestamp: new Date(clock.now + body.spec.expirationSeconds * 1000).toISOString(),
        },
      };
    },
    get: async (path: string) => {
      calls.push(`upper GET ${path}`);
      return { metadata: { resourceVersion: '7' }, data: { 'ca.crt': 'UPPER-CA' } };
    },
  } as unknown as KubeClient;
  const respond = (method: string) => async (path: string, body: { metadata?: object }) => {
    calls.push(`lower ${method} ${path}`);
    bodies.push(body);
    return { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } };
  };
  const lower = { create: respond('POST'), patch: respond('PATCH'), replace: respond('PUT') } as unknown as KubeClient;
  return { upper, lower, calls, bodies };
}

/** No lower namespace is readable yet: the Secrets watch has nothing to list. */
const noNamespaces = { current: () => [], onChange: () => undefined, ready: async () => undefined, refused: async () => false };

describe('TokenSecrets (fake clients, injected clock)', () => {
  const setup = (opts: { tokenStatus?: number; refuseTokens?: number } = {}) => {
    const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
    const f = fakeClients(clock, opts);
    const events: string[] = [];
    const waits: number[] = [];
    const ts = new TokenSecrets({
      upper: f.upper,
      lower: f.lower,
      nodeName: 'fedlet-eu',
      clusterName: 'eu',
      serviceAccounts: { lowerIdentityNamespaces: new Set() },
      readable: noNamespaces,
      caVersion: () => '7',
      onDue: () => undefined,
      onEvent: (e) => events.push(e.reason),
      log: pino({ level: 'silent' }),
      now: () => clock.now,
      sleep: async (ms) => void waits.push(ms),
    });
    return { ...f, clock, events, ts, waits };
  };

  it('issues once, does nothing until 80% of the shortest lifetime, then refreshes only the due token', async () => {
    const { ts, calls, bodies, clock, events } = setup();
    const p = pod([kubeApiAccess(), vault()]);
    await ts.ensure(p, 'team-a-eu', true);
    expect(calls).toEqual([
      'upper GET /api/v1/namespaces/team-a/configmaps/kube-root-ca.crt',
      'upper POST /api/v1/namespaces/team-a/serviceaccounts/robot/token',
      'upper POST /api/v1/namespaces/team-a/serviceaccounts/robot/token',
      'lower POST /api/v1/namespaces/team-a-eu/secrets',
    ]);
    const created = bodies[0] as { metadata: { labels: Record<string, string> }; data: Record<string, string> };
    expect(created.metadata.labels).toMatchObject({ 'fedlet.io/origin': 'fedlet-eu', 'fedlet.io/upper-uid': 'uid-1' });
    const data = Object.fromEntries(Object.entries(created.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
    expect(data).toEqual({ 'token-0': 'tok-1', 'token-1': 'tok-2', 'ca.crt': 'UPPER-CA', namespace: 'team-a' });
    expect(events).toEqual(['UpperAPIServerAddressUnset']);
    calls.length = 0;
    clock.now += 7 * 60_000;
    await ts.ensure(p, 'team-a-eu', false);
    expect(calls).toEqual([]);
    clock.now += 60_000; // 8 minutes: 80% of the 600 s audience token
    await ts.ensure(p, 'team-a-eu', false);
    expect(calls).toEqual([
      'upper POST /api/v1/namespaces/team-a/serviceaccounts/robot/token',
      `lower PATCH /api/v1/namespaces/team-a-eu/secrets/${secret}`,
    ]);
    const patch = bodies[1] as { metadata: { resourceVersion: string }; data: Record<string, string> };
    expect(Object.keys(patch.data)).toEqual(['token-1']);
    expect(patch.metadata.resourceVersion).toBe('1');
  });

  it('a missing upper service account becomes a status reason; for a running pod an event and a retry', async () => {
    const { ts, events } = setup({ tokenStatus: 404 });
    const p = pod([kubeApiAccess()]);
    await expect(ts.ensure(p, 'team-a-eu', true)).rejects.toMatchObject({ podReason: 'ServiceAccountNotFound' });
    await expect(ts.ensure(p, 'team-a-eu', true)).rejects.toBeInstanceOf(PodIdentityError);
    const err = await ts.ensure(p, 'team-a-eu', false).catch((e: Error) => e);
    expect(err).not.toBeInstanceOf(PodIdentityError);
    expect(events).toEqual(['ServiceAccountNotFound']);
  });

  it('reads the upper CA once per namespace while its version stays', async () => {
    const { ts, calls } = setup();
    await ts.ensure(pod([kubeApiAccess()]), 'team-a-eu', true);
    await ts.ensure(
      { ...pod([kubeApiAccess()]), metadata: { name: 'api-1', namespace: 'team-a', uid: 'uid-9' } },
      'team-a-eu',
      true,
    );
    expect(calls.filter((c) => c.includes('kube-root-ca.crt'))).toHaveLength(1);
    expect(calls.filter((c) => c.startsWith('lower POST'))).toHaveLength(2);
  });

  it('with the node identity: tokens go through the node client; while its certificate is pending, reason NodeCredentialsPending', async () => {
    const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
    const f = fakeClients(clock);
    const node = fakeClients(clock);
    let pending: string | undefined = 'CSR fedlet-eu-client-1 is not approved yet';
    const events: string[] = [];
    const ts = new TokenSecrets({
      upper: f.upper,
      lower: f.lower,
      nodeName: 'fedlet-eu',
      clusterName: 'eu',
      serviceAccounts: {
        lowerIdentityNamespaces: new Set(),
        upperAPIServer: { host: '10.0.0.1', port: 6443 },
        tokenClient: () => (pending ? { pending } : { client: node.upper }),
      },
      readable: noNamespaces,
      caVersion: () => '7',
      onDue: () => undefined,
      onEvent: (e) => events.push(e.reason),
      log: pino({ level: 'silent' }),
      now: () => clock.now,
    });
    const p = pod([kubeApiAccess()]);
    const err = await ts.ensure(p, 'team-a-eu', true).catch((e: unknown) => e);
    expect(err).toMatchObject({ podReason: 'NodeCredentialsPending' });
    expect((err as Error).message).toContain('fedlet-eu-client-1');
    expect(node.calls.concat(f.calls).filter((c) => c.includes('/token'))).toEqual([]);
    pending = undefined;
    await ts.ensure(p, 'team-a-eu', true);
    expect(node.calls).toEqual(['upper POST /api/v1/namespaces/team-a/serviceaccounts/robot/token']);
    expect(f.calls.filter((c) => c.includes('/token'))).toEqual([]);
  });

  describe('as the node, right after the binding (the Node authorizer may not have seen it yet)', () => {
    const asNode = (refuseTokens: number) => {
      const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
      const f = fakeClients(clock);
      const node = fakeClients(clock, { refuseTokens });
      const waits: number[] = [];
      const ts = new TokenSecrets({
        upper: f.upper,
        lower: f.lower,
        nodeName: 'fedlet-eu',
        clusterName: 'eu',
        serviceAccounts: {
          lowerIdentityNamespaces: new Set(),
          upperAPIServer: { host: '10.0.0.1', port: 6443 },
          tokenClient: () => ({ client: node.upper }),
        },
        readable: noNamespaces,
        caVersion: () => '7',
        onDue: () => undefined,
        onEvent: () => undefined,
        log: pino({ level: 'silent' }),
        now: () => clock.now,
        sleep: async (ms) => void waits.push(ms),
      });
      return { ts, node, f, waits };
    };
    const tokenPosts = (calls: string[]) => calls.filter((c) => c.endsWith('/token'));

    // A first wait of 500 ms put half a second on the start of every pod that lost this race.
    it('a refused TokenRequest is asked again after a wait far below a pod start, and the pod gets its token', async () => {
      const { ts, node, f, waits } = asNode(2);
      await ts.ensure(pod([kubeApiAccess()]), 'team-a-eu', true);
      expect(tokenPosts(node.calls)).toHaveLength(3);
      expect(f.calls.filter((c) => c.startsWith('lower POST'))).toEqual(['lower POST /api/v1/namespaces/team-a-eu/secrets']);
      expect(waits).toHaveLength(2);
      expect(waits[0]).toBeLessThanOrEqual(50);
      expect(waits[1]).toBeLessThanOrEqual(100);
    });

    it('a refusal that lasts counts after the same patience as before (about 3 s of waits), as ServiceAccountTokenForbidden', async () => {
      const { ts, node, waits } = asNode(Infinity);
      const err = await ts.ensure(pod([kubeApiAccess()]), 'team-a-eu', true).catch((e: unknown) => e);
      expect(err).toMatchObject({ podReason: 'ServiceAccountTokenForbidden' });
      expect(tokenPosts(node.calls)).toHaveLength(NODE_GRAPH_RETRY_MS.length + 1);
      expect(waits.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3000);
    });

    it("with fedlet's own credentials a refusal is an RBAC answer: no retry", async () => {
      const { ts, calls, waits } = setup({ refuseTokens: 1 });
      await expect(ts.ensure(pod([kubeApiAccess()]), 'team-a-eu', true)).rejects.toMatchObject({
        podReason: 'ServiceAccountTokenForbidden',
      });
      expect(tokenPosts(calls)).toHaveLength(1);
      expect(waits).toEqual([]);
    });
  });

  it('pods without tokens cost no API call', async () => {
    const { ts, calls } = setup();
    const p = pod([]);
    await ts.ensure(p, 'team-a-eu', true);
    expect(calls).toEqual([]);
  });
});

describe('config: upper API server address and lower-identity namespaces', () => {
  const base = ['--lower-kubeconfig=x', '--cluster-name=eu'];
  it.each([
    ['10.0.0.1:6443', { host: '10.0.0.1', port: 6443 }],
    ['api.example.com:443', { host: 'api.example.com', port: 443 }],
    ['[fd00::1]:6443', { host: 'fd00::1', port: 6443 }],
  ])('parses %s', (s, want) => expect(parseHostPort(s)).toEqual(want));
  it.each(['10.0.0.1', 'fd00::1:6443', 'host:0', 'host:70000', ':443'])('refuses %s, saying what it wants', (s) =>
    expect(() => loadConfig({ argv: [...base, `--upper-api-server-address=${s}`] })).toThrow(
      /upper API server address: .* is not host:port/,
    ),
  );
  it('reads the namespace list and refuses bad names', () => {
    expect(parseNamespaceList(' a, b ,,')).toEqual(['a', 'b']);
    expect(() => loadConfig({ argv: [...base, '--lower-identity-namespaces=ok,Bad_Name'] })).toThrow(
      /"Bad_Name" is not a namespace name/,
    );
  });
});
