import { describe, expect, it } from 'vitest';
import { statusTable } from '../../src/status-table.js';
import { LABEL_CLUSTER, LABEL_TYPE, TYPE_VIRTUAL_KUBELET } from '../../src/labels.js';
import { FakeKube } from './support/fake-kube.js';

describe('fedlet status table', () => {
  it('prints capacity as kubectl would (64Gi, not the byte count on the Node)', async () => {
    const kube = new FakeKube();
    kube.seed('/api/v1/nodes', {
      metadata: { name: 'fedlet-eu', labels: { [LABEL_TYPE]: TYPE_VIRTUAL_KUBELET, [LABEL_CLUSTER]: 'eu' } },
      status: {
        allocatable: { cpu: '15500m', memory: String(64 * 1024 ** 3), pods: '1000' },
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
      },
    });
    kube.seed('/api/v1/namespaces/default/pods', {
      metadata: { name: 'p', namespace: 'default' },
      spec: { nodeName: 'fedlet-eu', containers: [] },
      status: { phase: 'Running' },
    });
    const lines = (await statusTable(kube)).trimEnd().split('\n');
    expect(lines[0]!.split(/\s+/)).toEqual([
      'NODE',
      'CLUSTER',
      'POOL',
      'READY',
      'REASON',
      'CPU',
      'MEMORY',
      'PODS-FREE',
      'PODS(RUNNING/TOTAL)',
    ]);
    expect(lines[1]!.split(/\s+/)).toEqual(['fedlet-eu', 'eu', '-', 'True', 'KubeletReady', '15500m', '64Gi', '1k', '1/1']);
  });

  it('says when there is no virtual node', async () => {
    expect(await statusTable(new FakeKube())).toMatch(/no virtual nodes: is fedlet running\?/);
  });
});
