import { describe, expect, it } from 'vitest';
import {
  parseSelector,
  partitionPools,
  poolConfig,
  poolLabels,
  poolNodeName,
  poolsEnabled,
  sanitizePoolName,
  type Pool,
} from '../../provider/pools/pools.js';
import type { LowerNode } from '../../provider/node/capacity.js';
import { lowerConstraints, lowerSchedulingFields, satisfies, withPool } from '../../src/scheduling/lower-affinity.js';
import { translatePod } from '../../provider/workload/translate.js';
import type { Pod } from '../../src/kube/types.js';

const GPU = 'nvidia.com/gpu.product';

function node(name: string, labels: Record<string, string>, ready = true): LowerNode {
  return {
    name,
    ready,
    unschedulable: false,
    allocatable: new Map([['cpu', 4000n]]),
    labels: { 'kubernetes.io/hostname': name, ...labels },
    taints: [],
  };
}

const nodes = [
  node('a1', { [GPU]: 'A100', zone: 'z1', 'node-role.kubernetes.io/gpu': '' }),
  node('a2', { [GPU]: 'A100', zone: 'z2', 'node-role.kubernetes.io/gpu': '' }),
  node('h1', { [GPU]: 'H100-SXM', zone: 'z1' }),
  node('cpu', { zone: 'z1' }),
];

describe('pool configuration', () => {
  it('parses kubectl label selectors into requirements', () => {
    expect(parseSelector('a=b, c==d,e!=f')).toEqual([
      { key: 'a', operator: 'In', values: ['b'] },
      { key: 'c', operator: 'In', values: ['d'] },
      { key: 'e', operator: 'NotIn', values: ['f'] },
    ]);
    expect(parseSelector('x.io/k in (a, b),y notin (c),z,!w')).toEqual([
      { key: 'x.io/k', operator: 'In', values: ['a', 'b'] },
      { key: 'y', operator: 'NotIn', values: ['c'] },
      { key: 'z', operator: 'Exists' },
      { key: 'w', operator: 'DoesNotExist' },
    ]);
  });
  it('rejects bad selectors, names and keys with a message naming them', () => {
    expect(() => parseSelector('a=b,=c')).toThrow(/"=c"/);
    expect(() => parseSelector(' ')).toThrow(/empty/);
    expect(() => poolConfig([], [{ name: 'Big_Pool', selector: 'a=b' }], 'fedlet-x')).toThrow(/Big_Pool.*DNS label/);
    expect(() => poolConfig([], [{ name: 'p', selector: 'a=(' }], 'fedlet-x')).toThrow(/pool "p"/);
    expect(() =>
      poolConfig(
        [],
        [
          { name: 'p', selector: 'a=b' },
          { name: 'p', selector: 'c' },
        ],
        'fedlet-x',
      ),
    ).toThrow(/twice/);
    expect(() => poolConfig(['bad key'], [], 'fedlet-x')).toThrow(/bad key/);
    expect(() => poolConfig([GPU], [], 'f'.repeat(58))).toThrow(/too long/);
  });
  it('is off without groupBy or selectors (one virtual node, as without the option)', () => {
    expect(poolsEnabled(poolConfig([], [], 'fedlet-x'))).toBe(false);
    expect(poolsEnabled(poolConfig([GPU], [], 'fedlet-x'))).toBe(true);
  });
  it('names pool nodes <node name>-<pool> within a 63-character label value', () => {
    expect(poolNodeName('fedlet-eu', 'a100')).toBe('fedlet-eu-a100');
    expect(sanitizePoolName(['NVIDIA-A100-SXM4-80GB'])).toBe('nvidia-a100-sxm4-80gb');
    expect(sanitizePoolName(['m5.2xlarge', 'eu/1'])).toBe('m5-2xlarge-eu-1');
    const long = sanitizePoolName(['x'.repeat(100)], 20);
    expect(long.length).toBeLessThanOrEqual(20);
    expect(long).toMatch(/^x+-[0-9a-f]{6}$/);
    const cfg = poolConfig([GPU], [], 'fedlet-' + 'c'.repeat(40));
    for (const p of partitionPools([node('n', { [GPU]: 'y'.repeat(60) })], cfg))
      expect(poolNodeName('fedlet-' + 'c'.repeat(40), p.name).length).toBeLessThanOrEqual(63);
  });
});

describe('partitionPools', () => {
  it('groups by label values: one pool per distinct tuple; nodes lacking a key are in none', () => {
    const pools = partitionPools(nodes, poolConfig([GPU], [], 'fedlet-x'));
    expect(pools).toEqual([
      { name: 'a100', requirements: [{ key: GPU, operator: 'In', values: ['A100'] }], nodes: ['a1', 'a2'] },
      { name: 'h100-sxm', requirements: [{ key: GPU, operator: 'In', values: ['H100-SXM'] }], nodes: ['h1'] },
    ]);
  });
  it('groups by several keys (tuples)', () => {
    const pools = partitionPools(nodes, poolConfig([GPU, 'zone'], [], 'fedlet-x'));
    expect(pools.map((p) => [p.name, p.nodes])).toEqual([
      ['a100-z1', ['a1']],
      ['a100-z2', ['a2']],
      ['h100-sxm-z1', ['h1']],
    ]);
  });
  it('keeps tuples apart that sanitise alike', () => {
    const pools = partitionPools([node('u', { [GPU]: 'A100' }), node('l', { [GPU]: 'a100' })], poolConfig([GPU], [], 'fedlet-x'));
    expect(pools).toHaveLength(2);
    expect(new Set(pools.map((p) => p.name)).size).toBe(2);
    for (const p of pools) expect(p.name).toMatch(/^a100-[0-9a-f]{6}$/);
  });
  it('selector pools exist while some node matches; they may overlap; their name wins', () => {
    const cfg = poolConfig(
      [GPU],
      [
        { name: 'z1', selector: 'zone=z1' },
        { name: 'any-gpu', selector: GPU },
        { name: 'tpu', selector: 'tpu=yes' },
        { name: 'a100', selector: `${GPU}=A100,zone=z2` },
      ],
      'fedlet-x',
    );
    const pools = partitionPools(nodes, cfg);
    const byName = new Map(pools.map((p) => [p.name, p.nodes]));
    expect(byName.get('z1')).toEqual(['a1', 'cpu', 'h1']);
    expect(byName.get('any-gpu')).toEqual(['a1', 'a2', 'h1']);
    expect(byName.has('tpu')).toBe(false);
    expect(byName.get('a100')).toEqual(['a2']); // the selector pool; the grouping pool gets a suffix
    expect([...byName.keys()].some((n) => /^a100-[0-9a-f]{6}$/.test(n))).toBe(true);
  });
  it('membership follows labels, not readiness (a NotReady node does not dissolve its pool)', () => {
    const pools = partitionPools([node('h1', { [GPU]: 'H100' }, false)], poolConfig([GPU], [], 'fedlet-x'));
    expect(pools.map((p) => p.name)).toEqual(['h100']);
  });
});

describe('poolLabels', () => {
  const all = new Map(nodes.map((n) => [n.name, n]));
  const pool = (name: string): Pool => partitionPools(nodes, poolConfig([GPU], [], 'fedlet-x')).find((p) => p.name === name)!;
  it('carries what every member shares plus the grouped keys, never per-node or role keys', () => {
    expect(poolLabels(pool('a100'), all)).toEqual({ [GPU]: 'A100' });
    expect(poolLabels(pool('h100-sxm'), all)).toEqual({ [GPU]: 'H100-SXM', zone: 'z1' });
  });
  it('counts only schedulable members while some are', () => {
    const m = new Map(all);
    m.set('a2', { ...m.get('a2')!, ready: false });
    expect(poolLabels(pool('a100'), m)).toEqual({ [GPU]: 'A100', zone: 'z1' });
  });
});

describe('placement inside the pool', () => {
  const pool = [{ key: GPU, operator: 'In', values: ['A100'] }];
  const pod = (spec: Partial<Pod['spec']>): Pod => ({
    metadata: { name: 'p', namespace: 'ns', uid: 'u1' },
    spec: { containers: [{ name: 'c', image: 'i' }], ...spec },
  });
  it('adds the pool requirements as the one term when the pod has none', () => {
    const c = withPool(lowerConstraints(pod({ nodeSelector: { [GPU]: 'A100' } }), { [GPU]: 'A100' }), pool);
    expect(c).toEqual({ selector: {}, terms: [pool] });
    expect(satisfies(c, { [GPU]: 'A100' })).toBe(true);
    expect(satisfies(c, { [GPU]: 'H100' })).toBe(false);
  });
  it('ANDs them into every term of the pod', () => {
    const p = pod({
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] },
              { matchExpressions: [{ key: 'disk', operator: 'In', values: ['nvme'] }] },
            ],
          },
        },
      },
    });
    const c = withPool(lowerConstraints(p, { [GPU]: 'A100' }), pool);
    expect(c.terms).toEqual([
      [{ key: 'disk', operator: 'In', values: ['ssd'] }, ...pool],
      [{ key: 'disk', operator: 'In', values: ['nvme'] }, ...pool],
    ]);
    expect(lowerSchedulingFields(c).affinity).toBeDefined();
  });
  it('translation labels the lower pod with its pool and keeps it in the pool', () => {
    const lower = translatePod(pod({ nodeSelector: { [GPU]: 'A100' } }), {
      nodeName: 'fedlet-x',
      clusterName: 'x',
      lowerNamespace: 'ns',
      allowDaemonSetPods: false,
      virtualNodeLabels: { [GPU]: 'A100' },
      pool: { name: 'a100', requirements: pool },
    });
    expect(lower.metadata.labels?.['fedlet.io/pool']).toBe('a100');
    expect(lower.metadata.labels?.['fedlet.io/origin']).toBe('fedlet-x');
    expect(lower.spec.nodeSelector).toBeUndefined();
    expect(lower.spec.affinity).toEqual({
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: pool }] } },
    });
  });
  it('without a pool, translation is unchanged (no pool label, no added terms)', () => {
    const lower = translatePod(pod({}), {
      nodeName: 'fedlet-x',
      clusterName: 'x',
      lowerNamespace: 'ns',
      allowDaemonSetPods: false,
      virtualNodeLabels: {},
    });
    expect(lower.metadata.labels?.['fedlet.io/pool']).toBeUndefined();
    expect(lower.spec.affinity).toBeUndefined();
  });
});

describe('pool options', () => {
  const required = ['--lower-kubeconfig', '/l', '--cluster-name', 'eu-1'];
  it('default to no pools', async () => {
    const { loadConfig } = await import('../../src/config.js');
    const c = loadConfig({ argv: required, env: {} });
    expect(c.poolGroupBy).toEqual([]);
    expect(c.pools).toEqual([]);
  });
  it('come from flags (repeatable), env vars and YAML', async () => {
    const { loadConfig } = await import('../../src/config.js');
    const f = loadConfig({
      argv: [...required, '--pool-group-by', GPU, '--pool-group-by=zone', '--pool', 'big=cpu-class in (l,xl),zone=z1'],
      env: {},
    });
    expect(f.poolGroupBy).toEqual([GPU, 'zone']);
    expect(f.pools).toEqual([{ name: 'big', selector: 'cpu-class in (l,xl),zone=z1' }]);
    const e = loadConfig({ argv: required, env: { FEDLET_POOL_GROUP_BY: `${GPU},zone`, FEDLET_POOLS: 'a=x=1;b=y' } });
    expect(e.poolGroupBy).toEqual([GPU, 'zone']);
    expect(e.pools).toEqual([
      { name: 'a', selector: 'x=1' },
      { name: 'b', selector: 'y' },
    ]);
    const y = loadConfig({
      argv: required,
      env: {},
      fileText: `poolGroupBy: [${GPU}]\npools:\n  - name: spot\n    selector: lifecycle=spot\n`,
    });
    expect(y.poolGroupBy).toEqual([GPU]);
    expect(y.pools).toEqual([{ name: 'spot', selector: 'lifecycle=spot' }]);
    expect(() => loadConfig({ argv: [...required, '--pool', 'nameonly'], env: {} })).toThrow(/name=selector/);
  });
});
