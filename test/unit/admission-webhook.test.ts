import { describe, expect, it } from 'vitest';
import type { Pod } from '../../src/kube/types.js';
import {
  review,
  tolerationPatch,
  VIRTUAL_NODE_TOLERATION,
  AdmissionInputError,
} from '../../scheduler-plugin/admission-webhook.js';
import { nodeTaints } from '../../src/node/node-object.js';

const pod = (extra: Partial<Pod['spec']> = {}, owner?: string): Pod => ({
  metadata: {
    name: 'p',
    namespace: 'n',
    ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: owner, name: 'o', uid: 'u', controller: true }] } : {}),
  },
  spec: { containers: [{ name: 'c' }], ...extra },
});

describe('tolerationPatch', () => {
  it('adds the toleration to a plain pod without tolerations', () => {
    expect(tolerationPatch(pod())).toEqual([{ op: 'add', path: '/spec/tolerations', value: [VIRTUAL_NODE_TOLERATION] }]);
  });
  it('appends it to existing tolerations', () => {
    expect(tolerationPatch(pod({ tolerations: [{ key: 'x', operator: 'Exists' }] }))).toEqual([
      { op: 'add', path: '/spec/tolerations/-', value: VIRTUAL_NODE_TOLERATION },
    ]);
  });
  it('leaves DaemonSet pods alone (DaemonSets must not see virtual nodes as theirs)', () => {
    expect(tolerationPatch(pod({}, 'DaemonSet'))).toBeUndefined();
    expect(tolerationPatch(pod({}, 'ReplicaSet'))).toBeDefined();
  });
  it('leaves pods that already tolerate the taint alone', () => {
    expect(tolerationPatch(pod({ tolerations: [{ operator: 'Exists' }] }))).toBeUndefined();
    expect(tolerationPatch(pod({ tolerations: [VIRTUAL_NODE_TOLERATION] }))).toBeUndefined();
  });
});

describe('review', () => {
  it('allows and patches a pod CREATE', () => {
    const out = review({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'r1', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', object: pod() },
    });
    expect(out.response).toMatchObject({ uid: 'r1', allowed: true, patchType: 'JSONPatch' });
    expect(JSON.parse(Buffer.from(out.response.patch as string, 'base64').toString())).toEqual(tolerationPatch(pod()));
  });
  it('allows without a patch what it does not mutate', () => {
    const out = review({ request: { uid: 'r2', kind: { kind: 'Pod' }, operation: 'CREATE', object: pod({}, 'DaemonSet') } });
    expect(out.response).toEqual({ uid: 'r2', allowed: true });
  });
  it('rejects a malformed review', () => {
    expect(() => review({})).toThrow(AdmissionInputError);
  });
});

describe('nodeTaints', () => {
  const base = { nodeTaints: [], virtualNodeTaint: true, allowDaemonSetPods: false };
  it('adds the virtual-node taint by default', () => {
    expect(nodeTaints(base)).toEqual([{ key: 'fedlet.io/virtual-node', value: 'true', effect: 'NoSchedule' }]);
  });
  it('not when DaemonSet pods are allowed or the taint is off', () => {
    expect(nodeTaints({ ...base, allowDaemonSetPods: true })).toEqual([]);
    expect(nodeTaints({ ...base, virtualNodeTaint: false })).toEqual([]);
  });
});
