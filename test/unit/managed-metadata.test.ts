import { describe, expect, it } from 'vitest';
import type { Pod } from '../../src/kube/types.js';
import { lowerPodPatch, withManagedRecord } from '../../provider/workload/managed-metadata.js';
import { ANNOTATION_MANAGED_METADATA } from '../../src/labels.js';

function pod(labels: Record<string, string>, annotations: Record<string, string>, image = 'app:1'): Pod {
  return {
    metadata: { name: 'p', namespace: 'n', labels, annotations },
    spec: { containers: [{ name: 'c', image }], tolerations: [{ key: 'a', operator: 'Exists' }] },
  };
}

describe('withManagedRecord', () => {
  it('records the label and annotation keys fedlet sets (not the record itself)', () => {
    const d = withManagedRecord(pod({ app: 'x', 'fedlet.io/origin': 'n1' }, { note: 'y' }));
    expect(JSON.parse(d.metadata.annotations![ANNOTATION_MANAGED_METADATA]!)).toEqual({
      labels: ['app', 'fedlet.io/origin'],
      annotations: ['note'],
    });
  });
});

describe('lowerPodPatch', () => {
  it('writes nothing for a steady pod, whatever the lower cluster added', () => {
    const desired = withManagedRecord(pod({ app: 'x' }, { note: 'y' }));
    const lower: Pod = {
      ...desired,
      metadata: {
        ...desired.metadata,
        labels: { ...desired.metadata.labels, 'lower.example/added': 'z' },
        annotations: { ...desired.metadata.annotations, 'lower.example/seen': 'z' },
      },
      spec: {
        ...desired.spec,
        tolerations: [
          ...desired.spec.tolerations!,
          { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        ],
      },
    };
    expect(lowerPodPatch(lower, desired)).toBeUndefined();
  });

  it('removes a key fedlet set before and the upper pod no longer has; leaves lower additions alone', () => {
    const before = withManagedRecord(pod({ app: 'x', tier: 'gold' }, { note: 'y' }));
    const lower: Pod = { ...before, metadata: { ...before.metadata, labels: { ...before.metadata.labels, mine: 'lower' } } };
    const desired = withManagedRecord(pod({ app: 'x' }, {}));
    expect(lowerPodPatch(lower, desired)).toEqual({
      metadata: {
        labels: { tier: null },
        annotations: { note: null, [ANNOTATION_MANAGED_METADATA]: JSON.stringify({ labels: ['app'], annotations: [] }) },
      },
    });
  });

  it('updates images by container name, activeDeadlineSeconds, and adds missing tolerations to the existing ones', () => {
    const lower = withManagedRecord(pod({}, {}));
    lower.spec.tolerations = [...lower.spec.tolerations!, { key: 'lower-default', operator: 'Exists' }];
    const desired = withManagedRecord(pod({}, {}, 'app:2'));
    desired.spec.activeDeadlineSeconds = 60;
    desired.spec.tolerations = [...desired.spec.tolerations!, { key: 'extra', operator: 'Exists', effect: 'NoSchedule' }];
    expect(lowerPodPatch(lower, desired)).toEqual({
      spec: {
        containers: [{ name: 'c', image: 'app:2' }],
        activeDeadlineSeconds: 60,
        tolerations: [
          { key: 'a', operator: 'Exists' },
          { key: 'lower-default', operator: 'Exists' },
          { key: 'extra', operator: 'Exists', effect: 'NoSchedule' },
        ],
      },
    });
  });

  it('a lower pod without a record (older fedlet): sets what differs, removes nothing', () => {
    const lower = pod({ app: 'x', old: 'y' }, {});
    const desired = withManagedRecord(pod({ app: 'x' }, {}));
    expect(lowerPodPatch(lower, desired)).toEqual({
      metadata: { annotations: { [ANNOTATION_MANAGED_METADATA]: desired.metadata.annotations![ANNOTATION_MANAGED_METADATA] } },
    });
  });
});
