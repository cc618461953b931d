// fedlet benchmarks against real local clusters. Every comparable figure is measured in this run twice —
// through fedlet (upper cluster) and directly in the lower cluster — because absolute numbers on a shared
// 2-core machine mean little. Run: npm run bench. Parts and sizes: test/bench/plan.ts (BENCH_ONLY picks
// parts and their order, BENCH_SMOKE=1 the smallest sizes); `real` and `writes` measure on a real kubelet
// node when the run can start one (root, under sandbox/netns-run.sh). Results are merged into
// docs/bench-results.json (one key per measure; test/bench/results.ts), and the generated tables of
// docs/benchmarks.md and README.md are rewritten from it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, appendFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.js';
import { findBinary } from '../../sandbox/binaries.js';
import { cpuSeconds, fedletMetrics, heapSnapshotNodeOptions, memoryReading, rssMiB } from './fedlet-process.js';
import { sandboxDown, sandboxUp, type SandboxState } from '../../sandbox/sandbox.js';
import { REAL_NODE_TAINT, realNodeUnavailableReason } from '../../sandbox/real-node.js';
import type { KwokNodeSpec } from '../../sandbox/cluster.js';
import { LABEL_GRANT } from '../../src/labels.js';
import { fitInCluster } from '../../scheduler-plugin/fit.js';
import { buildSummary } from '../../provider/node/summary.js';
import type { ClusterSummary } from '../../src/scheduling/summary.js';
import { freePerNode, type LowerNode } from '../../provider/node/capacity.js';
import { toMilli } from '../../src/util/quantity.js';
import { benchStorage } from './storage.js';
import type { Pod } from '../../src/kube/types.js';
import { benchRestart } from './restart.js';
import { benchPools } from './pools.js';
import { benchSurge } from './surge.js';
import { benchMemory } from './memory-settings.js';
import { benchPlan, kwokNodeCount, type BenchSizes, type Part } from './plan.js';
import { PEERS, benchPeers, peerLowers, peerResults, preparePeers } from './peers/liqo.js';
import { benchSvg } from './figure.js';
import { goalFor, goalText } from './goals.js';
import { mergeResults, readResults, updateDocs, writeResults, type Measure } from './results.js';
import { auditWritesForPods, fedletWrites, perPodWrites, total, writeKey, writesBetween, writesTable } from './writes.js';

const plan = benchPlan(process.env);
const sizes = plan.sizes;

/** What the parts record: measures (into the results file) and notes (printed only). */
export class Recorder {
  readonly measures: Record<string, Measure> = {};
  /** Key prefixes whose old keys this run replaces (a write kind that went away must not linger). */
  readonly replaced: string[] = [];
  readonly lines: string[] = [];
  private readonly day = new Date().toISOString().slice(0, 10);

  /** Records a measure; its goal, if any, comes from the one table of goals (test/bench/goals.ts). */
  measure(key: string, label: string, value: number, unit: string): void {
    const g = goalFor(key);
    const goal = g && goalText(g);
    this.measures[key] = { label, value: Number(value.toFixed(3)), unit, measured: this.day, ...(goal ? { goal } : {}) };
    this.print(`${label}: ${value.toFixed(2)} ${unit}${goal ? ` (goal ${goal})` : ''}`);
  }

  /** A figure measured via fedlet and directly: two keys, stem.via and stem.direct. */
  compare(stem: string, label: string, via: number, direct: number, unit: string): void {
    this.measure(`${stem}.via`, `${label}, via fedlet`, via, unit);
    this.measure(`${stem}.direct`, `${label}, direct`, direct, unit);
    this.print(`${label}: ratio ${(via / direct).toFixed(2)}`);
  }

  note(name: string, value: string): void {
    this.print(`${name}: ${value}`);
  }

  replace(prefix: string): void {
    this.replaced.push(prefix);
  }

  print(line: string): void {
    this.lines.push(line);
    console.error(`[bench] ${line}`);
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

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

/** Seconds for a kubectl command whose stdout is counted (and must reach `bytes`). */
/**
 * timedKubectl, retried once when kubectl ends short of the expected bytes with exit 0 (noted: upstream
 * reports exec output truncation in the API server, kubernetes/kubernetes#124571).
 */
async function timedKubectlRetry(r: Recorder, label: string, kubeconfig: string, args: string[], bytes: number): Promise<number> {
  try {
    return await timedKubectl(kubeconfig, args, bytes);
  } catch (e) {
    r.note(`short read, ${label} (retried once)`, (e as Error).message.slice(0, 200));
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

/** p99 of one extender filter decision over 100 virtual nodes × 1,000 distinct lower nodes each. */
function benchExtender(r: Recorder): void {
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
  r.measure(
    'extender.first-call',
    'extender filter, first call after 100 new summaries (parses them)',
    performance.now() - c0,
    'ms',
  );
  for (let i = 0; i < 10; i++) for (const s of summaries) fitInCluster(pod, s, vnodeLabels);
  const times: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t0 = performance.now();
    for (const s of summaries) fitInCluster(pod, s, vnodeLabels);
    times.push(performance.now() - t0);
  }
  // A wall-clock tail on 2 cores is mostly other processes taking the core: the load says whether it was quiet.
  r.note(
    'extender: machine load (1-minute average) while measured',
    `${os.loadavg()[0]!.toFixed(2)} on ${os.cpus().length} cores`,
  );
  r.measure('extender.p50', 'extender filter, 100 virtual nodes × 1,000 lower nodes, p50', pct(times, 50), 'ms');
  r.measure('extender.p99', 'extender filter, 100 virtual nodes × 1,000 lower nodes, p99', pct(times, 99), 'ms');
  r.measure(
    'extender.summary-size',
    'scheduling summary size for 1,000 distinct lower nodes (ConfigMap limit 1 MiB)',
    bytes / 1024,
    'KiB',
  );
}

/** What every part gets. */
interface Ctx {
  s: SandboxState;
  upper: KubeClient;
  lower: KubeClient;
  /** The bench namespace, the same name in both clusters (namespace template {{namespace}}). */
  ns: string;
  sizes: BenchSizes;
  r: Recorder;
  /** No part follows: what this one made may stay (the sandbox goes). */
  last: boolean;
  /** The first fedlet's pid, read at each use: part restart replaces the process. */
  fedletPid: () => number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const simplePod = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: { containers: [{ name: 'c', image: 'x' }] },
});

/**
 * Runs a stream measurement and records the CPU each component spent per MiB moved: on 2 shared cores the
 * path's total CPU, not fedlet's alone, bounds the throughput, and this shows where it goes.
 */
async function withCpuShare<T>(c: Ctx, key: string, mib: number, run: () => Promise<T>): Promise<T> {
  const procs = streamProcs(c);
  const before = procs.map(([, pid]) => cpuSeconds(pid));
  const result = await run();
  const sample = procs.map(([, pid], i) => ((cpuSeconds(pid) - before[i]!) * 1000) / mib);
  cpuSamples.set(key, [...(cpuSamples.get(key) ?? []), sample]);
  return result;
}

/** The processes a stream passes through, by name and pid (kubelet-front only with a real node). */
function streamProcs(c: Ctx): Array<[string, number]> {
  const { s } = c;
  return [
    ['upper-apiserver', s.upper.processes.find((p) => p.name === 'kube-apiserver')!.pid],
    ['fedlet', c.fedletPid()],
    ['lower-apiserver', s.lowers[0]!.processes.find((p) => p.name === 'kube-apiserver')!.pid],
    ['kubelet-front', s.lowers[0]!.processes.find((p) => p.name === 'kubelet-front')?.pid ?? 0],
    ['kwok', s.lowers[0]!.processes.find((p) => p.name === 'kwok')!.pid],
  ];
}

/** Each run's CPU per MiB per process (in streamProcs' order), by measured stream (key). */
const cpuSamples = new Map<string, number[][]>();

/** Records each process's median CPU per MiB over the runs of `key`, and keeps the medians for relayCost. */
function recordCpu(c: Ctx, key: string, label: string): void {
  const runs = cpuSamples.get(key) ?? [];
  if (!runs.length) return;
  const names = streamProcs(c).map(([name]) => name);
  const med = names.map((_, i) =>
    pct(
      runs.map((r) => r[i]!),
      50,
    ),
  );
  names.forEach((name, i) => c.r.measure(`cpu-per-mib.${key}.${name}`, `CPU per MiB, ${label}: ${name}`, med[i]!, 'ms'));
  cpuShares.set(key, { fedlet: med[1]!, lower: med[2]!, total: med.reduce((a, b) => a + b, 0), runs });
}

/** fedlet's, the lower API server's and the whole path's median CPU per MiB per measured stream (key → ms/MiB). */
const cpuShares = new Map<string, { fedlet: number; lower: number; total: number; runs: number[][] }>();

/**
 * One stream kind through fedlet and directly, `c.sizes.streamRepeats` times each way, alternating: one run
 * moves the ratio by ±0.4 (JIT warm-up in the first, the lower API server's own variation), so CPU per MiB
 * and throughput are medians, and each run's relay cost is printed beside them.
 */
async function streamKind(
  c: Ctx,
  kind: string,
  mib: number,
  labels: { via: string; direct: string; throughput: string },
  via: (share: <T>(run: () => Promise<T>) => Promise<T>) => Promise<number>,
  direct: (share: <T>(run: () => Promise<T>) => Promise<T>) => Promise<number>,
): Promise<void> {
  const times = { via: [] as number[], direct: [] as number[] };
  for (let i = 0; i < Math.max(1, c.sizes.streamRepeats); i++) {
    times.via.push(await via((run) => withCpuShare(c, `${kind}.via`, mib, run)));
    times.direct.push(await direct((run) => withCpuShare(c, `${kind}.direct`, mib, run)));
  }
  recordCpu(c, `${kind}.via`, labels.via);
  recordCpu(c, `${kind}.direct`, labels.direct);
  c.r.compare(`throughput.${kind}`, labels.throughput, mib / pct(times.via, 50), mib / pct(times.direct, 50), 'MiB/s');
  relayCost(c, kind);
}

/**
 * Per stream kind: fedlet's CPU per MiB against the lower API server's in the same path (both relay the
 * same bytes once, the lower one in Go: the goal is ≤ 1.2×).
 */
function relayCost(c: Ctx, kind: string): void {
  const share = cpuShares.get(`${kind}.via`);
  if (!share || share.lower <= 0) return;
  c.r.measure(
    `relay-cost.${kind}`,
    `relay cost, ${kind}: fedlet vs lower apiserver CPU per MiB`,
    share.fedlet / share.lower,
    '×',
  );
  c.r.note(`relay cost, ${kind}, each run`, share.runs.map((r) => (r[2]! > 0 ? (r[1]! / r[2]!).toFixed(2) : '-')).join(', '));
  // The two-hop floor: on 2 shared cores a stream is bound by the CPU its whole path spends per MiB, so
  // via/direct throughput can reach at best direct's path CPU over the via path's with fedlet costing
  // what the Go hop costs. kubectl's own CPU (the same on both paths) is not counted, which lowers the
  // floor a little: a model, printed beside the measured ratio, not a measure of fedlet.
  const direct = cpuShares.get(`${kind}.direct`);
  const viaAtGoCost = share.total - share.fedlet + share.lower;
  if (direct && viaAtGoCost > 0)
    c.r.measure(
      `throughput-floor.${kind}`,
      `two-hop floor, ${kind}: via/direct throughput if fedlet cost what the Go hop costs (CPU model)`,
      direct.total / viaAtGoCost,
      '×',
    );
}

/**
 * Seconds from appending output for an attached session until `kubectl attach` has printed `bytes` more,
 * measured inside `share` (the CPU share). The session first takes in what the container printed before
 * (kwok replays the log file) until its output has been quiet for a second.
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
  child.stderr.on('data', (chunk) => (err += chunk));
  let onBytes = (): void => undefined;
  child.stdout.on('data', (chunk: Buffer) => {
    n += chunk.length;
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

/** Single pod start latency, after one unmeasured pod each way (the first pays for cold caches). */
async function partPods(c: Ctx): Promise<void> {
  const { upper, lower, ns, r } = c;
  await podStartLatency(upper, ns, 'warmup', simplePod('warmup'));
  await podStartLatency(lower, ns, 'warmup-direct', simplePod('warmup-direct'));
  const via: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < c.sizes.single; i++) {
    via.push(await podStartLatency(upper, ns, `single-${i}`, simplePod(`single-${i}`)));
    direct.push(await podStartLatency(lower, ns, `direct-${i}`, simplePod(`direct-${i}`)));
  }
  r.compare('pod-start.p50', 'single pod start → Ready, p50', pct(via, 50), pct(direct, 50), 'ms');
  r.compare('pod-start.p99', `single pod start → Ready, p99 (${c.sizes.single} pods)`, pct(via, 99), pct(direct, 99), 'ms');
  const names = [...Array.from({ length: c.sizes.single }, (_, i) => i), 'warmup'];
  await Promise.all([
    ...names.map((i) =>
      upper.delete(`/api/v1/namespaces/${ns}/pods/${i === 'warmup' ? i : `single-${i}`}`).catch(() => undefined),
    ),
    ...names.map((i) =>
      lower.delete(`/api/v1/namespaces/${ns}/pods/${i === 'warmup' ? 'warmup-direct' : `direct-${i}`}`).catch(() => undefined),
    ),
  ]);
}

/** The lower cluster's real node, with its kwok nodes cordoned meanwhile (the lower scheduler can only pick it). */
async function onRealNode<T>(c: Ctx, run: (node: string | undefined) => Promise<T>): Promise<T> {
  const realNode = c.s.realNodes?.find((n) => n.cluster === c.s.lowers[0]!.name);
  if (!realNode) return run(undefined);
  const lowerKc = c.s.lowerKubeconfigs[0]!;
  const kwok = (await kubectlOut(lowerKc, ['get', 'nodes', '-l', 'type=kwok', '-o', 'jsonpath={.items[*].metadata.name}']))
    .split(/\s+/)
    .filter(Boolean);
  for (const n of kwok) await kubectlOut(lowerKc, ['cordon', n]);
  try {
    return await run(realNode.name);
  } finally {
    for (const n of kwok) await kubectlOut(lowerKc, ['uncordon', n]).catch(() => undefined);
  }
}

function realPod(name: string, nodeName: string): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      nodeName,
      terminationGracePeriodSeconds: 0,
      tolerations: [{ key: REAL_NODE_TAINT, operator: 'Exists', effect: 'NoSchedule' }],
      containers: [{ name: 'c', image: 'fedlet.local/testapp:1', imagePullPolicy: 'Never', args: ['sleep', '0'] }],
    },
  };
}

/** Pod start → Ready on a real kubelet node (containerd, runc, CNI), via fedlet and directly. */
async function partReal(c: Ctx): Promise<void> {
  const { upper, lower, ns, r } = c;
  await onRealNode(c, async (realNode) => {
    if (!realNode) return r.note('pod start on a real node', `skipped: ${realNodeUnavailableReason() ?? 'no real node'}`);
    const via: number[] = [];
    const direct: number[] = [];
    for (let i = -1; i < c.sizes.real; i++) {
      // i = -1: one unmeasured pod each way (cold caches).
      const v = await podStartLatency(upper, ns, `real-${i + 1}`, realPod(`real-${i + 1}`, c.s.fedlets[0]!.nodeName));
      const d = await podStartLatency(lower, ns, `real-direct-${i + 1}`, realPod(`real-direct-${i + 1}`, realNode));
      if (i < 0) continue;
      via.push(v);
      direct.push(d);
    }
    r.compare('real-pod-start.p50', 'pod start → Ready on a real node, p50', pct(via, 50), pct(direct, 50), 'ms');
    r.compare('real-pod-start.p99', 'pod start → Ready on a real node, p99', pct(via, 99), pct(direct, 99), 'ms');
    await Promise.all(
      Array.from({ length: c.sizes.real + 1 }, (_, i) => [
        upper.delete(`/api/v1/namespaces/${ns}/pods/real-${i}`).catch(() => undefined),
        lower.delete(`/api/v1/namespaces/${ns}/pods/real-direct-${i}`).catch(() => undefined),
      ]).flat(),
    );
  });
}

/**
 * API economy: the writes fedlet makes per pod from create to Ready (both clusters, by verb and
 * resource; heartbeats and the bench's scrape apart), and those the lower cluster's own components make
 * for the same pods (from its audit log: the scheduler binds, the kubelet reports status, both post
 * events). On the real node when there is one (its kubelet is the reference), else on kwok.
 */
async function partWrites(c: Ctx): Promise<void> {
  const { s, upper, ns, r } = c;
  const count = Math.max(1, c.sizes.real);
  await onRealNode(c, async (realNode) => {
    const where = realNode ? 'real' : 'kwok';
    r.replace(`api-writes.${where}.`);
    const names = Array.from({ length: count }, (_, i) => `writes-${i}`);
    const body = (n: string) =>
      realNode
        ? realPod(n, s.fedlets[0]!.nodeName)
        : { ...simplePod(n), spec: { nodeName: s.fedlets[0]!.nodeName, containers: [{ name: 'c', image: 'x' }] } };
    const before = fedletWrites(await fedletMetrics(s));
    const from = Date.now() - 1000;
    for (const n of names) await podStartLatency(upper, ns, n, body(n));
    // What follows Ready at once (the last status and event writes) belongs to the start too.
    await sleep(3000);
    const fed = perPodWrites(writesBetween(before, fedletWrites(await fedletMetrics(s))));
    const to = Date.now();
    const auditLog = path.join(s.lowers[0]!.dir, 'audit.log');
    const lowerSide = existsSync(auditLog) ? auditWritesForPods(readFileSync(auditLog, 'utf8'), ns, names, from, to) : [];
    const own = lowerSide.filter((w) => w.who !== 'fedlet');
    r.print(
      `API writes per pod, create → Ready, ${count} pod(s) on a ${where} node (who, verb, resource, per pod):\n` +
        `fedlet (its counter; heartbeats and reviews apart):\n${writesTable(fed, count)}\n` +
        `the lower cluster's components for the same pods (audit log):\n${writesTable(lowerSide, count)}`,
    );
    for (const w of fed)
      r.measure(
        `api-writes.${where}.fedlet.${writeKey(w)}`,
        `API writes per pod on a ${where} node: fedlet ${w.who} ${w.verb} ${w.resource}`,
        w.n / count,
        'writes',
      );
    for (const w of own)
      r.measure(
        `api-writes.${where}.lower.${writeKey(w)}`,
        `API writes per pod on a ${where} node: lower ${w.who} ${w.verb} ${w.resource}`,
        w.n / count,
        'writes',
      );
    r.measure(
      `api-writes.${where}.fedlet.total`,
      `API writes per pod on a ${where} node, create → Ready: fedlet, both clusters`,
      total(fed) / count,
      'writes',
    );
    r.measure(
      `api-writes.${where}.lower.total`,
      `API writes per pod on a ${where} node, create → Ready: the lower cluster's scheduler and ${realNode ? 'kubelet' : 'kwok'}`,
      total(own) / count,
      'writes',
    );
    await Promise.all(names.map((n) => upper.delete(`/api/v1/namespaces/${ns}/pods/${n}`).catch(() => undefined)));
  });
}

/** An N-pod Deployment via fedlet and directly; fedlet's writes and RSS meanwhile. */
async function partBurst(c: Ctx): Promise<void> {
  const { s, upper, lower, ns, r } = c;
  const n = c.sizes.burst;
  r.replace('api-writes.burst.');
  const before = fedletWrites(await fedletMetrics(s));
  const via = await burst(upper, ns, 'burst-via', n);
  const all = writesBetween(before, fedletWrites(await fedletMetrics(s)));
  r.measure(
    'api-writes.per-pod.burst',
    `API writes by fedlet per pod of a ${n}-pod Deployment, create → Ready, both clusters (heartbeats included)`,
    total(all) / n,
    'writes',
  );
  for (const w of all)
    r.measure(
      `api-writes.burst.${writeKey(w)}`,
      `API writes by fedlet per pod of the burst: ${w.who} ${w.verb} ${w.resource}`,
      w.n / n,
      'writes',
    );
  r.print(`API writes by fedlet per pod of the burst (who, verb, resource, per pod):\n${writesTable(all, n)}`);
  r.measure(`rss.${n}-pods`, `fedlet RSS with ${n} managed pods`, rssMiB(c.fedletPid()), 'MiB');
  const direct = await burst(lower, ns, 'burst-direct', n);
  r.compare(`burst.${n}`, `${n}-pod Deployment → all Ready`, via, direct, 's');
  await deleteDeployment(lower, ns, 'burst-direct', lower, ns);
  if (!c.last) await deleteDeployment(upper, ns, 'burst-via', lower, ns);
}

/** logs, exec cat, port-forward through fedlet and directly, with each component's CPU per MiB. */
async function partStreams(c: Ctx): Promise<void> {
  const { s, upper, ns, r } = c;
  await burst(upper, ns, 'streams', 1);
  const podName = (
    await upper.get<{ items: PodLike[] }>(`/api/v1/namespaces/${ns}/pods`, { query: { labelSelector: 'app=streams', limit: 1 } })
  ).items[0]!.metadata.name;
  const mib = c.sizes.streamMiB;
  const logsFile = s.lowers[0]!.logsFile!;
  const line = `${'x'.repeat(1000)}`;
  const lines = Math.ceil((mib * 1024 * 1024) / 1040);
  const block = Array.from({ length: 1000 }, () => `2026-01-01T00:00:00.000000000Z stdout F ${line}\n`).join('');
  for (let i = 0; i < lines / 1000; i++) appendFileSync(logsFile, block);
  const logBytes = Math.max(1, lines * 1001 - 1024 * 1024); // lower bound of what kubectl prints
  const logMiB = logBytes / 1024 / 1024;
  const lowerKc = s.lowerKubeconfigs[0]!;
  // logs and exec cat: one kubectl command each way, timed until it printed `bytes`.
  const kubectlStream = (kind: string, what: string, args: string[], bytes: number, mib: number) =>
    streamKind(
      c,
      kind,
      mib,
      { via: `${what} via fedlet`, direct: `${what} direct`, throughput: `${what} throughput` },
      (share) => share(() => timedKubectlRetry(r, `${kind} via fedlet`, s.upperKubeconfig, args, bytes)),
      (share) => share(() => timedKubectlRetry(r, `${kind} direct`, lowerKc, args, bytes)),
    );
  await kubectlStream('logs', 'kubectl logs', ['logs', podName, '-n', ns], logBytes, logMiB);
  // attach: kwok's attach follows the same log file; the measured bytes are appended once attached.
  const attachBlocks = Math.ceil((Math.max(1, Math.floor(mib / 2)) * 1024 * 1024) / block.length);
  const attachBytes = Math.max(1, attachBlocks * 1000 * 1001 - 1024 * 1024);
  const attach = (kc: string) => (share: <T>(run: () => Promise<T>) => Promise<T>) =>
    attachThroughput(
      kc,
      podName,
      ns,
      attachBytes,
      () => {
        for (let i = 0; i < attachBlocks; i++) appendFileSync(logsFile, block);
      },
      share,
    );
  await streamKind(
    c,
    'attach',
    attachBytes / 1048576,
    { via: 'kubectl attach via fedlet', direct: 'kubectl attach direct', throughput: 'kubectl attach throughput' },
    attach(s.upperKubeconfig),
    attach(lowerKc),
  );
  const bigFile = path.join(s.lowers[0]!.dir, 'streams', 'exec', 'big.bin');
  const bytes = mib * 1024 * 1024;
  if (!existsSync(bigFile) || readFileSync(bigFile).length !== bytes) writeFileSync(bigFile, randomBytes(bytes));
  await kubectlStream('exec', 'kubectl exec cat', ['exec', podName, '-n', ns, '--', 'cat', 'big.bin'], bytes, mib);
  const echo = net.createServer((sock) => sock.pipe(sock));
  await new Promise<void>((res) => echo.listen(s.lowers[0]!.portForwardTarget!, '127.0.0.1', () => res()));
  try {
    const pfBytes = Math.min(bytes, 32 * 1024 * 1024);
    const pf = (kc: string) => () => portForwardThroughput(kc, ns, podName, pfBytes);
    await streamKind(
      c,
      'port-forward',
      pfBytes / 1048576,
      {
        via: 'port-forward via fedlet (per MiB each way)',
        direct: 'port-forward direct (per MiB each way)',
        throughput: 'kubectl port-forward echo throughput',
      },
      (share) => share(pf(s.upperKubeconfig)),
      (share) => share(pf(lowerKc)),
    );
  } finally {
    echo.close();
  }
  if (!c.last) await deleteDeployment(upper, ns, 'streams', c.lower, ns);
}

/** fedlet's RSS once it manages `large` pods (a Deployment of its own tops up what earlier parts left). */
async function partLarge(c: Ctx): Promise<void> {
  const { upper, ns, r } = c;
  const target = c.sizes.large;
  const have = await countReady(upper, ns, '');
  const t0 = Date.now();
  await burst(upper, ns, 'large', Math.max(1, target - have));
  const managed = await countReady(upper, ns, '');
  r.measure(
    `rss.${target}-pods`,
    `fedlet RSS with ${target} managed pods (${managed} at the measurement)`,
    rssMiB(c.fedletPid()),
    'MiB',
  );
  r.measure(`large.${target}-pods.ready-after`, `${target} managed pods Ready after`, (Date.now() - t0) / 1000, 's');
  // RSS with V8's heap beside it (and, with BENCH_HEAP_SNAPSHOTS, a heap snapshot: the process's last reading).
  r.note(`fedlet memory with ${managed} managed pods`, await memoryReading(c.s, c.fedletPid(), true));
  if (!c.last) await deleteDeployment(upper, ns, 'large', c.lower, ns);
}

const PART_RUNNERS: Record<Part, (c: Ctx) => Promise<void>> = {
  extender: async (c) => benchExtender(c.r),
  pods: partPods,
  pools: (c) => benchPools(c.s, c.r, c.sizes),
  real: partReal,
  writes: partWrites,
  storage: (c) =>
    benchStorage({
      upper: c.upper,
      lower: c.lower,
      ns: c.ns,
      count: c.sizes.storage,
      startLatency: podStartLatency,
      r: c.r,
      pct,
    }),
  burst: partBurst,
  surge: (c) =>
    benchSurge({
      s: c.s,
      ns: c.ns,
      sizes: c.sizes.surge,
      concurrency: c.sizes.surgeConcurrency,
      r: c.r,
      last: c.last,
      fedletPid: c.fedletPid,
    }),
  peers: partPeers,
  streams: partStreams,
  restart: async (c) => {
    await benchRestart({
      s: c.s,
      upper: c.upper,
      lower: c.lower,
      ns: c.ns,
      pods: c.sizes.restart,
      windowMs: c.sizes.restartWindowMs,
      burst,
      countReady,
      fedletMetrics: () => fedletMetrics(c.s),
      r: c.r,
    });
    if (!c.last) await deleteDeployment(c.upper, c.ns, 'restart-steady', c.lower, c.ns);
  },
  large: partLarge,
  memory: (c) =>
    benchMemory({
      s: c.s,
      upper: c.upper,
      lower: c.lower,
      ns: c.ns,
      pods: c.sizes.large,
      burst,
      deleteDeployment,
      r: c.r,
    }),
};

function benchNodes(i: number): KwokNodeSpec[] {
  return Array.from({ length: kwokNodeCount(sizes) }, (_, j) => ({
    name: `kwok-node-${j}`,
    cpu: '1000',
    memory: '4Ti',
    pods: 1100,
    podCIDR: `10.244.${j * 8}.0/21`,
    labels: { 'topology.kubernetes.io/region': `r${i}` },
  }));
}

/** The bench namespace in both clusters; the lower one granted to fedlet (as a lower admin would), since the bench made it. */
async function ensureNamespaces(s: SandboxState, upper: KubeClient, lower: KubeClient, ns: string): Promise<void> {
  const labels = { [LABEL_GRANT]: s.fedlets[0]!.cluster };
  for (const [c, meta] of [
    [upper, { name: ns }],
    [lower, { name: ns, labels }],
  ] as const) {
    await c.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: meta }).catch(() => undefined);
    for (let i = 0; i < 100; i++) {
      if (
        await c.get(`/api/v1/namespaces/${ns}/serviceaccounts/default`).then(
          () => true,
          () => false,
        )
      )
        break;
      await sleep(200);
    }
  }
}

async function runParts(r: Recorder): Promise<void> {
  const withSandbox = plan.parts.some((p) => p !== 'extender');
  if (!withSandbox) {
    for (const p of plan.parts) await PART_RUNNERS[p]({ r } as Ctx);
    return;
  }
  const dir = process.env.BENCH_DIR ?? mkdtempSync(path.join(os.tmpdir(), 'fedlet-bench-'));
  r.print(`parts: ${plan.parts.join(', ')}${plan.smoke ? ' (smoke sizes)' : ''}; sandbox in ${dir}`);
  r.print(`kube-scheduler client QPS, upper and lower: ${sizes.schedulerQps || 'their default (50)'}`);
  const wantReal = plan.parts.includes('real') || plan.parts.includes('writes');
  // BENCH_REAL_NODE=0: no real node even where one could run (the smoke test, beside the e2e sandbox's).
  const noReal = !wantReal
    ? 'not asked for'
    : process.env.BENCH_REAL_NODE === '0'
      ? 'BENCH_REAL_NODE=0'
      : realNodeUnavailableReason();
  if (wantReal && noReal) r.note('real node', `none: ${noReal}`);
  const snapshots = process.env.BENCH_HEAP_SNAPSHOTS;
  if (snapshots) {
    // Every node process the sandbox starts inherits it; the bench signals only fedlet (SIGUSR2).
    mkdirSync(snapshots, { recursive: true });
    process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} ${heapSnapshotNodeOptions(snapshots)}`.trim();
  }
  if (plan.parts.includes('peers')) {
    if (!PEERS.size) throw new Error('BENCH_ONLY asks for part peers: name the peer with BENCH_PEERS=liqo');
    preparePeers();
  }
  const s = await sandboxUp({
    dir,
    lowers: plan.parts.includes('peers') ? peerLowers(1) : 1,
    lowerNodes: benchNodes,
    realNodes: noReal ? 0 : 1,
    auditLowerWrites: plan.parts.includes('writes'),
    schedulerQps: sizes.schedulerQps || undefined,
    progress: (m) => console.error(`[bench] ${m}`),
  });
  try {
    const upper = new KubeClient(loadKubeConfig(s.upperKubeconfig), { writeQps: 1000, writeBurst: 1000 });
    const lower = new KubeClient(loadKubeConfig(s.lowerKubeconfigs[0]!), { writeQps: 1000, writeBurst: 1000 });
    const ns = 'bench';
    await ensureNamespaces(s, upper, lower, ns);
    // Idle: the virtual node Ready, no pods, start-up work settled.
    await new Promise((res) => setTimeout(res, plan.smoke ? 1000 : 15_000));
    r.measure('rss.idle', 'fedlet RSS idle', rssMiB(s.fedlets[0]!.process!.pid), 'MiB');
    r.note('fedlet memory idle', await memoryReading(s, s.fedlets[0]!.process!.pid, false));
    for (const [i, p] of plan.parts.entries()) {
      const t0 = Date.now();
      r.print(`part ${p}`);
      await PART_RUNNERS[p]({
        s,
        upper,
        lower,
        ns,
        sizes,
        r,
        last: i === plan.parts.length - 1,
        fedletPid: () => s.fedlets[0]!.process!.pid,
      });
      r.print(`part ${p} done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
  } finally {
    if (!process.env.BENCH_KEEP) await sandboxDown(dir);
  }
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

/**
 * fedlet and another project side by side on the same work (BENCH_PEERS=liqo, test/bench/peers/): each
 * row becomes measures `peers.<peer>.<row>.<side>`, and the whole table is printed.
 */
async function partPeers(c: Ctx): Promise<void> {
  await benchPeers({ s: c.s, startLatency: podStartLatency, countReady, pct, note: (n, v) => c.r.note(n, v) });
  const liqo = peerResults()?.liqo as
    { rows: Array<{ measure: string; unit: string; fedlet: number; liqo: number; direct?: number }> } | undefined;
  c.r.replace('peers.liqo.');
  for (const row of liqo?.rows ?? []) {
    const slug = row.measure
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '');
    c.r.measure(`peers.liqo.${slug}.fedlet`, `${row.measure}: fedlet`, row.fedlet, row.unit);
    c.r.measure(`peers.liqo.${slug}.liqo`, `${row.measure}: Liqo`, row.liqo, row.unit);
    if (row.direct !== undefined) c.r.measure(`peers.liqo.${slug}.direct`, `${row.measure}: direct`, row.direct, row.unit);
  }
}

/** Merges this run's measures into the results file and draws its figure; the default file also regenerates the docs' tables. */
function saveResults(r: Recorder): void {
  const docs = path.join(process.cwd(), 'docs', 'bench-results.json');
  const out = process.env.BENCH_RESULTS ?? docs;
  const previous = readResults(out);
  for (const k of Object.keys(previous.measures)) if (r.replaced.some((p) => k.startsWith(p))) delete previous.measures[k];
  const merged = mergeResults(previous, r.measures, os.cpus().length);
  writeResults(out, merged);
  if (path.resolve(out) === docs) updateDocs(process.cwd(), merged);
  // The figure beside its results (docs/bench.svg for the default file).
  const svg = path.resolve(out) === docs ? path.join(path.dirname(docs), 'bench.svg') : out.replace(/(\.json)?$/, '.svg');
  writeFileSync(svg, benchSvg(merged));
  console.error(`[bench] ${Object.keys(r.measures).length} measure(s) merged into ${out}`);
  console.log(`\nfedlet benchmark (${new Date().toISOString()}, ${os.cpus().length} cores)\n\n${r.lines.join('\n')}`);
}

async function main(): Promise<void> {
  const r = new Recorder();
  // Stopped from outside (a run that outlasts its slot): keep what was measured; `fedlet sandbox down
  // --dir DIR` then stops the sandbox the run leaves.
  process.once('SIGTERM', () => {
    if (Object.keys(r.measures).length) saveResults(r);
    process.exit(143);
  });
  try {
    await runParts(r);
  } finally {
    // What the parts before a failure measured is kept (a long run that fails in its last part, e.g.
    // 10,000 pods not Ready in time, still has its other figures).
    if (Object.keys(r.measures).length) saveResults(r);
  }
}

main().catch((e: Error) => {
  console.error(`bench failed: ${e.stack ?? e.message}`);
  process.exit(1);
});
