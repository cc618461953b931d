// Cached objects share repeated strings and sub-objects: two parsed replicas end up holding one owner
// reference list and one toleration list, frozen, while their own fields stay theirs.
import { describe, expect, it } from 'vitest';
import { shareRepeats } from '../../src/util/intern.js';

const replica = (name: string) =>
  JSON.parse(
    JSON.stringify({
      metadata: {
        name,
        uid: `uid-of-${name}-0123456789`,
        ownerReferences: [{ kind: 'ReplicaSet', name: 'web-7d9f8c5b4', uid: 'rs-uid-0123456789' }],
      },
      spec: { tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists' }], dnsPolicy: 'ClusterFirstWithHostNet' },
    }),
  ) as { metadata: { name: string; uid: string; ownerReferences: object[] }; spec: { tolerations: object[]; dnsPolicy: string } };

describe('shareRepeats', () => {
  it('shares equal sub-objects between objects and freezes them; values stay equal', () => {
    const a = shareRepeats(replica('web-1'));
    const b = shareRepeats(replica('web-2'));
    expect(b.metadata.ownerReferences).toBe(a.metadata.ownerReferences);
    expect(b.spec.tolerations).toBe(a.spec.tolerations);
    expect(Object.isFrozen(a.spec.tolerations[0])).toBe(true);
    expect(b).toEqual(replica('web-2'));
    expect(() => a.spec.tolerations.push({})).toThrow(TypeError);
  });

  it('leaves what differs per object its own', () => {
    const a = shareRepeats(replica('web-1'));
    const b = shareRepeats(replica('web-2'));
    expect(a.metadata.uid).not.toBe(b.metadata.uid);
    expect(Object.isFrozen(a.metadata)).toBe(false);
    a.metadata.name = 'renamed';
    expect(b.metadata.name).toBe('web-2');
  });
});
