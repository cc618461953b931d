// Lower namespaces fedlet may use: the pure rule (owned, granted, reserved, someone else's) as a table,
// the Pod Security labels it carries down, and LowerNamespaces on a fake API server (creates with
// labels, refuses a namespace it does not own, raises a weaker level, sees a withdrawn grant).
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { KubeObject } from '../../src/kube/types.js';
import {
  isReservedNamespace,
  lowerIdentityAllowed,
  namespaceAccess,
  podSecurityLabels,
  podSecurityPatch,
  type NamespacePolicy,
} from '../../provider/namespaces/namespace-access.js';
import { LowerNamespaceRefusedError, LowerNamespaces, RECHECK_MS } from '../../provider/namespaces/lower-namespaces.js';
import { FakeKube } from './support/fake-kube.js';
import { classifyRejection } from '../../provider/workload/lower-rejection.js';

const log = pino({ level: 'silent' });
const policy: NamespacePolicy = { nodeName: 'fedlet-eu', clusterName: 'eu', granted: new Set(['shared', 'kube-granted']) };
const ns = (name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): KubeObject => ({
  metadata: { name, labels, annotations },
});
const ENFORCE = 'pod-security.kubernetes.io/enforce';

describe('namespaceAccess', () => {
  it.each<[string, string, KubeObject | undefined, string, string]>([
    ['absent: fedlet creates it', 'payments-eu', undefined, 'payments', 'create'],
    [
      'created by this fedlet for this namespace',
      'payments',
      ns('payments', { 'fedlet.io/origin': 'fedlet-eu' }, { 'fedlet.io/upper-namespace': 'payments' }),
      'payments',
      'use:owned',
    ],
    [
      'created by this fedlet (no record of the upper namespace)',
      'p',
      ns('p', { 'fedlet.io/origin': 'fedlet-eu' }),
      'p',
      'use:owned',
    ],
    ['a lower team’s namespace', 'payments', ns('payments'), 'payments', 'refuse'],
    ['another fedlet’s namespace', 'payments', ns('payments', { 'fedlet.io/origin': 'fedlet-us' }), 'payments', 'refuse'],
    [
      'ours, made for another upper namespace',
      'x',
      ns('x', { 'fedlet.io/origin': 'fedlet-eu' }, { 'fedlet.io/upper-namespace': 'y' }),
      'x',
      'refuse',
    ],
    ['granted by label with the node name', 'team', ns('team', { 'fedlet.io/grant': 'fedlet-eu' }), 'team', 'use:granted'],
    ['granted by label with the cluster name', 'team', ns('team', { 'fedlet.io/grant': 'eu' }), 'team', 'use:granted'],
    ['granted to someone else', 'team', ns('team', { 'fedlet.io/grant': 'fedlet-us' }), 'team', 'refuse'],
    ['granted by option', 'shared', ns('shared'), 'shared', 'use:granted'],
    ['granted by option, absent: created', 'shared', undefined, 'shared', 'create'],
    ['default, existing', 'default', ns('default'), 'default', 'refuse'],
    [
      'default with an origin label someone set',
      'default',
      ns('default', { 'fedlet.io/origin': 'fedlet-eu' }),
      'default',
      'refuse',
    ],
    ['kube-system', 'kube-system', ns('kube-system'), 'kube-system', 'refuse'],
    ['kube-* absent: never created', 'kube-new', undefined, 'kube-new', 'refuse'],
    ['fedlet-system', 'fedlet-system', ns('fedlet-system'), 'fedlet-system', 'refuse'],
    ['default granted by label', 'default', ns('default', { 'fedlet.io/grant': 'fedlet-eu' }), 'default', 'use:granted'],
    ['kube-* granted by option', 'kube-granted', ns('kube-granted'), 'kube-granted', 'use:granted'],
  ])('%s', (_what, name, existing, upperNs, want) => {
    const a = namespaceAccess(name, existing, upperNs, policy);
    expect(a.kind === 'use' ? `use:${a.how}` : a.kind).toBe(want);
  });

  it('says which namespace, whose it is and how a lower admin grants it', () => {
    const a = namespaceAccess('payments', ns('payments'), 'payments', policy);
    expect(a.kind).toBe('refuse');
    const m = (a as { message: string }).message;
    expect(m).toContain('lower namespace payments of cluster eu');
    expect(m).toContain('no label fedlet.io/origin=fedlet-eu');
    expect(m).toContain('kubectl label namespace payments fedlet.io/grant=fedlet-eu');
    expect(m).toContain('grantedLowerNamespaces');
    const d = namespaceAccess('default', ns('default'), 'default', policy) as { message: string };
    expect(d.message).toMatch(/reserved .*default, kube-\* and fedlet-system/);
  });

  it('knows the reserved namespaces and who allows lower identity', () => {
    expect(['default', 'kube-system', 'kube-public', 'kube-node-lease', 'fedlet-system'].every(isReservedNamespace)).toBe(true);
    expect(['defaults', 'payments', 'kubernetes'].some(isReservedNamespace)).toBe(false);
    expect(lowerIdentityAllowed(ns('t', { 'fedlet.io/lower-identity': 'fedlet-eu' }), policy)).toBe(true);
    expect(lowerIdentityAllowed(ns('t', { 'fedlet.io/lower-identity': 'eu' }), policy)).toBe(true);
    expect(lowerIdentityAllowed(ns('t', { 'fedlet.io/lower-identity': 'true' }), policy)).toBe(false);
    expect(lowerIdentityAllowed(ns('t', { 'fedlet.io/grant': 'fedlet-eu' }), policy)).toBe(false);
    expect(lowerIdentityAllowed(undefined, policy)).toBe(false);
  });
});

describe('Pod Security carried down', () => {
  it.each<[string, Record<string, string>, 'privileged' | 'baseline' | 'restricted', Record<string, string>]>([
    ['no upper level: the floor', {}, 'baseline', { [ENFORCE]: 'baseline' }],
    [
      'a stricter upper level wins, with its version',
      { [ENFORCE]: 'restricted', [`${ENFORCE}-version`]: 'v1.30' },
      'baseline',
      { [ENFORCE]: 'restricted', [`${ENFORCE}-version`]: 'v1.30' },
    ],
    [
      'a weaker upper level is raised to the floor (its version dropped)',
      { [ENFORCE]: 'privileged', [`${ENFORCE}-version`]: 'v1.25' },
      'baseline',
      { [ENFORCE]: 'baseline' },
    ],
    ['floor privileged keeps the upper level', { [ENFORCE]: 'privileged' }, 'privileged', { [ENFORCE]: 'privileged' }],
    [
      'audit and warn follow the upper namespace',
      { 'pod-security.kubernetes.io/warn': 'restricted', 'pod-security.kubernetes.io/audit': 'baseline' },
      'baseline',
      { [ENFORCE]: 'baseline', 'pod-security.kubernetes.io/warn': 'restricted', 'pod-security.kubernetes.io/audit': 'baseline' },
    ],
    ['an invalid upper value counts as none', { [ENFORCE]: 'lenient' }, 'restricted', { [ENFORCE]: 'restricted' }],
  ])('%s', (_what, upper, floor, want) => {
    expect(podSecurityLabels(upper, floor)).toEqual(want);
  });

  it('only ever raises an existing namespace’s level', () => {
    expect(podSecurityPatch({ [ENFORCE]: 'restricted' }, { [ENFORCE]: 'baseline' })).toBeUndefined();
    expect(podSecurityPatch({ [ENFORCE]: 'baseline' }, { [ENFORCE]: 'baseline' })).toBeUndefined();
    expect(podSecurityPatch({}, { [ENFORCE]: 'baseline' })).toEqual({ [ENFORCE]: 'baseline' });
    expect(podSecurityPatch({ [ENFORCE]: 'privileged', [`${ENFORCE}-version`]: 'v1.25' }, { [ENFORCE]: 'restricted' })).toEqual({
      [ENFORCE]: 'restricted',
      [`${ENFORCE}-version`]: null,
    });
  });
});

describe('LowerNamespaces', () => {
  function harness(granted: string[] = []) {
    let now = 1_000_000;
    const lower = new FakeKube();
    const upper = new FakeKube();
    const spaces = new LowerNamespaces({
      lower,
      upper,
      nodeName: 'fedlet-eu',
      clusterName: 'eu',
      granted: new Set(granted),
      podSecurityFloor: 'baseline',
      log,
      now: () => now,
    });
    return { lower, upper, spaces, advance: (ms: number) => (now += ms) };
  }

  it('a namespace being deleted: nothing is written or bound there, and the pod waits with a transient refusal', async () => {
    const h = harness();
    h.lower.seed('/api/v1/namespaces', {
      ...ns('payments-eu', { 'fedlet.io/origin': 'fedlet-eu' }, { 'fedlet.io/upper-namespace': 'payments' }),
      metadata: {
        name: 'payments-eu',
        labels: { 'fedlet.io/origin': 'fedlet-eu' },
        annotations: { 'fedlet.io/upper-namespace': 'payments' },
        deletionTimestamp: '2026-12-07T16:20:53Z',
      },
    });
    const bound: string[] = [];
    const spaces = new LowerNamespaces({
      lower: h.lower,
      upper: h.upper,
      nodeName: 'fedlet-eu',
      clusterName: 'eu',
      rbac: { ensure: async (n: string) => void bound.push(n), forget: () => undefined },
      log,
    });
    let ran = false;
    const e = await spaces.write('payments-eu', 'payments', async () => (ran = true)).catch((x: unknown) => x);
    expect(ran).toBe(false);
    expect(bound).toEqual([]);
    expect(classifyRejection(e)).toMatchObject({ code: 403, transient: true });
    expect((e as Error).message).toMatch(/lower namespace payments-eu of cluster eu is being deleted/);
    expect(h.lower.calls.filter((c) => c.verb !== 'GET')).toEqual([]);
  });

  it('creates a missing namespace with its origin, upper namespace and Pod Security labels', async () => {
    const h = harness();
    h.upper.seed('/api/v1/namespaces', ns('payments', { [ENFORCE]: 'restricted' }));
    expect(await h.spaces.ensure('payments-eu', 'payments')).toEqual({ how: 'owned', lowerIdentity: false });
    const created = h.lower.peek<KubeObject>('/api/v1/namespaces/payments-eu');
    expect(created?.metadata?.labels).toEqual({ 'fedlet.io/origin': 'fedlet-eu', [ENFORCE]: 'restricted' });
    expect(created?.metadata?.annotations).toEqual({ 'fedlet.io/upper-namespace': 'payments' });
  });

  it('refuses a lower team’s namespace, writes nothing into it, and uses it once a lower admin grants it', async () => {
    const h = harness();
    h.lower.seed('/api/v1/namespaces', ns('payments'));
    let ran = false;
    await expect(
      h.spaces.write('payments', 'payments', async () => {
        ran = true;
      }),
    ).rejects.toThrow(LowerNamespaceRefusedError);
    expect(ran).toBe(false);
    expect(h.lower.calls.filter((c) => c.verb !== 'GET')).toEqual([]);
    h.lower.seed('/api/v1/namespaces', ns('payments', { 'fedlet.io/grant': 'fedlet-eu', 'fedlet.io/lower-identity': 'eu' }));
    expect(await h.spaces.ensure('payments', 'payments')).toEqual({ how: 'granted', lowerIdentity: true });
    // A granted namespace is the lower admin's: fedlet changes none of its labels.
    expect(h.lower.calls.filter((c) => c.verb !== 'GET')).toEqual([]);
  });

  it('raises the Pod Security level of a namespace it created when the upper namespace asks more', async () => {
    const h = harness();
    h.upper.seed('/api/v1/namespaces', ns('shop'));
    await h.spaces.ensure('shop-eu', 'shop');
    expect(h.lower.peek<KubeObject>('/api/v1/namespaces/shop-eu')?.metadata?.labels?.[ENFORCE]).toBe('baseline');
    h.upper.seed('/api/v1/namespaces', ns('shop', { [ENFORCE]: 'restricted' }));
    h.advance(RECHECK_MS);
    await h.spaces.ensure('shop-eu', 'shop');
    expect(h.lower.peek<KubeObject>('/api/v1/namespaces/shop-eu')?.metadata?.labels?.[ENFORCE]).toBe('restricted');
  });

  it('sees a withdrawn grant at the next use after RECHECK_MS, not before', async () => {
    const h = harness();
    h.lower.seed('/api/v1/namespaces', ns('team', { 'fedlet.io/grant': 'eu' }));
    await h.spaces.ensure('team', 'team');
    h.lower.seed('/api/v1/namespaces', ns('team'));
    await expect(h.spaces.ensure('team', 'team')).resolves.toMatchObject({ how: 'granted' });
    h.advance(RECHECK_MS);
    await expect(h.spaces.ensure('team', 'team')).rejects.toThrow(/fedlet did not create it/);
  });

  it('keeps the floor when the upper namespace cannot be read', async () => {
    const h = harness();
    h.upper.beforeRequest = (c) => {
      if (c.path.startsWith('/api/v1/namespaces/')) {
        throw new (class extends Error {})('no');
      }
    };
    // Any other failure is thrown (the sync retries); 403 and 404 fall back to the floor.
    await expect(h.spaces.ensure('a-eu', 'a')).rejects.toThrow('no');
    h.upper.beforeRequest = undefined;
    await h.spaces.ensure('b-eu', 'b-missing-upstairs');
    expect(h.lower.peek<KubeObject>('/api/v1/namespaces/b-eu')?.metadata?.labels?.[ENFORCE]).toBe('baseline');
  });
});
