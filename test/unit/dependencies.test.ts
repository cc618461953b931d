// ConfigMap/Secret reflection on two fake API servers (upper and lower): copies before the pod, a
// change of the upper object re-syncs exactly the pods using it, garbage collection removes only our
// unreferenced copies.
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { DependencySync } from '../../provider/configuration/dependencies.js';
import type { DataObject, Pod } from '../../src/kube/types.js';
import { FakeKube } from './support/fake-kube.js';
import { settle } from './support/fake-clock.js';

const log = pino({ level: 'silent' });
const syncs: DependencySync[] = [];
afterEach(async () => {
  for (const s of syncs.splice(0)) await s.stop();
});

function podUsing(name: string, configMap: string, secret?: { name: string; optional?: boolean }): Pod {
  return {
    metadata: { name, namespace: 'd', uid: `uid-${name}` },
    spec: {
      containers: [
        {
          name: 'c',
          envFrom: [{ configMapRef: { name: configMap } }],
          ...(secret
            ? { env: [{ name: 'S', valueFrom: { secretKeyRef: { name: secret.name, key: 'k', optional: secret.optional } } }] }
            : {}),
        },
      ],
    },
  };
}
const cm = (
  ns: string,
  name: string,
  labels: Record<string, string> = {},
  data: Record<string, string> = { a: '1' },
): DataObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: ns, labels },
  data,
});

async function harness() {
  const upper = new FakeKube();
  const lower = new FakeKube();
  // fedlet reads lower ConfigMaps/Secrets only in namespaces where it holds rights: here d-low.
  const deps = new DependencySync({
    upper,
    lower,
    nodeName: 'vn',
    readable: { current: () => ['d-low'], refused: async () => true },
    log,
  });
  syncs.push(deps);
  const changed: string[] = [];
  deps.onChange((k) => changed.push(k));
  deps.start();
  await deps.waitForSync(new AbortController().signal);
  return { upper, lower, deps, changed };
}

describe('ConfigMap/Secret reflection', () => {
  it('copies what a pod references, owned by this fedlet; a missing required one is reported, an optional one is not', async () => {
    const h = await harness();
    h.upper.seed('/api/v1/namespaces/d/configmaps', cm('d', 'app'));
    const first = await h.deps.ensure(podUsing('p', 'app', { name: 'opt', optional: true }), 'd-low');
    expect(first.required).toBeUndefined();
    expect(first.optional).toEqual([
      expect.objectContaining({ name: 'opt', optional: true, eventReason: 'OptionalSecretNotFound' }),
    ]);
    const copy = h.lower.peek<DataObject>('/api/v1/namespaces/d-low/configmaps/app');
    expect(copy?.data).toEqual({ a: '1' });
    expect(copy?.metadata.labels).toMatchObject({ 'fedlet.io/origin': 'vn' });
    const missing = (await h.deps.ensure(podUsing('q', 'app', { name: 'creds' }), 'd-low')).required;
    expect(missing).toMatchObject({
      eventReason: 'MandatorySecretNotFound',
      kind: 'secrets',
      namespace: 'd',
      name: 'creds',
      message: expect.stringMatching(/Secret d\/creds .* does not exist/),
    });
  });

  it('a change of an upper object re-syncs exactly the pods that use it, and the copy follows', async () => {
    const h = await harness();
    h.upper.seed('/api/v1/namespaces/d/configmaps', cm('d', 'app'));
    h.upper.seed('/api/v1/namespaces/d/configmaps', cm('d', 'other'));
    await h.deps.ensure(podUsing('p', 'app'), 'd-low');
    await h.deps.ensure(podUsing('q', 'other'), 'd-low');
    await settle();
    h.changed.length = 0;
    h.upper.seed('/api/v1/namespaces/d/configmaps', cm('d', 'app', {}, { a: '2' }));
    await settle();
    expect(h.changed).toEqual(['d/p']);
    await h.deps.ensure(podUsing('p', 'app'), 'd-low');
    expect(h.lower.peek<DataObject>('/api/v1/namespaces/d-low/configmaps/app')?.data).toEqual({ a: '2' });
  });

  it('garbage collection deletes only our copies that no live pod references', async () => {
    const h = await harness();
    const ours = { 'fedlet.io/origin': 'vn' };
    h.lower.seed('/api/v1/namespaces/d-low/configmaps', cm('d-low', 'used', ours));
    h.lower.seed('/api/v1/namespaces/d-low/configmaps', cm('d-low', 'unused', ours));
    h.lower.seed('/api/v1/namespaces/d-low/secrets', { ...cm('d-low', 'old-secret', ours), kind: 'Secret' });
    h.lower.seed('/api/v1/namespaces/d-low/configmaps', cm('d-low', 'another-fedlet', { 'fedlet.io/origin': 'other' }));
    h.lower.seed('/api/v1/namespaces/d-low/configmaps', cm('d-low', 'admins'));
    const deleted = await h.deps.collectGarbage([podUsing('p', 'used')], () => 'd-low');
    expect(deleted).toBe(2);
    expect(
      h.lower
        .items<DataObject>('/api/v1/configmaps')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['admins', 'another-fedlet', 'used']);
    expect(h.lower.items('/api/v1/secrets')).toEqual([]);
  });

  it('never uses a lower object fedlet did not copy from the upper one: a conflict, and the object is left as it is', async () => {
    const h = await harness();
    h.upper.seed('/api/v1/namespaces/d/configmaps', cm('d', 'app'));
    // The lower team's own object, a copy for another upper namespace, and a token Secret of fedlet's.
    h.lower.seed('/api/v1/namespaces/d-low/configmaps', cm('d-low', 'app', {}, { theirs: 'yes' }));
    const r = await h.deps.ensure(podUsing('p', 'app'), 'd-low');
    expect(r.conflict).toMatchObject({ kind: 'configmaps', name: 'app' });
    expect(r.conflict?.message).toMatch(/lower ConfigMap d-low\/app .* is not fedlet's copy of upper ConfigMap d\/app/);
    expect(h.lower.peek<DataObject>('/api/v1/namespaces/d-low/configmaps/app')?.data).toEqual({ theirs: 'yes' });
    h.lower.seed('/api/v1/namespaces/d-low/configmaps', {
      ...cm('d-low', 'app', { 'fedlet.io/origin': 'vn' }),
      metadata: {
        name: 'app',
        namespace: 'd-low',
        labels: { 'fedlet.io/origin': 'vn' },
        annotations: { 'fedlet.io/upper-namespace': 'other' },
      },
    });
    expect((await h.deps.ensure(podUsing('p', 'app'), 'd-low')).conflict).toBeDefined();
    h.upper.seed('/api/v1/namespaces/d/secrets', { ...cm('d', 'p-fedlet-token-1'), kind: 'Secret' });
    h.lower.seed('/api/v1/namespaces/d-low/secrets', {
      ...cm('d-low', 'p-fedlet-token-1', { 'fedlet.io/origin': 'vn', 'fedlet.io/service-account-token': 'true' }),
      kind: 'Secret',
    });
    h.lower.seed('/api/v1/namespaces/d-low/configmaps', cm('d-low', 'app', { 'fedlet.io/origin': 'vn' }));
    const token = await h.deps.ensure(podUsing('q', 'app', { name: 'p-fedlet-token-1' }), 'd-low');
    expect(token.conflict).toMatchObject({ kind: 'secrets', name: 'p-fedlet-token-1' });
  });

  it('forgets the references of pods that are gone (on delete and at garbage collection)', async () => {
    const h = await harness();
    h.upper.seed('/api/v1/namespaces/d/configmaps', cm('d', 'app'));
    for (const n of ['p1', 'p2', 'p3']) await h.deps.ensure(podUsing(n, 'app', { name: `s-${n}`, optional: true }), 'd-low');
    expect(h.deps.trackedSizes()).toMatchObject({ dependents: 4, usedBy: 3, watches: 4 });
    h.deps.forget('d/p1');
    expect(h.deps.trackedSizes()).toMatchObject({ dependents: 3, usedBy: 2 });
    await h.deps.collectGarbage([podUsing('p2', 'app')], () => 'd-low');
    expect(h.deps.trackedSizes()).toMatchObject({ dependents: 2, usedBy: 1 });
    h.deps.forget('d/p2');
    expect(h.deps.trackedSizes()).toEqual({ dependents: 0, usedBy: 0, copied: 0, watches: 0 });
    // A change of an object no live pod uses syncs nothing.
    h.changed.length = 0;
    h.upper.seed('/api/v1/namespaces/d/configmaps', cm('d', 'app', {}, { a: '3' }));
    await settle();
    expect(h.changed).toEqual([]);
  });
});

describe('reads as the node', () => {
  it("reads and watches only the objects a pod names, through its node's client, and stops watching what no pod names", async () => {
    const upper = new FakeKube();
    const lower = new FakeKube();
    const asNode = new FakeKube();
    const readers: string[] = [];
    const deps = new DependencySync({
      upper,
      lower,
      nodeName: 'vn',
      readable: { current: () => ['d-low'], refused: async () => true },
      reader: (node) => (readers.push(node), asNode),
      log,
    });
    syncs.push(deps);
    deps.start();
    asNode.seed('/api/v1/namespaces/d/configmaps', cm('d', 'app'));
    asNode.seed('/api/v1/namespaces/d/configmaps', cm('d', 'unrelated'));
    const pod = { ...podUsing('p', 'app'), spec: { ...podUsing('p', 'app').spec, nodeName: 'vn-pool-a' } };
    await deps.ensure(pod, 'd-low');
    await settle();
    expect(lower.peek<DataObject>('/api/v1/namespaces/d-low/configmaps/app')?.data).toEqual({ a: '1' });
    expect(new Set(readers)).toEqual(new Set(['vn-pool-a']));
    // fedlet's own client read nothing; the node's read exactly the named object, by name.
    expect(upper.calls).toEqual([]);
    const paths = asNode.calls.map((c) => `${c.verb} ${c.path.split('?')[0]}`);
    expect(new Set(paths)).toEqual(
      new Set([
        'GET /api/v1/namespaces/d/configmaps/app',
        'GET /api/v1/namespaces/d/configmaps',
        'WATCH /api/v1/namespaces/d/configmaps',
      ]),
    );
    expect(deps.version('configmaps', 'd', 'unrelated')).toBeUndefined(); // named objects only
    expect(deps.version('configmaps', 'd', 'app')).toBeDefined();
    await deps.collectGarbage([], () => 'd-low');
    expect(deps.version('configmaps', 'd', 'app')).toBeUndefined();
  });
});

describe('watches follow the pods', () => {
  it('an object no remaining pod names is no longer watched once its last pod goes', async () => {
    const h = await harness();
    h.upper.seed('/api/v1/namespaces/d/configmaps', cm('d', 'shared'));
    await h.deps.ensure(podUsing('p', 'shared'), 'd-low');
    await h.deps.ensure(podUsing('q', 'shared'), 'd-low');
    await settle();
    expect(h.deps.version('configmaps', 'd', 'shared')).toBeDefined();
    h.deps.forget('d/p');
    expect(h.deps.version('configmaps', 'd', 'shared')).toBeDefined(); // q still names it
    h.deps.forget('d/q');
    expect(h.deps.version('configmaps', 'd', 'shared')).toBeUndefined();
  });
});
