// The virtual node tells the truth about its lower cluster (labels, capacity, readiness).
import { afterAll, describe, expect, it } from 'vitest';
import { parseQuantity } from '../../src/util/quantity.js';
import { createKwokNode } from '../../sandbox/cluster.js';
import { restartComponent, saveState, startFedlet, stopComponent, stopFedlet, waitForNodesReady } from '../../sandbox/sandbox.js';
import { eventually, kubectl, kubectlJson, sandbox } from './framework/kubectl.js';
import { readyCondition, type NodeJson } from './framework/nodes.js';

const s = sandbox();
const upper = s.upperKubeconfig;
const [lower1, lower2] = s.lowerKubeconfigs as [string, string];
const [f1, f2] = s.fedlets as [(typeof s.fedlets)[0], (typeof s.fedlets)[0]];

async function upperNode(name: string): Promise<NodeJson> {
  return kubectlJson<NodeJson>(upper, ['get', 'node', name]);
}
function alloc(n: NodeJson, r: string): bigint {
  const v = n.status?.allocatable?.[r];
  return v === undefined ? -1n : parseQuantity(v);
}
async function waitAlloc(node: string, want: Record<string, bigint | undefined>): Promise<NodeJson> {
  return eventually(
    async () => {
      const n = await upperNode(node);
      for (const [r, v] of Object.entries(want)) {
        const have = n.status?.allocatable?.[r];
        if (v === undefined) {
          if (have !== undefined) throw new Error(`${r} still present (${have})`);
        } else if (alloc(n, r) !== v) throw new Error(`${r} is ${have}, want ${v} milli`);
      }
      return n;
    },
    { timeoutMs: 60_000, what: `allocatable of ${node}` },
  );
}

describe('virtual nodes', () => {
  afterAll(async () => {
    await kubectl(lower1, ['delete', 'pod', 'unmanaged-load', '--ignore-not-found', '--wait=false']).catch(() => undefined);
  });

  it('registers one Ready virtual node per lower cluster, with the contract labels', async () => {
    const list = await kubectlJson<{ items: NodeJson[] }>(upper, ['get', 'nodes', '-l', 'type=virtual-kubelet']);
    const byName = new Map(list.items.map((n) => [n.metadata.name, n]));
    for (const [i, f] of s.fedlets.entries()) {
      const n = byName.get(f.nodeName);
      expect(n, `node ${f.nodeName}`).toBeDefined();
      expect(readyCondition(n!)?.status).toBe('True');
      expect(n!.metadata.labels).toMatchObject({
        type: 'virtual-kubelet',
        'kubernetes.io/role': 'agent',
        'fedlet.io/cluster': f.cluster,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
      });
      if (!s.external) {
        // The sandbox's lower nodes of cluster i all carry one region, and differ in zone.
        expect(n!.metadata.labels?.['topology.kubernetes.io/region']).toBe(['eu-west', 'us-east'][i]);
        expect(n!.metadata.labels?.['topology.kubernetes.io/zone']).toBeUndefined();
      }
    }
    const wide = await kubectl(upper, ['get', 'nodes', '-o', 'wide']);
    expect(wide).toMatch(new RegExp(`${f1.nodeName}\\s+Ready`));
    expect(wide).toMatch(new RegExp(`${f2.nodeName}\\s+Ready`));
  });

  it('offers exactly what the lower cluster can take, and follows unmanaged pods', async () => {
    const lowerNodes = await kubectlJson<{ items: NodeJson[] }>(lower1, ['get', 'nodes']);
    // Pods fedlet manages do not count against capacity; other test files may have left some behind.
    const lowerPods = await kubectlJson<{ items: unknown[] }>(lower1, ['get', 'pods', '-A', '-l', '!fedlet.io/origin']);
    if (!s.external) {
      expect(lowerPods.items).toHaveLength(0);
      const sum = (r: string) => lowerNodes.items.reduce((acc, n) => acc + alloc(n, r), 0n);
      await waitAlloc(f1.nodeName, { cpu: sum('cpu'), memory: sum('memory'), pods: sum('pods') });
    }
    const before = await upperNode(f1.nodeName);
    const manifest = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'unmanaged-load', namespace: 'default' },
      spec: { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '1500m', memory: '1Gi' } } }] },
    };
    await eventually(() => kubectl(lower1, ['apply', '-f', '-'], { input: JSON.stringify(manifest) }), {
      what: 'unmanaged pod created (default service account may appear late)',
    });
    await waitAlloc(f1.nodeName, {
      cpu: alloc(before, 'cpu') - 1500n,
      memory: alloc(before, 'memory') - 1024n ** 3n * 1000n,
      pods: alloc(before, 'pods') - 1000n,
    });
    await kubectl(lower1, ['delete', 'pod', 'unmanaged-load', '--wait=true', '--timeout=60s']);
    await waitAlloc(f1.nodeName, { cpu: alloc(before, 'cpu'), memory: alloc(before, 'memory'), pods: alloc(before, 'pods') });
  });

  it('drops a cordoned lower node from capacity and restores it when uncordoned', async () => {
    const lowerNodes = await kubectlJson<{ items: NodeJson[] }>(lower1, ['get', 'nodes']);
    const victim = lowerNodes.items.find((n) => !n.spec?.unschedulable)!;
    const before = await upperNode(f1.nodeName);
    await kubectl(lower1, ['cordon', victim.metadata.name]);
    try {
      await waitAlloc(f1.nodeName, {
        cpu: alloc(before, 'cpu') - alloc(victim, 'cpu'),
        pods: alloc(before, 'pods') - alloc(victim, 'pods'),
      });
    } finally {
      await kubectl(lower1, ['uncordon', victim.metadata.name]);
    }
    await waitAlloc(f1.nodeName, { cpu: alloc(before, 'cpu'), pods: alloc(before, 'pods') });
  });

  it.skipIf(s.external)('reports extended resources such as GPUs when a lower node offers them', async () => {
    const before = await upperNode(f2.nodeName);
    expect(before.status?.allocatable?.['nvidia.com/gpu']).toBeUndefined();
    await createKwokNode(s.lowers[1]!, {
      name: 'gpu-node',
      cpu: '4',
      memory: '16Gi',
      pods: 110,
      podCIDR: '10.244.200.0/22',
      extended: { 'nvidia.com/gpu': '4' },
      labels: { 'topology.kubernetes.io/region': 'us-east', 'topology.kubernetes.io/zone': 'us-east-gpu' },
    });
    await waitAlloc(f2.nodeName, { 'nvidia.com/gpu': 4000n, cpu: alloc(before, 'cpu') + 4000n });
    await kubectl(lower2, ['delete', 'node', 'gpu-node']);
    await waitAlloc(f2.nodeName, { 'nvidia.com/gpu': undefined, cpu: alloc(before, 'cpu') });
  });

  it('goes NotReady through the node lifecycle controller when its fedlet stops, and Ready when it returns', async () => {
    await stopFedlet(s, f2.cluster, 'SIGKILL');
    await eventually(
      async () => {
        const c = readyCondition(await upperNode(f2.nodeName));
        if (c?.status === 'True') throw new Error('still Ready');
        return c;
      },
      { timeoutMs: 120_000, what: `${f2.nodeName} NotReady after its fedlet was killed` },
    );
    const out = await kubectl(upper, ['get', 'node', f2.nodeName]);
    expect(out).toMatch(/NotReady/);
    startFedlet(s, f2.cluster);
    saveState(s);
    await waitForNodesReady(s, [f2.nodeName], 90_000);
  });

  it.skipIf(s.external)('turns Ready=False naming the lower cluster when its API server dies, and back', async () => {
    await stopComponent(s, f1.cluster, 'kube-apiserver');
    try {
      const c = await eventually(
        async () => {
          const c = readyCondition(await upperNode(f1.nodeName));
          if (c?.status !== 'False') throw new Error(`Ready is ${c?.status}`);
          return c;
        },
        { timeoutMs: 60_000, what: `${f1.nodeName} Ready=False after the lower API server stopped` },
      );
      expect(c.reason).toBe('LowerClusterUnreachable');
      expect(c.message).toContain(f1.cluster);
    } finally {
      restartComponent(s, f1.cluster, 'kube-apiserver');
    }
    await waitForNodesReady(s, [f1.nodeName], 120_000);
    const c = readyCondition(await upperNode(f1.nodeName));
    expect(c?.reason).toBe('LowerClusterReady');
  });
});
