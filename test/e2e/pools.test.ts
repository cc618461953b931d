// Node pools through real components: a fedlet of its own (cluster name "pools") over lower-2, grouping
// kwok GPU nodes of two models by their model label. It runs beside the sandbox's fedlets and touches
// only its own nodes, namespace and lower objects; everything it adds is removed at the end.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKwokNode } from '../../sandbox/cluster.js';
import { freePorts, startProcess, stopProcess, type ProcessRecord } from '../../sandbox/processes.js';
import { fedletCli, restartComponent, stopComponent, upperIdentityKubeconfig, waitForNodesReady } from '../../sandbox/sandbox.js';
import { kubeletCall } from './framework/kubelet-port.js';
import { createNamespace, lowerNamespaceFor } from './framework/namespaces.js';
import { eventually, kubectl, kubectlJson, kubectlRaw, sandbox } from './framework/kubectl.js';
import { readyCondition, type NodeJson } from './framework/nodes.js';
import type { ApiPod as Pod } from './framework/pods.js';

const s = sandbox();
const upper = s.upperKubeconfig;
const lowerIdx = 1;
const lower = s.lowerKubeconfigs[lowerIdx]!;
const f2 = s.fedlets[lowerIdx]!;
const GPU = 'nvidia.com/gpu.product';
const NS = 'pools-e2e';
const CLUSTER = 'pools';
const A100 = `fedlet-${CLUSTER}-a100`;
const H100 = `fedlet-${CLUSTER}-h100`;
const lowerNodes = [
  { name: 'pools-a100-0', model: 'A100', gpus: '4', cidr: '10.244.208.0/22' },
  { name: 'pools-a100-1', model: 'A100', gpus: '4', cidr: '10.244.212.0/22' },
  { name: 'pools-h100-0', model: 'H100', gpus: '8', cidr: '10.244.216.0/22' },
];

let fedlet: ProcessRecord | undefined;
let args: string[] = [];
let poolsKubeletPort = 0;
const logFile = path.join(s.dir, `fedlet-${CLUSTER}.log`);

function startPoolsFedlet(): void {
  fedlet = startProcess(`fedlet-${CLUSTER}`, process.execPath, [fedletCli(), ...args], logFile, {
    FEDLET_POOL_GROUP_BY: GPU,
  });
}

async function upperNode(name: string): Promise<NodeJson> {
  return kubectlJson<NodeJson>(upper, ['get', 'node', name]);
}
async function gpus(name: string): Promise<string | undefined> {
  return (await upperNode(name)).status?.allocatable?.['nvidia.com/gpu'];
}
async function poolNodeNames(): Promise<string[]> {
  const list = await kubectlJson<{ items: NodeJson[] }>(upper, ['get', 'nodes', '-l', `fedlet.io/cluster=${CLUSTER}`]);
  return list.items.map((n) => n.metadata.name).sort();
}

function gpuPod(name: string, model: string | undefined, extra: Record<string, string> = {}): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { app: name, ...extra } },
    spec: {
      ...(model ? { nodeSelector: { [GPU]: model } } : { nodeSelector: { 'fedlet.io/cluster': CLUSTER } }),
      containers: [{ name: 'c', image: 'busybox', resources: { limits: { 'nvidia.com/gpu': '1' } } }],
    },
  });
}

/** Lower pods this fedlet owns, by upper uid. */
async function lowerPodsOfPools(): Promise<Pod[]> {
  const list = await kubectlJson<{ items: Pod[] }>(lower, ['get', 'pods', '-A', '-l', `fedlet.io/origin=fedlet-${CLUSTER}`]);
  return list.items;
}

describe.skipIf(s.external)('node pools', () => {
  beforeAll(async () => {
    const l = s.lowers[lowerIdx]!;
    for (const n of lowerNodes)
      await createKwokNode(l, {
        name: n.name,
        cpu: '16',
        memory: '64Gi',
        pods: 110,
        podCIDR: n.cidr,
        extended: { 'nvidia.com/gpu': n.gpus },
        // Same region as the cluster's other nodes, so the sandbox fedlet's region label is unchanged.
        labels: { [GPU]: n.model, 'topology.kubernetes.io/region': 'us-east', 'topology.kubernetes.io/zone': 'us-east-gpu' },
      });
    const [kubeletPort, healthPort] = await freePorts(2);
    poolsKubeletPort = kubeletPort!;
    const skip = /^--(cluster-name|kubelet-port|health-port|namespace-template|cert-dir|upper-kubeconfig)=/;
    args = [
      ...f2.args.filter((a) => !skip.test(a)),
      `--cluster-name=${CLUSTER}`,
      // Its own upper account, named after its node (the admission policy holds it to its pool nodes).
      `--upper-kubeconfig=${upperIdentityKubeconfig(s.upperKubeconfig, s.dir, `fedlet-${CLUSTER}`)}`,
      `--kubelet-port=${kubeletPort}`,
      `--health-port=${healthPort}`,
      // Its own certificates: a cert dir is one fedlet's (its node identities and serving certificate).
      `--cert-dir=${path.join(s.dir, `fedlet-${CLUSTER}-certs`)}`,
    ];
    startPoolsFedlet();
    await createNamespace(upper, NS);
    await waitForNodesReady(s, [A100, H100], 120_000);
  });

  afterAll(async () => {
    await kubectlRaw(upper, ['delete', 'namespace', NS, '--wait=false']);
    if (fedlet) await stopProcess(fedlet);
    await kubectlRaw(upper, ['delete', 'nodes', '-l', `fedlet.io/cluster=${CLUSTER}`]);
    await kubectlRaw(upper, ['delete', 'lease', '-n', 'kube-node-lease', `fedlet-${CLUSTER}-leader`]);
    await kubectlRaw(upper, ['delete', 'configmaps', '-n', 'fedlet-system', '-l', `fedlet.io/node in (${A100},${H100})`]);
    await kubectlRaw(lower, ['delete', 'pods', '-A', '-l', `fedlet.io/origin=fedlet-${CLUSTER}`, '--grace-period=0', '--force']);
    await kubectlRaw(lower, ['delete', 'namespace', lowerNamespaceFor({ args, cluster: CLUSTER }, NS), '--wait=false']);
    await kubectlRaw(lower, ['delete', 'nodes', ...lowerNodes.map((n) => n.name)]);
  });

  it('offers one virtual node per GPU model with its own GPU capacity and the shared labels', async () => {
    expect(await poolNodeNames()).toEqual([A100, H100]);
    await eventually(
      async () => {
        expect(await gpus(A100)).toBe('8');
        expect(await gpus(H100)).toBe('8');
      },
      { what: 'GPU capacity per pool' },
    );
    const a = await upperNode(A100);
    expect(a.metadata.labels).toMatchObject({
      'fedlet.io/cluster': CLUSTER,
      'fedlet.io/pool': 'a100',
      [GPU]: 'A100',
      'topology.kubernetes.io/zone': 'us-east-gpu',
      'kubernetes.io/hostname': A100,
      type: 'virtual-kubelet',
    });
    // Each pool node counts only its own lower nodes.
    expect(a.status?.allocatable?.cpu).toBe('32');
    expect((await upperNode(H100)).status?.allocatable?.cpu).toBe('16');
    const status = await new Promise<string>((resolve, reject) =>
      import('node:child_process').then(({ execFile }) =>
        execFile(process.execPath, [fedletCli(), 'status', '--upper-kubeconfig', upper], (err, out) =>
          err ? reject(err) : resolve(out),
        ),
      ),
    );
    expect(status).toMatch(new RegExp(`${A100}\\s+${CLUSTER}\\s+a100\\s+True`));
    expect(status).toMatch(new RegExp(`${H100}\\s+${CLUSTER}\\s+h100\\s+True`));
  });

  it('places a pod asking for one model on a lower node of that model, through that pool node', async () => {
    await kubectl(upper, ['apply', '-f', '-'], { input: gpuPod('want-h100', 'H100') });
    const pod = await eventually(
      async () => {
        const p = await kubectlJson<Pod>(upper, ['get', 'pod', 'want-h100', '-n', NS]);
        if (p.status?.phase !== 'Running') throw new Error(`phase ${p.status?.phase}`);
        return p;
      },
      { timeoutMs: 90_000, what: 'want-h100 Running' },
    );
    expect(pod.spec.nodeName).toBe(H100);
    const lp = (await lowerPodsOfPools()).find((p) => p.metadata.labels?.['fedlet.io/upper-uid'] === pod.metadata.uid);
    expect(lp?.spec.nodeName).toBe('pools-h100-0');
    expect(lp?.metadata.labels?.['fedlet.io/pool']).toBe('h100');
    // The lower scheduler is held inside the pool by the pool's requirement.
    expect(JSON.stringify(lp?.spec.affinity)).toContain(GPU);
    // The kubelet API answers for a pod on a pool node (logs through the shared listener).
    const logs = await kubectlRaw(upper, ['logs', 'want-h100', '-n', NS]);
    expect(logs.stderr).not.toMatch(/not running on virtual node|NotFound/);
  });

  it("authorizes a kubelet API caller on the pool node that was called: its pod's node, or every pool node for node-wide paths", async () => {
    // A ServiceAccount allowed nodes/proxy on the H100 pool node only (as a kubelet's caller could be).
    const sa = 'h100-reader';
    const rbac = [
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: NS } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: `pools-e2e-${sa}` },
        rules: [{ apiGroups: [''], resources: ['nodes/proxy', 'nodes/stats'], resourceNames: [H100], verbs: ['get'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: `pools-e2e-${sa}` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `pools-e2e-${sa}` },
        subjects: [{ kind: 'ServiceAccount', name: sa, namespace: NS }],
      },
    ];
    await kubectl(upper, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }) });
    try {
      const token = (await kubectl(upper, ['create', 'token', sa, '-n', NS, '--duration=10m'])).trim();
      const get = (urlPath: string) =>
        kubeletCall({ host: s.nodeIP ?? '127.0.0.1', port: poolsKubeletPort, path: urlPath, token });
      // want-h100 (the test above) is on the H100 pool node: allowed there (RBAC may lag a moment).
      const logs = await eventually(
        async () => {
          const r = await get(`/containerLogs/${NS}/want-h100/c`);
          if (r.status === 403) throw new Error(r.body);
          return r;
        },
        { timeoutMs: 20_000, what: 'logs of want-h100 allowed for a caller with rights on its pool node' },
      );
      expect(logs.status).toBe(200);
      // A node-wide answer holds every pool node's pods: rights on one pool node are not enough.
      const stats = await get('/stats/summary');
      expect(stats.status).toBe(403);
      expect(stats.body).toMatch(/name=\S+ and \S+/);
      for (const n of [A100, H100]) expect(stats.body).toContain(n);
    } finally {
      await kubectlRaw(upper, ['delete', 'clusterrolebinding,clusterrole', `pools-e2e-${sa}`]);
    }
  });

  it("leaves a pod asking for a model nobody has Pending with the scheduler's own reason", async () => {
    await kubectl(upper, ['apply', '-f', '-'], { input: gpuPod('want-b200', 'B200') });
    const cond = await eventually(
      async () => {
        const p = await kubectlJson<Pod>(upper, ['get', 'pod', 'want-b200', '-n', NS]);
        const c = p.status?.conditions?.find((x) => x.type === 'PodScheduled');
        if (c?.status !== 'False') throw new Error('not yet judged');
        return c;
      },
      { what: 'want-b200 unschedulable' },
    );
    expect(cond.reason).toBe('Unschedulable');
    expect(cond.message).toMatch(/didn't match Pod's node affinity\/selector/);
    const p = await kubectlJson<Pod>(upper, ['get', 'pod', 'want-b200', '-n', NS]);
    expect(p.spec.nodeName).toBeUndefined();
    await kubectl(upper, ['delete', 'pod', 'want-b200', '-n', NS, '--wait=false']);
  });

  it('moves capacity between pool nodes when a lower node is relabelled, and back', async () => {
    await kubectl(lower, ['label', 'node', 'pools-a100-1', `${GPU}=H100`, '--overwrite']);
    try {
      await eventually(
        async () => {
          expect(await gpus(A100)).toBe('4');
          expect(await gpus(H100)).toBe('12');
        },
        { what: 'GPU capacity moved to the H100 pool' },
      );
    } finally {
      await kubectl(lower, ['label', 'node', 'pools-a100-1', `${GPU}=A100`, '--overwrite']);
    }
    await eventually(
      async () => {
        expect(await gpus(A100)).toBe('8');
        expect(await gpus(H100)).toBe('8');
      },
      { what: 'GPU capacity back' },
    );
  });

  it('turns every pool node NotReady when the lower API server is unreachable, and Ready again', async () => {
    await stopComponent(s, f2.cluster, 'kube-apiserver');
    try {
      for (const name of [A100, H100]) {
        const c = await eventually(
          async () => {
            const c = readyCondition(await upperNode(name));
            if (c?.status !== 'False') throw new Error(`Ready is ${c?.status}`);
            return c;
          },
          { timeoutMs: 60_000, what: `${name} Ready=False` },
        );
        expect(c.reason).toBe('LowerClusterUnreachable');
      }
    } finally {
      restartComponent(s, f2.cluster, 'kube-apiserver');
    }
    await waitForNodesReady(s, [A100, H100, f2.nodeName], 120_000);
  });

  it('after a SIGKILL and restart, no pod is duplicated or orphaned across pools', async () => {
    for (const [i, model] of ['A100', 'A100', 'H100', undefined].entries())
      await kubectl(upper, ['apply', '-f', '-'], { input: gpuPod(`k${i}`, model, { group: 'kill' }) });
    const running = async () => {
      const list = await kubectlJson<{ items: Pod[] }>(upper, ['get', 'pods', '-n', NS]);
      const notRunning = list.items.filter((p) => p.status?.phase !== 'Running');
      if (notRunning.length) throw new Error(`not Running: ${notRunning.map((p) => p.metadata.name).join(', ')}`);
      return list.items;
    };
    const before = await eventually(running, { timeoutMs: 120_000, what: 'every pool pod Running' });
    const served = () => readFileSync(logFile, 'utf8').split('"msg":"serving pool nodes"').length - 1;
    const servedBefore = served();
    await stopProcess(fedlet!, 'SIGKILL');
    startPoolsFedlet();
    // The new process leads (after the killed one's leader lease ran out) and serves the pools again.
    await eventually(async () => expect(served()).toBe(servedBefore + 1), {
      timeoutMs: 120_000,
      what: 'the restarted fedlet serving its pool nodes',
    });
    await waitForNodesReady(s, [A100, H100], 120_000);
    await eventually(
      async () => {
        const ups = await running();
        expect(ups.map((p) => p.metadata.uid).sort()).toEqual(before.map((p) => p.metadata.uid).sort());
        const lows = await lowerPodsOfPools();
        const live = lows.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
        // Exactly one lower pod per upper pod, in the pool of the node the upper pod is bound to.
        expect(live).toHaveLength(ups.length);
        for (const u of ups) {
          const mine = live.filter((l) => l.metadata.labels?.['fedlet.io/upper-uid'] === u.metadata.uid);
          expect(mine, u.metadata.name).toHaveLength(1);
          expect(`fedlet-${CLUSTER}-${mine[0]!.metadata.labels?.['fedlet.io/pool']}`).toBe(u.spec.nodeName);
        }
      },
      { timeoutMs: 60_000, what: 'one lower pod per upper pod after the restart' },
    );
  });

  it("deletes a pool's virtual node when its last lower node goes", async () => {
    await kubectl(lower, ['delete', 'node', 'pools-h100-0']);
    await eventually(
      async () => {
        expect(await poolNodeNames()).toEqual([A100]);
      },
      { timeoutMs: 60_000, what: `${H100} deleted` },
    );
    // Its lower pods are removed as pods of a vanished node; the other pool's stay. The upper pods go first,
    // through kube-controller-manager's pod GC: it deletes pods bound to a missing node only after a 40 s
    // quarantine, checking every 20 s, so this takes 40-60 s plus fedlet's part.
    await eventually(
      async () => {
        const pools = new Set((await lowerPodsOfPools()).map((p) => p.metadata.labels?.['fedlet.io/pool']));
        expect(pools.has('h100')).toBe(false);
        expect(pools.has('a100')).toBe(true);
      },
      { timeoutMs: 150_000, what: 'lower pods of the vanished pool removed' },
    );
    const a = await upperNode(A100);
    expect(readyCondition(a)?.status).toBe('True');
  });
});
