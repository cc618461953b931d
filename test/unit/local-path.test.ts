import { describe, expect, it } from 'vitest';
import { desiredVolume, resizeAction, roundUpGi } from '../../sandbox/local-path.js';

describe('sandbox local-path provisioner', () => {
  it.each([
    ['1Gi', '1Gi'],
    ['1536Mi', '2Gi'],
    ['1G', '1Gi'],
    ['100Mi', '1Gi'],
    ['10Gi', '10Gi'],
  ])('sizes %s as %s (whole GiB)', (q, want) => expect(roundUpGi(q)).toBe(want));

  it('a volume pinned to the selected node, in a directory of its own, bound to the claim', () => {
    const pv = desiredVolume(
      {
        metadata: { name: 'data', namespace: 'ns', uid: 'abc' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1536Mi' } } },
      },
      { metadata: { name: 'local' }, reclaimPolicy: 'Delete' },
      'node-a',
      '/tmp/x/volumes',
    );
    expect(pv.metadata?.name).toBe('pvc-abc');
    expect(pv.spec).toMatchObject({
      capacity: { storage: '2Gi' },
      claimRef: { namespace: 'ns', name: 'data', uid: 'abc' },
      persistentVolumeReclaimPolicy: 'Delete',
      local: { path: '/tmp/x/volumes/pvc-abc' },
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-a'] }] }],
        },
      },
    });
  });

  it.each([
    ['same size', '1Gi', { kind: 'none' }],
    ['larger', '1500Mi', { kind: 'grow', size: '2Gi' }],
    [
      'beyond the limit',
      '200Gi',
      { kind: 'refuse', message: expect.stringMatching(/200Gi exceeds the largest sandbox local-path volume \(100Gi\)/) },
    ],
  ])('resize: %s', (_n, want, out) =>
    expect(
      resizeAction({ spec: { resources: { requests: { storage: want } } } }, { spec: { capacity: { storage: '1Gi' } } }),
    ).toEqual(out),
  );
});
