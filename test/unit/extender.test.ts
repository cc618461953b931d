import { describe, expect, it } from 'vitest';
import { fitInCluster, scores, tolerates } from '../../scheduler-plugin/fit.js';
import { buildSummary } from '../../provider/summary.js';
import { freePerNode, type LowerNode } from '../../provider/capacity.js';
import { toMilli } from '../../src/util/quantity.js';
import type { Pod } from '../../src/kube/types.js';

const node = (name: string, cpu: string, extra: Partial<LowerNode> = {}): LowerNode => ({
  name,
  ready: true,
  unschedulable: false,
  allocatable: toMilli({ cpu, memory: '8Gi', pods: '110' }),
  labels: { 'kubernetes.io/hostname': name },
  taints: [],
  ...extra,
});
const summary = (nodes: LowerNode[]) => buildSummary('fedlet-a', 'a', nodes, freePerNode(nodes, []), {});
const pod = (cpu: string, spec: Partial<Pod['spec']> = {}): Pod => ({
  metadata: { name: 'p', namespace: 'd' },
  spec: { containers: [{ name: 'c', resources: { requests: { cpu } } }], ...spec },
});
const vnodeLabels = { 'fedlet.io/cluster': 'a', type: 'virtual-kubelet', 'kubernetes.io/hostname': 'fedlet-a' };

describe('fitInCluster', () => {
  it('needs one node that fits, not the aggregate', () => {
    const s = summary([0, 1, 2, 3].map((i) => node(`n${i}`, '2')));
    expect(s.nodes).toHaveLength(1); // identical nodes folded
    expect(s.nodes[0]![3]).toBe(4);
    expect(fitInCluster(pod('3'), s, vnodeLabels)).toMatchObject({
      fits: false,
      reason: expect.stringMatching(/no single node in lower cluster a fits the pod \(4 Ready nodes: 4 too little free cpu/),
    });
    expect(fitInCluster(pod('1'), s, vnodeLabels)).toMatchObject({ fits: true, copies: 8 });
  });

  it('honours taints and tolerations', () => {
    const s = summary([node('t', '8', { taints: [{ key: 'dedicated', value: 'batch', effect: 'NoSchedule' }] })]);
    expect(fitInCluster(pod('1'), s, vnodeLabels).reason).toMatch(/untolerated taints/);
    expect(
      fitInCluster(
        pod('1', { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'batch', effect: 'NoSchedule' }] }),
        s,
        vnodeLabels,
      ).fits,
    ).toBe(true);
    expect(tolerates([{ operator: 'Exists' }], { key: 'x', effect: 'NoExecute' })).toBe(true);
    expect(tolerates([{ key: 'x', operator: 'Exists', effect: 'NoSchedule' }], { key: 'x', effect: 'NoExecute' })).toBe(false);
  });

  it('applies selector terms about lower nodes and skips those about the virtual node', () => {
    const s = summary([node('gpu', '8', { labels: { accel: 'gpu' } }), node('cpu', '8', { labels: { accel: 'none' } })]);
    const sel = pod('1', { nodeSelector: { 'fedlet.io/cluster': 'a', accel: 'gpu' } });
    expect(fitInCluster(sel, s, vnodeLabels)).toMatchObject({ fits: true, copies: 8 });
    expect(fitInCluster(pod('1', { nodeSelector: { accel: 'tpu' } }), s, vnodeLabels).fits).toBe(false);
    const aff = pod('1', {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  { key: 'accel', operator: 'NotIn', values: ['gpu'] },
                  { key: 'type', operator: 'In', values: ['virtual-kubelet'] },
                ],
              },
            ],
          },
        },
      },
    });
    expect(fitInCluster(aff, s, vnodeLabels)).toMatchObject({ fits: true, copies: 8 });
  });

  it('ignores NotReady and cordoned nodes', () => {
    const s = summary([node('a', '8', { ready: false }), node('b', '8', { unschedulable: true })]);
    expect(fitInCluster(pod('1'), s, vnodeLabels).fits).toBe(false);
  });

  it('scores clusters by how many copies of the pod they can take', () => {
    expect(
      Object.fromEntries(
        scores(
          new Map([
            ['a', 2],
            ['b', 1],
            ['c', 0],
          ]),
        ),
      ),
    ).toEqual({ a: 10, b: 5, c: 0 });
  });
});

describe('extender wire format', () => {
  it('reads the Go field names kube-scheduler sends and answers in them', async () => {
    const { Extender } = await import('../../scheduler-plugin/extender.js');
    const { pino } = await import('pino');
    const ext = new Extender({ upper: {} as never, namespace: 'fedlet-system', log: pino({ level: 'silent' }) });
    const r = ext.filter({ Pod: pod('1'), NodeNames: ['real-node', 'fedlet-unknown'] });
    expect(r).toEqual({ NodeNames: ['real-node', 'fedlet-unknown'], FailedNodes: {}, Error: '' });
    expect(ext.prioritize({ Pod: pod('1'), NodeNames: ['a'] })).toEqual([{ Host: 'a', Score: 0 }]);
    expect(() => ext.filter({ NodeNames: ['a'] })).toThrow(/no Pod/);
  });
});
