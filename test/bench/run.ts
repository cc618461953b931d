// fedlet benchmarks against real local clusters. Every figure is measured in this run twice — through
// fedlet (upper cluster) and directly in the lower cluster — and printed with their ratio, because
// absolute numbers on a shared 2-core machine mean little. Run: npm run bench
//   BENCH_SINGLE=20 BENCH_BURST=1000 BENCH_LARGE=10000 BENCH_STREAM_MB=64 (defaults) tune the sizes;
//   BENCH_ONLY=extender|pods,real,storage,burst,streams,restart,large,pools picks parts (default: all; `real`
//   needs root and sandbox/netns-run.sh: pod start on a real kubelet node, BENCH_REAL=10 pods each way;
//   `storage`: pod with a new claim, test/bench/storage.ts, BENCH_STORAGE=10 pods each way; `restart`: writes
//   after restarting fedlet with BENCH_RESTART=100 more unchanged pods, see restart.ts; `pools`: 1 vs 50 node
//   pools, test/bench/pools.ts).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, appendFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.js';
import { findBinary } from '../../sandbox/binaries.js';
import { fedletMetrics, heapSnapshotNodeOptions, memoryReading } from './fedlet-process.js';
import { sandboxDown, sandboxUp, type SandboxState } from '../../sandbox/sandbox.js';
import { REAL_NODE_TAINT, realNodeUnavailableReason } from '../../sandbox/real-node.js';
import type { KwokNodeSpec } from '../../sandbox/cluster.js';
import { fitInCluster } from '../../scheduler-plugin/fit.js';
import { buildSummary } from '../../provider/node/summary.js';
import type { ClusterSummary } from '../../src/scheduling/summary.js';
import { freePerNode, type LowerNode } from '../../provider/node/capacity.js';
import { toMilli } from '../../src/util/quantity.js';
import { benchStorage } from './storage.js';
import type { Pod } from '../../src/kube/types.js';
import { LABEL_GRANT } from '../../src/labels.js';
import { benchRestart } from './restart.js';
import { benchPools } from './pools.js';

const num = (name: string, d: number) => Number(process.env[name] ?? d);
const SINGLE = num('BENCH_SINGLE', 20);
const BURST = num('BENCH_BURST', 1000);
const LARGE = num('BENCH_LARGE', 10000);
const STREAM_MB = num('BENCH_STREAM_MB', 64);
const ONLY = new Set((process.env.BENCH_ONLY ?? 'extender,pods,real,storage,burst,streams,restart,large,pools').split(','));
const REAL = num('BENCH_REAL', 10);
const STORAGE = num('BENCH_STORAGE', 10);
const RESTART = num('BENCH_RESTART', 100);

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/**
 * Runs a stream measurement and notes the CPU each component spent per MiB moved: on 2 shared cores the
 * path's total CPU, not fedlet's alone, bounds the throughput, and this shows where it goes.
 */
async function withCpuShare<T>(s: SandboxState, label: string, mib: number, run: () => Promise<T>): Promise<T> {
  const procs: Array<[string, number]> = [
    ['upper apiserver', s.upper.processes.find((p) => p.name === 'kube-apiserver')!.pid],
    ['fedlet', s.fedlets[0]!.process!.pid],
    ['lower apiserver', s.lowers[0]!.processes.find((p) => p.name === 'kube-apiserver')!.pid],
    ['kubelet-front', s.lowers[0]!.processes.find((p) => p.name === 'kubelet-front')?.pid ?? 0],
    ['kwok', s.lowers[0]!.processes.find((p) => p.name === 'kwok')!.pid],
  ];
  const before = procs.map(([, pid]) => cpuSeconds(pid));
  const r = await run();
  const perMib = procs.map(([, pid], i) => ((cpuSeconds(pid) - before[i]!) * 1000) / mib);
  note(`CPU ms per MiB, ${label}`, procs.map(([name], i) => `${name} ${perMib[i]!.toFixed(1)}`).join(', '));
  cpuShares.set(label, { fedlet: perMib[1]!, lower: perMib[2]! });
  return r;
}

/** fedlet's and the lower API server's CPU per MiB per measured stream (label → ms/MiB). */
const cpuShares = new Map<string, { fedlet: number; lower: number }>();

/**
 * One line per stream kind: fedlet's CPU per MiB against the lower API server's in the same path (both
 * relay the same bytes once, the lower one in Go: the goal is ≤ 1.2×), and the throughput via/direct.
 */
function noteRelayCost(kind: string, viaLabel: string, via: number, direct: number): void {
  const c = cpuShares.get(viaLabel);
  if (!c) return;
  const ratio = c.lower > 0 ? `${(c.fedlet / c.lower).toFixed(2)}×` : 'n/a';
  note(
    `relay cost, ${kind}: fedlet vs lower apiserver CPU ms/MiB`,
    `${c.fedlet.toFixed(2)} vs ${c.lower.toFixed(2)} = ${ratio} (goal ≤ 1.2×); throughput via/direct ${(via / direct).toFixed(2)}`,
  );
}

const results: Array<[string, string, string, string]> = [];
function report(name: string, viaFedlet: number, direct: number, unit: string, digits = 0): void {
  results.push([
    name,
    `${viaFedlet.toFixed(digits)} ${unit}`,
    `${direct.toFixed(digits)} ${unit}`,
    direct ? (viaFedlet / direct).toFixed(2) : 'n/a',
  ]);
  console.error(`[bench] ${name}: fedlet ${viaFedlet.toFixed(digits)} ${unit}, direct ${direct.toFixed(digits)} ${unit}`);
}
const single: Array<[string, string]> = [];
function note(name: string, value: string): void {
  single.push([name, value]);
  console.error(`[bench] ${name}: ${value}`);
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

function benchNodes(i: number): KwokNodeSpec[] {
  // 1100 pod slots per node: room for every benchmark pod plus the single-pod runs.
  const count = Math.max(2, Math.ceil((LARGE + BURST + RESTART + 2 * SINGLE) / 1000) + 1);
  return Array.from({ length: count }, (_, j) => ({
    name: `kwok-node-${j}`,
    cpu: '1000',
    memory: '4Ti',
    pods: 1100,
    podCIDR: `10.244.${j * 8}.0/21`,
    labels: { 'topology.kubernetes.io/region': `r${i}` },
  }));
}

interface PodLike {
  metadata: { name: string; resourceVersion?: string };
  status?: { phase?: string; conditions?: Array<{ type: string; status: string }> };
}
const ready = (p: PodLike) => !!p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

/** Time from create to Ready, observed through a watch. */
async function podStartLatency(c: KubeClient, ns: string, name: string, body: unknown): Promise<number> {
  const ac = new AbortController();
  const t0 = performance.now();
  const watch = (async () => {
    for await (const ev of c.watch<PodLike>(
      `/api/v1/namespaces/${ns}/pods`,
      { fieldSelector: `metadata.name=${name}` },
      ac.signal,
    ))
      if (ready(ev.object)) return performance.now() - t0;
    throw new Error('watch ended');
  })();
  await new Promise((r) => setTimeout(r, 50));
  const start = performance.now();
  await c.create(`/api/v1/namespaces/${ns}/pods`, body);
  const done = await watch;
  ac.abort();
  return done - (start - t0);
}

async function countReady(c: KubeClient, ns: string, selector: string): Promise<number> {
  let n = 0;
  let cont: string | undefined;
  do {
    const l = await c.get<{ items: PodLike[]; metadata: { continue?: string } }>(`/api/v1/namespaces/${ns}/pods`, {
      query: { labelSelector: selector, limit: 2000, continue: cont },
    });
    n += l.items.filter(ready).length;
    cont = l.metadata.continue || undefined;
  } while (cont);
  return n;
}

async function burst(
  c: KubeClient,
  ns: string,
  name: string,
  replicas: number,
  nodeSelector?: Record<string, string>,
): Promise<number> {
  const t0 = performance.now();
  await c.create(`/apis/apps/v1/namespaces/${ns}/deployments`, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { ...(nodeSelector ? { nodeSelector } : {}), containers: [{ name: 'c', image: 'x' }] },
      },
    },
  });
  const deadline = Date.now() + 30 * 60_000;
  while (Date.now() < deadline) {
    if ((await countReady(c, ns, `app=${name}`)) >= replicas) return (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${name}: ${replicas} pods not Ready within 30 minutes`);
}

async function deleteDeployment(c: KubeClient, ns: string, name: string, lowerC: KubeClient, lowerNs: string): Promise<void> {
  await c.delete(`/apis/apps/v1/namespaces/${ns}/deployments/${name}`, { propagationPolicy: 'Background' });
  const deadline = Date.now() + 20 * 60_000;
  while (Date.now() < deadline) {
    const up = await c.get<{ items: unknown[] }>(`/api/v1/namespaces/${ns}/pods`, {
      query: { labelSelector: `app=${name}`, limit: 1 },
    });
    const low = await lowerC.get<{ items: unknown[] }>(`/api/v1/namespaces/${lowerNs}/pods`, {
      query: { labelSelector: `app=${name}`, limit: 1 },
    });
    if (!up.items.length && !low.items.length) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function apiRequests(text: string, verbs = ['POST', 'PUT', 'PATCH', 'DELETE', 'GET']): number {
  let n = 0;
  for (const m of text.matchAll(/^fedlet_api_requests_total\{[^}]*verb="([A-Z]+)"[^}]*\} (\d+)/gm))
    if (verbs.includes(m[1]!)) n += Number(m[2]);
  return n;
}
const WRITE_VERBS = ['POST', 'PUT', 'PATCH', 'DELETE'];

/** Seconds for a kubectl command whose stdout is counted (and must reach `bytes`). */
/**
 * timedKubectl, retried once when kubectl ends short of the expected bytes with exit 0 (noted: upstream
 * reports exec output truncation in the API server, kubernetes/kubernetes#124571).
 */
async function timedKubectlRetry(label: string, kubeconfig: string, args: string[], bytes: number): Promise<number> {
  try {
    return await timedKubectl(kubeconfig, args, bytes);
  } catch (e) {
    note(`short read, ${label} (retried once)`, (e as Error).message.slice(0, 200));
    return timedKubectl(kubeconfig, args, bytes);
  }
}

function timedKubectl(kubeconfig: string, args: string[], bytes: number, env: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(findBinary('kubectl'), ['--kubeconfig', kubeconfig, ...args], { env: { ...process.env, ...env } });
    let n = 0;
    child.stdout.on('data', (c: Buffer) => (n += c.length));
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.on('close', () =>
      n >= bytes
        ? resolve((performance.now() - t0) / 1000)
        : reject(new Error(`kubectl ${args.join(' ')}: got ${n} of ${bytes} bytes: ${err}`)),
    );
  });
}

async function portForwardThroughput(kubeconfig: string, ns: string, pod: string, bytes: number): Promise<number> {
  const child = spawn(findBinary('kubectl'), ['--kubeconfig', kubeconfig, 'port-forward', `pod/${pod}`, '-n', ns, ':80']);
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  try {
    const deadline = Date.now() + 30_000;
    let port = 0;
    while (!port && Date.now() < deadline) {
      port = Number(/127\.0\.0\.1:(\d+)/.exec(out)?.[1] ?? 0);
      await new Promise((r) => setTimeout(r, 100));
    }
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1');
      let n = 0;
      sock.on('data', (c: Buffer) => {
        n += c.length;
        if (n >= bytes) {
          sock.destroy();
          resolve();
        }
      });
      sock.on('error', reject);
      const chunk = randomBytes(64 * 1024);
      let sent = 0;
      const pump = () => {
        while (sent < bytes) {
          sent += chunk.length;
          if (!sock.write(chunk)) return void sock.once('drain', pump);
        }
      };
      pump();
    });
    return (performance.now() - t0) / 1000;
  } finally {
    child.kill();
  }
}

/**
 * Seconds from appending `blocks` of output for an attached session until `kubectl attach` has printed
 * `bytes` more, measured inside `share` (the CPU share). The session first takes in what the container
 * printed before (kwok replays the log file) until its output has been quiet for a second.
 */
async function attachThroughput(
  kubeconfig: string,
  pod: string,
  ns: string,
  bytes: number,
  append: () => void,
  share: (run: () => Promise<number>) => Promise<number>,
): Promise<number> {
  const child = spawn(findBinary('kubectl'), ['--kubeconfig', kubeconfig, 'attach', pod, '-n', ns]);
  let n = 0;
  let last = performance.now();
  let err = '';
  child.stderr.on('data', (c) => (err += c));
  let onBytes = (): void => undefined;
  child.stdout.on('data', (c: Buffer) => {
    n += c.length;
    last = performance.now();
    onBytes();
  });
  try {
    const t0 = performance.now();
    while (performance.now() - last < 1000 || (n === 0 && performance.now() - t0 < 5000)) {
      if (child.exitCode !== null) throw new Error(`kubectl attach ended early: ${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const target = n + bytes;
    return await share(async () => {
      const start = performance.now();
      const got = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`kubectl attach: got ${n - target + bytes} of ${bytes} bytes: ${err}`)),
          300_000,
        );
        onBytes = () => {
          if (n < target) return;
          clearTimeout(timer);
          resolve();
        };
      });
      append();
      await got;
      return (performance.now() - start) / 1000;
    });
  } finally {
    child.kill();
  }
}

/** p99 of one extender filter decision over 100 virtual nodes × 1,000 distinct lower nodes each. */
function benchExtender(): void {
  const vnodes = 100;
  const perCluster = 1000;
  const summaries: ClusterSummary[] = [];
  for (let v = 0; v < vnodes; v++) {
    const nodes: LowerNode[] = Array.from({ length: perCluster }, (_, i) => ({
      name: `n${i}`,
      ready: true,
      unschedulable: false,
      // distinct free amounts so that nothing folds: the worst case for the summary and the filter
      allocatable: toMilli({
        cpu: `${1 + ((i * 7 + v) % 3)}`,
        memory: `${8192 + i}Mi`,
        pods: '110',
        'nvidia.com/gpu': String(i % 2),
      }),
      labels: { zone: `z${i % 3}`, pool: `p${i % 10}` },
      taints: i % 4 === 0 ? [{ key: 'dedicated', value: 'batch', effect: 'NoSchedule' }] : [],
    }));
    summaries.push(buildSummary(`fedlet-c${v}`, `c${v}`, nodes, freePerNode(nodes, []), {}));
  }
  const bytes = Buffer.byteLength(JSON.stringify(summaries[0]));
  // A pod that fits nowhere makes the filter visit every lower node of every cluster.
  const pod: Pod = {
    metadata: { name: 'p', namespace: 'd' },
    spec: { containers: [{ name: 'c', resources: { requests: { cpu: '64', memory: '1Gi' } } }], nodeSelector: { pool: 'p3' } },
  };
  const vnodeLabels = { 'fedlet.io/cluster': 'c', type: 'virtual-kubelet' };
  // The first filter after summaries change parses them (cached per summary object) and runs cold
  // code: reported on its own, then 10 unmeasured rounds, then the steady state.
  const c0 = performance.now();
  for (const s of summaries) fitInCluster(pod, s, vnodeLabels);
  note('extender filter, first call after 100 new summaries (parses them)', `${(performance.now() - c0).toFixed(2)} ms`);
  for (let i = 0; i < 10; i++) for (const s of summaries) fitInCluster(pod, s, vnodeLabels);
  const times: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t0 = performance.now();
    for (const s of summaries) fitInCluster(pod, s, vnodeLabels);
    times.push(performance.now() - t0);
  }
  note('extender filter, 100 virtual nodes × 1,000 lower nodes, p50', `${pct(times, 50).toFixed(2)} ms`);
  note('extender filter, 100 virtual nodes × 1,000 lower nodes, p99', `${pct(times, 99).toFixed(2)} ms (goal ≤ 5 ms)`);
  note('scheduling summary size for 1,000 distinct lower nodes', `${(bytes / 1024).toFixed(0)} KiB (ConfigMap limit 1 MiB)`);
}

async function main(): Promise<void> {
  if (ONLY.has('extender')) benchExtender();
  if (![...ONLY].some((p) => p !== 'extender')) return printResults();
  const dir = process.env.BENCH_DIR ?? mkdtempSync(path.join(os.tmpdir(), 'fedlet-bench-'));
  console.error(`[bench] starting sandbox in ${dir}`);
  const snapshots = process.env.BENCH_HEAP_SNAPSHOTS;
  if (snapshots) {
    // Every node process the sandbox starts inherits it; the bench signals only fedlet.
    mkdirSync(snapshots, { recursive: true });
    process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} ${heapSnapshotNodeOptions(snapshots)}`.trim();
  }
  const noReal = ONLY.has('real') ? realNodeUnavailableReason() : 'not asked for';
  if (ONLY.has('real') && noReal) note('pod start on a real node', `skipped: ${noReal}`);
  const s = await sandboxUp({
    dir,
    lowers: 1,
    lowerNodes: benchNodes,
    realNodes: noReal ? 0 : 1,
    progress: (m) => console.error(`[bench] ${m}`),
  });
  const upper = new KubeClient(loadKubeConfig(s.upperKubeconfig), { writeQps: 1000, writeBurst: 1000 });
  const lower = new KubeClient(loadKubeConfig(s.lowerKubeconfigs[0]!), { writeQps: 1000, writeBurst: 1000 });
  const ns = 'bench';
  const ensureNs = async (c: KubeClient) => {
    await c.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }).catch(() => undefined);
    for (let i = 0; i < 100; i++) {
      if (
        await c.get(`/api/v1/namespaces/${ns}/serviceaccounts/default`).then(
          () => true,
          () => false,
        )
      )
        return;
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  await ensureNs(upper);
  await ensureNs(lower);
  // fedlet on lower-1 maps upper namespace bench to lower bench (template {{namespace}}), which the bench
  // made itself for the direct runs: granted to the virtual node, or fedlet refuses to use it.
  await lower.patch('/api/v1/namespaces/bench', { metadata: { labels: { [LABEL_GRANT]: s.fedlets[0]!.nodeName } } }, 'merge');
  // Read at each use: the restart part replaces the fedlet process, and later parts measure the new one.
  const fedletPid = () => s.fedlets[0]!.process!.pid;
  try {
    // 0. idle: the virtual node Ready, no pods, start-up work settled
    await new Promise((r) => setTimeout(r, 15_000));
    note('fedlet memory idle', await memoryReading(s, fedletPid(), false));
    // 1. single pod start latency (after one unmeasured pod each way: the first one pays for cold caches)
    if (ONLY.has('pods')) {
      await podStartLatency(upper, ns, 'warmup', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'warmup' },
        spec: { containers: [{ name: 'c', image: 'x' }] },
      });
      await podStartLatency(lower, ns, 'warmup-direct', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'warmup-direct' },
        spec: { containers: [{ name: 'c', image: 'x' }] },
      });
      const viaLat: number[] = [];
      const dirLat: number[] = [];
      for (let i = 0; i < SINGLE; i++) {
        const body = (name: string) => ({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name },
          spec: { containers: [{ name: 'c', image: 'x' }] },
        });
        viaLat.push(await podStartLatency(upper, ns, `single-${i}`, body(`single-${i}`)));
        dirLat.push(await podStartLatency(lower, ns, `direct-${i}`, body(`direct-${i}`)));
      }
      report('single pod start → Ready, p50', pct(viaLat, 50), pct(dirLat, 50), 'ms');
      report('single pod start → Ready, p99', pct(viaLat, 99), pct(dirLat, 99), 'ms');
      note('single pod start p50 difference', `${(pct(viaLat, 50) - pct(dirLat, 50)).toFixed(0)} ms (goal ≤ +100 ms)`);
      await Promise.all([
        ...Array.from({ length: SINGLE }, (_, i) =>
          upper.delete(`/api/v1/namespaces/${ns}/pods/single-${i}`).catch(() => undefined),
        ),
        ...Array.from({ length: SINGLE }, (_, i) =>
          lower.delete(`/api/v1/namespaces/${ns}/pods/direct-${i}`).catch(() => undefined),
        ),
      ]);
    }
    if (ONLY.has('pools')) await benchPools(s, note);
    // 1b. pod start → Ready on a real kubelet node (containerd, runc, CNI), via fedlet and directly. The
    // kwok nodes are cordoned meanwhile, so the lower scheduler can only pick the real node.
    const realNode = s.realNodes?.[0];
    if (realNode) {
      const lowerKc = s.lowerKubeconfigs[0]!;
      const kwok = (await kubectlOut(lowerKc, ['get', 'nodes', '-l', 'type=kwok', '-o', 'jsonpath={.items[*].metadata.name}']))
        .split(/\s+/)
        .filter(Boolean);
      for (const n of kwok) await kubectlOut(lowerKc, ['cordon', n]);
      try {
        const body = (name: string, nodeName: string) => ({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name },
          spec: {
            nodeName,
            terminationGracePeriodSeconds: 0,
            tolerations: [{ key: REAL_NODE_TAINT, operator: 'Exists', effect: 'NoSchedule' }],
            containers: [{ name: 'c', image: 'fedlet.local/testapp:1', imagePullPolicy: 'Never', args: ['sleep', '0'] }],
          },
        });
        const viaLat: number[] = [];
        const dirLat: number[] = [];
        for (let i = -1; i < REAL; i++) {
          // i = -1: one unmeasured pod each way (cold caches).
          const via = await podStartLatency(upper, ns, `real-${i + 1}`, body(`real-${i + 1}`, s.fedlets[0]!.nodeName));
          const direct = await podStartLatency(lower, ns, `real-direct-${i + 1}`, body(`real-direct-${i + 1}`, realNode.name));
          if (i < 0) continue;
          viaLat.push(via);
          dirLat.push(direct);
        }
        report('pod start → Ready on a real node, p50', pct(viaLat, 50), pct(dirLat, 50), 'ms');
        report('pod start → Ready on a real node, p99', pct(viaLat, 99), pct(dirLat, 99), 'ms');
        await Promise.all(
          Array.from({ length: REAL + 1 }, (_, i) => [
            upper.delete(`/api/v1/namespaces/${ns}/pods/real-${i}`).catch(() => undefined),
            lower.delete(`/api/v1/namespaces/${ns}/pods/real-direct-${i}`).catch(() => undefined),
          ]).flat(),
        );
      } finally {
        for (const n of kwok) await kubectlOut(lowerKc, ['uncordon', n]).catch(() => undefined);
      }
    }
    if (ONLY.has('storage')) await benchStorage({ upper, lower, ns, count: STORAGE, startLatency: podStartLatency, report, pct });
    // 2. burst (streams need one of its pods: with BENCH_ONLY=streams a 1-pod Deployment stands in)
    if (!ONLY.has('burst')) await burst(upper, ns, 'burst-via', 1);
    else {
      const beforeText = await fedletMetrics(s);
      const before = apiRequests(beforeText);
      const writesBefore = apiRequests(beforeText, WRITE_VERBS);
      const viaBurst = await burst(upper, ns, 'burst-via', BURST);
      const afterText = await fedletMetrics(s);
      const after = apiRequests(afterText);
      note(
        'API writes by fedlet per pod (create → Ready, both clusters; incl. events, node status, leases)',
        ((apiRequests(afterText, WRITE_VERBS) - writesBefore) / BURST).toFixed(2),
      );
      note(`fedlet memory with ${BURST} managed pods`, await memoryReading(s, fedletPid(), false));
      note('API requests by fedlet per pod (create → Ready, both clusters)', ((after - before) / BURST).toFixed(2));
      const dirBurst = await burst(lower, ns, 'burst-direct', BURST);
      report(`${BURST}-pod Deployment → all Ready`, viaBurst, dirBurst, 's', 1);
      note(`${BURST}-pod burst ratio`, `${(viaBurst / dirBurst).toFixed(2)} (goal ≤ 1.25)`);
      await deleteDeployment(lower, ns, 'burst-direct', lower, ns);
    }

    // 3. streams: logs, exec cat, port-forward (pod from the burst is Running in the lower cluster)
    if (ONLY.has('streams')) {
      const podName = (
        await upper.get<{ items: PodLike[] }>(`/api/v1/namespaces/${ns}/pods`, {
          query: { labelSelector: 'app=burst-via', limit: 1 },
        })
      ).items[0]!.metadata.name;
      const logsFile = s.lowers[0]!.logsFile!;
      const line = `${'x'.repeat(1000)}`;
      const lines = Math.ceil((STREAM_MB * 1024 * 1024) / 1040);
      const block = Array.from({ length: 1000 }, () => `2026-01-01T00:00:00.000000000Z stdout F ${line}\n`).join('');
      for (let i = 0; i < lines / 1000; i++) appendFileSync(logsFile, block);
      const logBytes = lines * 1001 - 1024 * 1024; // lower bound of what kubectl prints
      const mb = logBytes / 1024 / 1024;
      const tVia = await withCpuShare(s, 'kubectl logs via fedlet', mb, () =>
        timedKubectlRetry('logs via fedlet', s.upperKubeconfig, ['logs', podName, '-n', ns], logBytes),
      );
      const tDir = await withCpuShare(s, 'kubectl logs direct', mb, () =>
        timedKubectlRetry('logs direct', s.lowerKubeconfigs[0]!, ['logs', podName, '-n', ns], logBytes),
      );
      report('kubectl logs throughput', mb / tVia, mb / tDir, 'MiB/s', 1);
      noteRelayCost('logs', 'kubectl logs via fedlet', mb / tVia, mb / tDir);
      // attach: kwok's attach follows the same log file; the measured bytes are appended once attached.
      const attachMib = Math.max(1, Math.floor(STREAM_MB / 2));
      const attachBlocks = Math.ceil((attachMib * 1024 * 1024) / block.length);
      const attachBytes = attachBlocks * 1000 * 1001 - 1024 * 1024;
      const aMib = attachBytes / 1048576;
      const attach = (kc: string, label: string) =>
        attachThroughput(
          kc,
          podName,
          ns,
          attachBytes,
          () => {
            for (let i = 0; i < attachBlocks; i++) appendFileSync(logsFile, block);
          },
          (run) => withCpuShare(s, label, aMib, run),
        );
      const aVia = await attach(s.upperKubeconfig, 'kubectl attach via fedlet');
      const aDir = await attach(s.lowerKubeconfigs[0]!, 'kubectl attach direct');
      report('kubectl attach throughput', aMib / aVia, aMib / aDir, 'MiB/s', 1);
      noteRelayCost('attach', 'kubectl attach via fedlet', aMib / aVia, aMib / aDir);
      const bigFile = path.join(s.lowers[0]!.dir, 'streams', 'exec', 'big.bin');
      if (!existsSync(bigFile)) writeFileSync(bigFile, randomBytes(STREAM_MB * 1024 * 1024));
      const bytes = STREAM_MB * 1024 * 1024;
      const eVia = await withCpuShare(s, 'kubectl exec cat via fedlet', STREAM_MB, () =>
        timedKubectlRetry('exec via fedlet', s.upperKubeconfig, ['exec', podName, '-n', ns, '--', 'cat', 'big.bin'], bytes),
      );
      const eDir = await withCpuShare(s, 'kubectl exec cat direct', STREAM_MB, () =>
        timedKubectlRetry('exec direct', s.lowerKubeconfigs[0]!, ['exec', podName, '-n', ns, '--', 'cat', 'big.bin'], bytes),
      );
      report('kubectl exec cat throughput', STREAM_MB / eVia, STREAM_MB / eDir, 'MiB/s', 1);
      noteRelayCost('exec', 'kubectl exec cat via fedlet', STREAM_MB / eVia, STREAM_MB / eDir);
      const echo = net.createServer((c) => c.pipe(c));
      await new Promise<void>((r) => echo.listen(s.lowers[0]!.portForwardTarget!, '127.0.0.1', () => r()));
      try {
        const pfBytes = Math.min(bytes, 32 * 1024 * 1024);
        const pfMib = pfBytes / 1048576;
        const pVia = await withCpuShare(s, 'port-forward via fedlet', pfMib, () =>
          portForwardThroughput(s.upperKubeconfig, ns, podName, pfBytes),
        );
        const pDir = await withCpuShare(s, 'port-forward direct', pfMib, () =>
          portForwardThroughput(s.lowerKubeconfigs[0]!, ns, podName, pfBytes),
        );
        report('kubectl port-forward echo throughput', pfBytes / 1048576 / pVia, pfBytes / 1048576 / pDir, 'MiB/s', 1);
        noteRelayCost('port-forward (per MiB each way)', 'port-forward via fedlet', pfMib / pVia, pfMib / pDir);
      } finally {
        echo.close();
      }
    }

    if (ONLY.has('restart'))
      await benchRestart({ s, upper, ns, pods: RESTART, burst, countReady, fedletMetrics: () => fedletMetrics(s), note });

    // 4. memory at a large number of managed pods, with a stop at 1,000 on the way when no burst measured it
    if (ONLY.has('large') && LARGE > BURST) {
      const from = ONLY.has('burst') ? BURST : 1;
      for (const size of [...(from < 1000 && LARGE > 1000 ? [1000] : []), LARGE]) {
        await upper.patch(`/apis/apps/v1/namespaces/${ns}/deployments/burst-via`, { spec: { replicas: size } }, 'merge');
        const t0 = Date.now();
        while ((await countReady(upper, ns, 'app=burst-via')) < size && Date.now() - t0 < 40 * 60_000)
          await new Promise((r) => setTimeout(r, 2000));
        const took = ((Date.now() - t0) / 1000).toFixed(0);
        note(
          `fedlet memory with ${size} managed pods`,
          `${await memoryReading(s, fedletPid(), size === LARGE)}; reached in ${took} s`,
        );
      }
    }
  } finally {
    if (!process.env.BENCH_KEEP) await sandboxDown(dir);
  }
  printResults();
}

/** Runs kubectl and returns its stdout (throws on failure). */
function kubectlOut(kubeconfig: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(findBinary('kubectl'), ['--kubeconfig', kubeconfig, ...args]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`kubectl ${args.join(' ')}: ${err}`))));
  });
}

function printResults(): void {
  const out = process.env.BENCH_RESULTS ?? path.join(process.cwd(), 'docs', 'bench-results.json');
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      {
        when: new Date().toISOString(),
        cores: os.cpus().length,
        comparisons: results.map(([measure, via, direct, ratio]) => ({ measure, via, direct, ratio })),
        figures: Object.fromEntries(single),
      },
      null,
      2,
    ),
  );
  console.error(`[bench] results written to ${out}; plot them with: node dist/test/bench/plot.js ${out}`);
  const w = [44, 18, 18, 8];
  const row = (c: string[]) => c.map((x, i) => x.padEnd(w[i]!)).join(' ');
  console.log(`\nfedlet benchmark (${new Date().toISOString()}, ${os.cpus().length} cores)\n`);
  console.log(row(['measure', 'via fedlet', 'direct (lower)', 'ratio']));
  for (const r of results) console.log(row(r));
  console.log('');
  for (const [k, v] of single) console.log(`${k}: ${v}`);
}

main().catch((e: Error) => {
  console.error(`bench failed: ${e.stack ?? e.message}`);
  process.exit(1);
});
