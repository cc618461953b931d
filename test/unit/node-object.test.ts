import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import {
  desiredConditions,
  desiredLabels,
  desiredStatus,
  labelPatch,
  mergeTaints,
  resourcePatch,
} from '../../src/node/node-object.js';
import type { ProviderNodeState } from '../../src/provider.js';

const cfg = loadConfig({
  argv: ['--lower-kubeconfig', '/l', '--cluster-name', 'eu-1', '--node-label', 'team=a', '--region', 'eu'],
  env: {},
});
const state: ProviderNodeState = {
  condition: { ready: true, reason: 'LowerClusterReady', message: 'ok' },
  resources: { cpu: '4', memory: '1024', pods: '10' },
  labels: { 'kubernetes.io/arch': 'arm64', 'topology.kubernetes.io/zone': 'eu-a' },
};

describe('virtual node object', () => {
  it('carries the contract labels; config wins over derived labels', () => {
    expect(desiredLabels(cfg, state)).toMatchObject({
      type: 'virtual-kubelet',
      'kubernetes.io/role': 'agent',
      'fedlet.io/cluster': 'eu-1',
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'arm64',
      'topology.kubernetes.io/region': 'eu',
      'topology.kubernetes.io/zone': 'eu-a',
      team: 'a',
    });
  });

  it('keeps lastTransitionTime while a condition does not change', () => {
    const first = desiredConditions(state, 't1');
    const second = desiredConditions(state, 't2', first);
    expect(second.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'True',
      lastTransitionTime: 't1',
      lastHeartbeatTime: 't2',
    });
    const down = desiredConditions(
      { ...state, condition: { ready: false, reason: 'LowerClusterUnreachable', message: 'x' } },
      't3',
      second,
    );
    expect(down.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', lastTransitionTime: 't3' });
  });

  it('publishes one InternalIP and the kubelet port', () => {
    const st = desiredStatus(cfg, state, 't');
    expect(st.addresses).toEqual([{ type: 'InternalIP', address: '127.0.0.1' }]);
    expect(st.daemonEndpoints?.kubeletEndpoint?.Port).toBe(10250);
    expect(st.capacity).toEqual(st.allocatable);
  });

  it('removes only labels and taints it set before', () => {
    expect(labelPatch({ a: '1', mine: 'x', theirs: 'y' }, ['a', 'mine'], { a: '2' })).toEqual({ a: '2', mine: null });
    const taints = mergeTaints(
      [
        { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' },
        { key: 'old', effect: 'NoSchedule' },
      ],
      ['old:NoSchedule'],
      [{ key: 'new', effect: 'NoSchedule' }],
    );
    expect(taints).toEqual([
      { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' },
      { key: 'new', effect: 'NoSchedule' },
    ]);
  });

  it('deletes resources that disappeared', () => {
    expect(resourcePatch({ cpu: '1', 'nvidia.com/gpu': '4' }, { cpu: '2' })).toEqual({ cpu: '2', 'nvidia.com/gpu': null });
  });
});
