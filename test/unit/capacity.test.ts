import { describe, expect, it } from 'vitest';
import { agreedLabel, freeCapacity, withinFloor, type LowerNode, type LowerPod } from '../../provider/node/capacity.js';
import { parseSelector } from '../../provider/pools/pools.js';
import { podRequests } from '../../src/util/pod-requests.js';
import { fromMilli, toMilli } from '../../src/util/quantity.js';

const node = (name: string, alloc: Record<string, string>, extra: Partial<LowerNode> = {}): LowerNode => ({
  name,
  ready: true,
  unschedulable: false,
  allocatable: toMilli(alloc),
  labels: {},
  taints: [],
  ...extra,
});
const pod = (_key: string, nodeName: string | undefined, req: Record<string, string>, managed = false): LowerPod => ({
  nodeName,
  requests: podRequests({ containers: [{ resources: { requests: req } }] }),
  managed,
});

describe('freeCapacity', () => {
  it('sums allocatable over Ready, schedulable nodes', () => {
    const nodes = [node('a', { cpu: '4', memory: '8Gi', pods: '110' }), node('b', { cpu: '2', memory: '4Gi', pods: '110' })];
    expect(fromMilli(freeCapacity(nodes, []))).toEqual({
      cpu: '6',
      memory: String(12 * 1024 ** 3),
      pods: '220',
      'ephemeral-storage': '0',
    });
  });

  it('subtracts unmanaged pods (and their pod slot) but not pods fedlet manages', () => {
    const nodes = [node('a', { cpu: '4', memory: '8Gi', pods: '110' })];
    const pods = [
      pod('x/unmanaged', 'a', { cpu: '1500m', memory: '1Gi' }),
      pod('y/managed', 'a', { cpu: '1', memory: '1Gi' }, true),
    ];
    const free = fromMilli(freeCapacity(nodes, pods));
    expect(free.cpu).toBe('2500m');
    expect(free.memory).toBe(String(7 * 1024 ** 3));
    expect(free.pods).toBe('109');
  });

  it('ignores NotReady and cordoned nodes and the pods on them', () => {
    const nodes = [
      node('a', { cpu: '4' }),
      node('b', { cpu: '8' }, { ready: false }),
      node('c', { cpu: '16' }, { unschedulable: true }),
    ];
    const pods = [pod('p', 'b', { cpu: '1' }), pod('q', 'c', { cpu: '1' })];
    expect(fromMilli(freeCapacity(nodes, pods)).cpu).toBe('4');
  });

  it("never goes negative, and one over-committed node does not eat another one's room", () => {
    const nodes = [node('a', { cpu: '1' }), node('b', { cpu: '2' })];
    const pods = [pod('p', 'a', { cpu: '3' })];
    expect(fromMilli(freeCapacity(nodes, pods)).cpu).toBe('2');
  });

  it('keeps extended resources such as GPUs', () => {
    const nodes = [node('gpu', { cpu: '4', 'nvidia.com/gpu': '4' })];
    const pods = [pod('p', 'gpu', { 'nvidia.com/gpu': '1' })];
    expect(fromMilli(freeCapacity(nodes, pods))['nvidia.com/gpu']).toBe('3');
  });

  it('ignores unbound pods', () => {
    expect(fromMilli(freeCapacity([node('a', { cpu: '4' })], [pod('p', undefined, { cpu: '1' })])).cpu).toBe('4');
  });
});

describe('podRequests', () => {
  it("takes the larger of the containers' sum and the biggest init container", () => {
    const r = fromMilli(
      podRequests({
        containers: [{ resources: { requests: { cpu: '100m' } } }, { resources: { requests: { cpu: '200m' } } }],
        initContainers: [{ resources: { requests: { cpu: '500m', memory: '1Gi' } } }],
      }),
    );
    expect(r.cpu).toBe('500m');
    expect(r.memory).toBe(String(1024 ** 3));
    expect(r.pods).toBe('1');
  });

  it('adds restartable init containers (sidecars) to the running total and to later init containers', () => {
    const r = fromMilli(
      podRequests({
        initContainers: [
          { restartPolicy: 'Always', resources: { requests: { cpu: '100m' } } },
          { resources: { requests: { cpu: '1' } } },
        ],
        containers: [{ resources: { requests: { cpu: '200m' } } }],
      }),
    );
    // max(200m + 100m sidecar, 1 + 100m sidecar during init)
    expect(r.cpu).toBe('1100m');
  });

  it('uses limits when requests are absent and adds pod overhead', () => {
    const r = fromMilli(podRequests({ containers: [{ resources: { limits: { cpu: '2' } } }], overhead: { cpu: '250m' } }));
    expect(r.cpu).toBe('2250m');
  });
});

describe('agreedLabel', () => {
  it('returns the common value, or undefined when nodes disagree or lack it', () => {
    const z = (v?: string) => node('n', {}, { labels: v ? { zone: v } : {} });
    expect(agreedLabel([z('a'), z('a')], 'zone')).toBe('a');
    expect(agreedLabel([z('a'), z('b')], 'zone')).toBeUndefined();
    expect(agreedLabel([z('a'), z()], 'zone')).toBeUndefined();
    expect(agreedLabel([], 'zone')).toBeUndefined();
  });
});

describe('lower-node floor (lowerNodeSelector)', () => {
  it('offers only the nodes that meet it, so capacity never counts a system node', () => {
    const nodes = [
      node('cp', { cpu: '8', pods: '110' }, { labels: { 'node-role.kubernetes.io/control-plane': '' } }),
      node('w1', { cpu: '2', pods: '110' }, { labels: { tier: 'apps' } }),
      node('w2', { cpu: '2', pods: '110' }, { labels: { tier: 'batch' } }),
    ];
    const names = (floor: string) => withinFloor(nodes, parseSelector(floor)).map((n) => n.name);
    expect(names('!node-role.kubernetes.io/control-plane')).toEqual(['w1', 'w2']);
    expect(names('tier in (apps)')).toEqual(['w1']);
    expect(withinFloor(nodes, [])).toHaveLength(3);
    expect(fromMilli(freeCapacity(withinFloor(nodes, parseSelector('!node-role.kubernetes.io/control-plane')), [])).cpu).toBe(
      '4',
    );
  });
});
