import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { PoolProvider, type PoolBacking, type PoolUpperPods } from '../../provider/pools/pool-provider.js';
import { BounceBack } from '../../provider/workload/bounce-back.js';
import type { Pod } from '../../src/kube/types.js';
import type { ProviderNodeState } from '../../src/provider.js';
import type { LowerNode } from '../../provider/node/capacity.js';

const log = pino({ level: 'silent' });
const GPU = 'nvidia.com/gpu.product';

/** A shared lower provider with lower pods keyed by upper key → their pool label (null: none). */
function backing(lowerPools: Record<string, string | null>) {
  const changeListeners: Array<(k: string) => void> = [];
  const deleted: string[] = [];
  const ensured: Array<{ key: string; pool?: { name: string } }> = [];
  const gc: Pod[][] = [];
  const state: ProviderNodeState = {
    condition: { ready: true, reason: 'LowerClusterReady', message: '' },
    resources: {},
    labels: {},
  };
  const nodes = new Map<string, LowerNode>([
    ['a1', { name: 'a1', ready: true, unschedulable: false, allocatable: new Map(), labels: { [GPU]: 'A100' }, taints: [] }],
  ]);
  const b = {
    podsOps: {
      poolOf: (k: string) => (k in lowerPools ? lowerPools[k] : undefined),
      knownUpperKeys: (pool?: string) => Object.keys(lowerPools).filter((k) => pool === undefined || lowerPools[k] === pool),
      delete: async (k: string) => {
        deleted.push(k);
        return false;
      },
      status: () => undefined,
      ensure: async (p: Pod, pool?: { name: string }) => {
        ensured.push({ key: `${p.metadata.namespace}/${p.metadata.name}`, pool });
        return { kind: 'ok' as const };
      },
    },
    lowerNodes: () => nodes,
    nodeStateOf: (_n: LowerNode[], extra: Record<string, string>) => ({ ...state, labels: extra }),
    summaryOf: (node: string, _n: LowerNode[], avoid: Record<string, string>) => ({ node, avoid }),
    poolNodeLabels: () => ({ [GPU]: 'A100' }),
    poolVirtualNodeLabels: (_n: string, st: ProviderNodeState) => st.labels,
    backendReachable: () => true,
    onPodChange: (l: (k: string) => void) => changeListeners.push(l),
    onPodEvent: () => undefined,
    podCachesSynced: async () => undefined,
    collectPoolGarbage: async (live: () => Pod[] | undefined) => {
      const pods = live();
      if (!pods) return { againAfterMs: 2000 }; // as LowerProvider: not yet, look again soon
      gc.push(pods);
      return {};
    },
  } as unknown as PoolBacking;
  return { b, emit: (k: string) => changeListeners.forEach((l) => l(k)), deleted, ensured, gc };
}

function view(b: PoolBacking, upper: PoolUpperPods) {
  return new PoolProvider(
    b,
    { name: 'a100', requirements: [{ key: GPU, operator: 'In', values: ['A100'] }], nodes: ['a1'] },
    {
      clusterName: 'c',
      nodeName: (p) => `fedlet-c-${p}`,
      upperPods: upper,
      bounce: () =>
        new BounceBack({
          bounceAfterSeconds: 60,
          avoidAfterBounceSeconds: 300,
          clusterName: 'c',
          onChange: () => undefined,
          log,
        }),
      log,
    },
  );
}

const pod = (name: string): Pod => ({ metadata: { namespace: 'ns', name, uid: name }, spec: { containers: [] } });

describe('PoolProvider', () => {
  it('hands a pool node only its own keys: its lower pods, or upper pods bound to it without a lower pod', () => {
    const f = backing({ 'ns/mine': 'a100', 'ns/other': 'h100', 'ns/legacy': null });
    const bound = new Set(['ns/new']);
    const v = view(f.b, { has: (node, k) => node === 'fedlet-c-a100' && bound.has(k), all: () => [] });
    const heard: string[] = [];
    v.onPodChange((k) => heard.push(k));
    for (const k of ['ns/mine', 'ns/other', 'ns/legacy', 'ns/new', 'ns/elsewhere']) f.emit(k);
    expect(heard).toEqual(['ns/mine', 'ns/new']);
    expect(v.knownPodKeys()).toEqual(['ns/mine']);
    v.close();
    f.emit('ns/mine');
    expect(heard).toEqual(['ns/mine', 'ns/new']);
  });
  it('never deletes a lower pod placed through another pool (a pod of that name bound to another node)', async () => {
    const f = backing({ 'ns/mine': 'a100', 'ns/other': 'h100' });
    const v = view(f.b, { has: () => false, all: () => [] });
    expect(await v.deletePod('ns/other', 0)).toBe(true);
    await v.deletePod('ns/mine', 0);
    expect(f.deleted).toEqual(['ns/mine']);
  });
  it('places pods with the pool name and requirements and labels the node with fedlet.io/pool', async () => {
    const f = backing({});
    const v = view(f.b, { has: () => false, all: () => [] });
    await v.ensurePod(pod('p'));
    expect(f.ensured[0]?.pool).toMatchObject({ name: 'a100', requirements: [{ key: GPU, operator: 'In', values: ['A100'] }] });
    expect(v.nodeState().labels).toEqual({ [GPU]: 'A100', 'fedlet.io/pool': 'a100' });
    expect(v.nodeName).toBe('fedlet-c-a100');
  });
  it("collects shared dependencies against every pool node's pods, and not before all are synced", async () => {
    const f = backing({});
    const synced: { pods?: Pod[] } = {};
    const v = view(f.b, { has: () => false, all: () => synced.pods });
    expect(await v.collectGarbage()).toEqual({ againAfterMs: 2000 });
    expect(f.gc).toEqual([]);
    synced.pods = [pod('x'), pod('y')];
    await v.collectGarbage();
    expect(f.gc).toEqual([synced.pods]);
  });
  it('keeps its own bounce record (restored from its own published summary)', () => {
    const f = backing({});
    const v = view(f.b, { has: () => false, all: () => [] });
    const until = new Date(Date.now() + 60_000).toISOString();
    v.restoreSchedulingSummary({ avoid: { ctrl: until } } as never);
    expect(v.schedulingSummary()).toEqual({ node: 'fedlet-c-a100', avoid: { ctrl: until } });
    // Another pool of the same cluster has a record of its own.
    expect(view(f.b, { has: () => false, all: () => [] }).schedulingSummary()).toEqual({ node: 'fedlet-c-a100', avoid: {} });
  });
});
