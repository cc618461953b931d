// What a pod may do below is never more than the upper cluster allowed it: the toleration policy
// (which tolerations go down), a kubelet's NodeAffinity admission for pods bound by hand, and the
// lower-node floor on every lower pod. Table tests of the pure rules.
import { describe, expect, it } from 'vitest';
import type { Pod, Toleration } from '../../src/kube/types.js';
import { decideTolerations, deniedMessage, deniedToleration } from '../../provider/workload/tolerations.js';
import { boundByScheduler, nodeAffinityRefusal } from '../../provider/workload/node-admission.js';
import { translatePod } from '../../provider/workload/translate.js';
import { DEFAULT_TENANCY, tenancyPolicy } from '../../provider/tenancy.js';
import { loadConfig } from '../../src/config.js';

const denied = DEFAULT_TENANCY.deniedTolerationKeys;
const pod = (spec: Partial<Pod['spec']> = {}, scheduled = false): Pod => ({
  metadata: { name: 'p', namespace: 'pay', uid: 'u' },
  spec: { nodeName: 'fedlet-eu', containers: [{ name: 'c', image: 'i' }], ...spec },
  ...(scheduled ? { status: { conditions: [{ type: 'PodScheduled', status: 'True' }] } } : {}),
});

describe('tolerations below', () => {
  it.each<[string, Toleration, boolean]>([
    ['keyless Exists', { operator: 'Exists' }, true],
    ['keyless Exists NoSchedule', { operator: 'Exists', effect: 'NoSchedule' }, true],
    ['control plane', { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }, true],
    ['master', { key: 'node-role.kubernetes.io/master', operator: 'Exists' }, true],
    ['cordoned nodes', { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }, true],
    ['disk pressure', { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' }, true],
    ['unreachable forever', { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' }, true],
    [
      'not-ready for 300 s (every pod’s default)',
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      false,
    ],
    [
      'unreachable for 30 s',
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
      false,
    ],
    ['the virtual node taint', { key: 'fedlet.io/virtual-node', operator: 'Equal', value: 'true', effect: 'NoSchedule' }, false],
    ['a team’s own taint', { key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }, false],
  ])('%s: denied=%s', (_what, t, want) => {
    expect(deniedToleration(t, denied) !== undefined).toBe(want);
  });

  it('drop: the lower pod goes without the denied ones (the event says which and why); keep: all go down', () => {
    const tolerations: Toleration[] = [
      { operator: 'Exists' },
      { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
      { key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' },
    ];
    const p = pod({ tolerations });
    const d = decideTolerations(p, 'drop', denied);
    expect(d.kept).toEqual([tolerations[2]]);
    expect(deniedMessage(p, d, 'drop', 'eu')).toBe(
      "pod pay/p runs in lower cluster eu without these tolerations: (any key):(any effect) (a toleration without a key (operator Exists) tolerates every taint); node-role.kubernetes.io/control-plane:NoSchedule (taint key node-role.kubernetes.io/control-plane is kept for the lower cluster's own nodes (deniedTolerationKeys)) (tolerationPolicy: drop)",
    );
    const ctx = { nodeName: 'fedlet-eu', clusterName: 'eu', lowerNamespace: 'pay-eu', allowDaemonSetPods: false };
    expect(translatePod(p, { ...ctx, tolerations: { policy: 'drop', denied } }).spec.tolerations).toEqual([tolerations[2]]);
    expect(
      translatePod(pod({ tolerations: [tolerations[0]!] }), { ...ctx, tolerations: { policy: 'drop', denied } }).spec,
    ).not.toHaveProperty('tolerations');
    expect(translatePod(p, { ...ctx, tolerations: { policy: 'keep', denied } }).spec.tolerations).toEqual(tolerations);
    expect(decideTolerations(p, 'keep', denied).denied).toEqual([]);
  });
});

describe('NodeAffinity admission (as a kubelet admits a pod bound to it)', () => {
  const node = {
    name: 'fedlet-eu',
    labels: { 'fedlet.io/cluster': 'eu', 'kubernetes.io/os': 'linux', type: 'virtual-kubelet' },
    lowerNodes: [
      { 'kubernetes.io/hostname': 'w1', tier: 'apps' },
      { 'kubernetes.io/hostname': 'w2', tier: 'apps' },
    ],
  };
  const affinity = (terms: Array<Record<string, unknown>>) => ({
    nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
  });
  it.each<[string, Partial<Pod['spec']>, boolean, boolean]>([
    ['no constraints', {}, false, true],
    ['selector on the node’s own label', { nodeSelector: { 'fedlet.io/cluster': 'eu' } }, false, true],
    ['selector for another cluster', { nodeSelector: { 'fedlet.io/cluster': 'us' } }, false, false],
    ['selector for another cluster, even if scheduled', { nodeSelector: { 'fedlet.io/cluster': 'us' } }, true, false],
    ['hand-bound, selector on a lower key some lower node has', { nodeSelector: { tier: 'apps' } }, false, true],
    [
      'hand-bound, selector on a lower system node key',
      { nodeSelector: { 'node-role.kubernetes.io/control-plane': '' } },
      false,
      false,
    ],
    [
      'scheduled, lower key (the extender checked it)',
      { nodeSelector: { 'node-role.kubernetes.io/control-plane': '' } },
      true,
      true,
    ],
    [
      'affinity: one of two terms matches',
      {
        affinity: affinity([
          { matchExpressions: [{ key: 'fedlet.io/cluster', operator: 'In', values: ['us'] }] },
          { matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In', values: ['linux'] }] },
        ]),
      },
      false,
      true,
    ],
    [
      'affinity: no term matches',
      { affinity: affinity([{ matchExpressions: [{ key: 'fedlet.io/cluster', operator: 'NotIn', values: ['eu'] }] }]) },
      false,
      false,
    ],
    [
      'affinity: matchFields names the node',
      { affinity: affinity([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['fedlet-eu'] }] }]) },
      false,
      true,
    ],
    [
      'affinity: matchFields names another node',
      { affinity: affinity([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-1'] }] }]) },
      false,
      false,
    ],
    [
      'hand-bound: lower key in a term no lower node satisfies with the selector',
      {
        nodeSelector: { tier: 'apps' },
        affinity: affinity([{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['cp-1'] }] }]),
      },
      false,
      false,
    ],
  ])('%s', (_what, spec, scheduled, admitted) => {
    const p = pod(spec, scheduled);
    expect(boundByScheduler(p)).toBe(scheduled);
    const r = nodeAffinityRefusal(p, node);
    expect(r === undefined).toBe(admitted);
    if (r)
      expect(r).toMatch(/^Pod was rejected: Predicate NodeAffinity failed: node\(s\) didn't match Pod's node affinity\/selector/);
  });
  it('without the offered lower nodes, lower keys are not checked', () => {
    expect(nodeAffinityRefusal(pod({ nodeSelector: { x: 'y' } }), { ...node, lowerNodes: undefined })).toBeUndefined();
  });
});

describe('lower-node floor (lowerNodeSelector)', () => {
  it('is ANDed into every lower pod’s required node affinity', () => {
    const floor = tenancyPolicy(
      loadConfig({
        argv: [
          '--lower-kubeconfig',
          '/l',
          '--cluster-name',
          'eu',
          '--lower-node-selector',
          '!node-role.kubernetes.io/control-plane',
        ],
        env: {},
      }),
    ).lowerNodeFloor;
    expect(floor).toEqual([{ key: 'node-role.kubernetes.io/control-plane', operator: 'DoesNotExist' }]);
    const ctx = {
      nodeName: 'fedlet-eu',
      clusterName: 'eu',
      lowerNamespace: 'pay-eu',
      allowDaemonSetPods: false,
      lowerNodeFloor: floor,
    };
    expect(translatePod(pod(), ctx).spec.affinity).toEqual({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'DoesNotExist' }] }],
        },
      },
    });
    const tiered = translatePod(
      pod({
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'tier', operator: 'In', values: ['a'] }] },
                { matchExpressions: [{ key: 'tier', operator: 'In', values: ['b'] }] },
              ],
            },
          },
        },
      }),
      { ...ctx, virtualNodeLabels: { 'fedlet.io/cluster': 'eu' } },
    );
    const terms = (
      tiered.spec.affinity as {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: Array<{ matchExpressions: unknown[] }> };
        };
      }
    ).nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
    expect(terms.map((t) => t.matchExpressions.length)).toEqual([2, 2]);
  });
  it('a bad selector is a configuration error naming the option', () => {
    expect(() =>
      tenancyPolicy(
        loadConfig({ argv: ['--lower-kubeconfig', '/l', '--cluster-name', 'eu', '--lower-node-selector', 'a in b'], env: {} }),
      ),
    ).toThrow(/lowerNodeSelector: "a in b" is not a label selector requirement/);
  });
});
