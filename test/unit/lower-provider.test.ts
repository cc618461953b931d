// The lower provider composed from one configuration, on two in-memory API servers: what it offers as
// the virtual node (free capacity of Ready, schedulable lower nodes after pods it does not manage, the
// labels the nodes agree on, readiness from the lower API server's /readyz), and one pod's round trip
// (lower namespace and pod created with fedlet's ownership, status read back, deletion).
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../../src/config.js';
import { EventRecorder } from '../../src/events.js';
import type { KubeClient } from '../../src/kube/client.js';
import type { Node, Pod } from '../../src/kube/types.js';
import { LABEL_ORIGIN, LABEL_REGION } from '../../src/labels.js';
import { LowerProvider } from '../../provider/lower-provider.js';
import { FakeKube } from './support/fake-kube.js';

const log = pino({ level: 'silent' });
const running: LowerProvider[] = [];
afterEach(async () => {
  for (const p of running.splice(0)) await p.stop();
});

const node = (name: string, ready: boolean, extra: Partial<Node['spec']> = {}): Node => ({
  metadata: { name, labels: { [LABEL_REGION]: 'eu-west', 'kubernetes.io/os': 'linux' } },
  spec: { ...extra },
  status: {
    conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
  },
});

async function started(argv: string[] = []) {
  const upper = new FakeKube();
  const lower = new FakeKube();
  lower.seed('/api/v1/nodes', node('n1', true));
  lower.seed('/api/v1/nodes', node('n2', false));
  lower.seed('/api/v1/nodes', node('n3', true, { unschedulable: true }));
  // A pod fedlet does not manage takes room on n1.
  lower.seed('/api/v1/namespaces/team/pods', {
    metadata: { name: 'theirs', namespace: 'team' },
    spec: { nodeName: 'n1', containers: [{ name: 'c', resources: { requests: { cpu: '1', memory: '1Gi' } } }] },
    status: { phase: 'Running' },
  });
  const cfg = loadConfig({
    argv: [
      '--lower-kubeconfig',
      'l',
      '--cluster-name',
      'eu-1',
      '--node-ip',
      '10.0.0.1',
      '--capacity-debounce',
      '1',
      '--lower-health-interval',
      '1',
      ...argv,
    ],
    env: {},
  });
  const provider = new LowerProvider(cfg, {
    lower: lower as unknown as KubeClient,
    upper: upper as unknown as KubeClient,
    events: new EventRecorder({ client: upper, component: 'fedlet', host: cfg.nodeName, log }),
    log,
  });
  running.push(provider);
  await provider.start(new AbortController().signal);
  return { upper, lower, provider, cfg };
}

async function eventually(ok: () => boolean, tries = 300): Promise<boolean> {
  for (let i = 0; i < tries && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  return ok();
}

describe('LowerProvider', () => {
  it('offers the free room of Ready, schedulable lower nodes after pods it does not manage', async () => {
    const { provider } = await started();
    const s = provider.nodeState();
    expect(s.condition).toMatchObject({ ready: true, reason: 'LowerClusterReady' });
    expect(s.condition.message).toMatch(/1 of 3 nodes Ready and schedulable/);
    expect(s.resources).toMatchObject({ cpu: '3', memory: String(7 * 1024 ** 3), pods: '109' });
    expect(s.labels[LABEL_REGION]).toBe('eu-west');
  });

  it('reports the lower cluster unreachable when its /readyz fails', async () => {
    const { provider, lower } = await started();
    lower.ready = false;
    // The failure threshold (2 probes) must be reached before the node flips.
    expect(await eventually(() => provider.nodeState().condition.reason === 'LowerClusterUnreachable', 2000)).toBe(true);
    expect(provider.backendReachable()).toBe(false);
  });

  it('runs a pod below with fedlet’s ownership, reads its status back, and deletes it', async () => {
    const { provider, lower } = await started();
    const pod: Pod = {
      metadata: { name: 'web', namespace: 'shop', uid: 'u-1' },
      spec: { nodeName: 'fedlet-eu-1', containers: [{ name: 'c', image: 'nginx' }] },
      status: { phase: 'Pending' },
    };
    expect(await provider.ensurePod(pod)).toEqual({ kind: 'ok' });
    const lowerPod = lower.peek<Pod>('/api/v1/namespaces/shop-eu-1/pods/web');
    expect(lowerPod?.metadata.labels?.[LABEL_ORIGIN]).toBe('fedlet-eu-1');
    expect(lowerPod?.spec.nodeName).toBeUndefined();
    expect(lower.peek('/api/v1/namespaces/shop-eu-1')).toBeDefined();

    lower.seed('/api/v1/namespaces/shop-eu-1/pods', { ...lowerPod!, status: { phase: 'Running', podIP: '10.244.0.5' } });
    expect(await eventually(() => provider.podStatus(pod)?.phase === 'Running')).toBe(true);
    expect(provider.knownPodKeys()).toEqual(['shop/web']);

    await provider.deletePod('shop/web', 0);
    expect(lower.peek('/api/v1/namespaces/shop-eu-1/pods/web')).toBeUndefined();
  });

  it('a bad namespace template or IP remap is a configuration error naming the setting', () => {
    const base = ['--lower-kubeconfig', 'l', '--cluster-name', 'eu-1', '--node-ip', '10.0.0.1'];
    const deps = { lower: new FakeKube() as unknown as KubeClient, upper: new FakeKube() as unknown as KubeClient, log };
    const events = new EventRecorder({ client: new FakeKube(), component: 'fedlet', host: 'x', log });
    expect(
      () => new LowerProvider(loadConfig({ argv: [...base, '--namespace-template', 'x'], env: {} }), { ...deps, events }),
    ).toThrow(ConfigError);
    expect(
      () => new LowerProvider(loadConfig({ argv: [...base, '--pod-ip-remap', 'nonsense'], env: {} }), { ...deps, events }),
    ).toThrow(/remap/i);
  });
});
