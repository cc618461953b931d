// Status fields a real kubelet reports beyond kwok's stages: observedGeneration (mapped between the two
// pods' generations) and pod-level resources, mirrored onto the upper pod.
import { describe, expect, it } from 'vitest';
import { upperStatusFromLower } from '../../provider/workload/pod-status.js';
import { IpRemapper, parseRemapPairs } from '../../provider/workload/remap.js';
import type { Pod } from '../../src/kube/types.js';

const ctx = { nodeIP: '198.18.0.1', remapper: new IpRemapper(parseRemapPairs('10.244.0.0/16=10.101.0.0/16')) };
const pod = (generation: number, status: Pod['status'] = {}): Pod => ({
  metadata: { name: 'p', namespace: 'n', generation },
  spec: { containers: [{ name: 'c', image: 'i' }] },
  status,
});

describe('mirroring what a real kubelet reports', () => {
  const lowerStatus = (observed: number): Pod['status'] => ({
    phase: 'Running',
    observedGeneration: observed,
    resources: {},
    conditions: [{ type: 'Ready', status: 'True', observedGeneration: observed }],
  });

  it('maps observedGeneration to the upper pod’s generation once the kubelet saw the current lower spec', () => {
    const st = upperStatusFromLower(pod(2, lowerStatus(2)), pod(5), ctx);
    expect(st.observedGeneration).toBe(5);
    expect(st.conditions?.find((c) => c.type === 'Ready')?.observedGeneration).toBe(5);
    expect(st.resources).toEqual({});
  });

  it('claims nothing while the kubelet still works on an older lower spec', () => {
    const st = upperStatusFromLower(pod(3, lowerStatus(2)), pod(5), ctx);
    expect(st.observedGeneration).toBeUndefined();
    expect(st.conditions?.find((c) => c.type === 'Ready')).not.toHaveProperty('observedGeneration');
  });
});
