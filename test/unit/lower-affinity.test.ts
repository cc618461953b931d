import { describe, expect, it } from 'vitest';
import type { Pod } from '../../src/kube/types.js';
import { lowerConstraints, lowerSchedulingFields, satisfies, type Requirement } from '../../src/scheduling/lower-affinity.js';
import { labelFilter } from '../../scheduler-plugin/fit.js';
import { translatePod } from '../../provider/workload/translate.js';

const vnode = { 'fedlet.io/cluster': 'eu', 'topology.kubernetes.io/region': 'eu-west', type: 'virtual-kubelet' };
const pod = (terms: Requirement[][], nodeSelector?: Record<string, string>): Pod => ({
  metadata: { name: 'p', namespace: 'n', uid: 'u' },
  spec: {
    containers: [{ name: 'c' }],
    ...(nodeSelector ? { nodeSelector } : {}),
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: terms.map((matchExpressions) => ({ matchExpressions })),
        },
      },
      podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [] },
    },
  },
});
const zoneNotA: Requirement = { key: 'topology.kubernetes.io/zone', operator: 'NotIn', values: ['eu-west-a'] };
const inEu: Requirement = { key: 'fedlet.io/cluster', operator: 'In', values: ['eu'] };
const inUs: Requirement = { key: 'fedlet.io/cluster', operator: 'In', values: ['us'] };
const gpu: Requirement = { key: 'gpu', operator: 'Exists' };

describe('lowerConstraints (shared by the extender fit and translation)', () => {
  it('keeps lower-key expressions of terms that fit the virtual node, drops virtual keys', () => {
    const c = lowerConstraints(
      pod(
        [
          [inEu, zoneNotA],
          [inUs, gpu],
        ],
        { 'fedlet.io/cluster': 'eu', disk: 'ssd' },
      ),
      vnode,
    );
    expect(c).toEqual({ selector: { disk: 'ssd' }, terms: [[zoneNotA]] });
    expect(satisfies(c, { disk: 'ssd', 'topology.kubernetes.io/zone': 'eu-west-b' })).toBe(true);
    expect(satisfies(c, { disk: 'ssd', 'topology.kubernetes.io/zone': 'eu-west-a' })).toBe(false);
    expect(satisfies(c, { 'topology.kubernetes.io/zone': 'eu-west-b' })).toBe(false);
  });

  it('a fitting term made only of virtual keys leaves no constraint below', () => {
    expect(lowerConstraints(pod([[inEu], [zoneNotA]]), vnode)).toEqual({ selector: {} });
  });

  it('a pod whose terms all miss the virtual node (bound by hand) gets no invented constraint', () => {
    expect(lowerConstraints(pod([[inUs, gpu]]), vnode)).toEqual({ selector: {} });
  });

  it('the extender filter and the lower pod agree', () => {
    const p = pod([[inEu, zoneNotA]]);
    const filter = labelFilter(p, vnode);
    expect(filter({ 'topology.kubernetes.io/zone': 'eu-west-a' })).toBe(false);
    expect(filter({ 'topology.kubernetes.io/zone': 'eu-west-b' })).toBe(true);
    const lower = translatePod(p, {
      nodeName: 'fedlet-eu',
      clusterName: 'eu',
      lowerNamespace: 'n',
      allowDaemonSetPods: false,
      virtualNodeLabels: vnode,
    });
    expect(lower.spec.affinity).toEqual(lowerSchedulingFields(lowerConstraints(p, vnode)).affinity);
    expect(lower.spec.affinity).toEqual({
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [zoneNotA] }] } },
    });
    expect(lower.spec.nodeSelector).toBeUndefined();
  });

  it('without the virtual node labels, translation keeps no scheduling constraint (as before)', () => {
    const lower = translatePod(pod([[inEu, zoneNotA]]), {
      nodeName: 'fedlet-eu',
      clusterName: 'eu',
      lowerNamespace: 'n',
      allowDaemonSetPods: false,
    });
    expect(lower.spec.affinity).toBeUndefined();
  });
});
