// Bench part `surge`: bursts that measure fedlet, not kube-controller-manager. The `burst` part's
// Deployment is created at kcm's client rate (20 QPS) on both sides, so its ratio says little about
// fedlet. Here the bench creates bare pods itself, a fixed number of creates in flight on a client without
// a rate limit, directly in the lower cluster (the lower scheduler places them on kwok nodes) and in the
// upper cluster (the upper scheduler places them on the virtual node, fedlet makes them in the lower
// cluster). Per size: time until all are Ready, pods/s, create → Ready p50/p99, fedlet's CPU seconds per
// 1,000 pods, and when the last pod passed each stage of the path (so the stage that bounds the rate
// shows), with every sandbox process's CPU meanwhile.
//
// Times are the bench's own clock: a pod's create is when its POST was sent, its stages when the bench's
// watch delivered the change (creationTimestamp and the Ready condition's lastTransitionTime have only
// whole seconds). They include the bench's own event loop, which parses every watch event.
import { KubeClient, loadKubeConfig } from '../../src/kube/client.js';
import { LABEL_HOSTNAME } from '../../src/labels.js';
import type { SandboxState } from '../../sandbox/sandbox.js';
import { cpuSeconds } from './fedlet-process.js';
import type { Recorder } from './run.js';

/** The label of every surge pod; its value names the surge (side and size). */
const LABEL = 'bench-surge';

interface SurgePod {
  metadata: { name: string; resourceVersion?: string };
  spec?: { nodeName?: string };
  status?: { conditions?: Array<{ type: string; status: string }> };
}

export interface SurgeCtx {
  s: SandboxState;
  ns: string;
  sizes: number[];
  concurrency: number;
  r: Recorder;
  last: boolean;
  fedletPid: () => number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isReady = (p: SurgePod) => !!p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/** When each pod first reached each stage (ms since the surge began). */
class Stages {
  readonly at = new Map<string, Map<string, number>>();

  mark(stage: string, pod: string, t: number): void {
    let m = this.at.get(stage);
    if (!m) this.at.set(stage, (m = new Map()));
    if (!m.has(pod)) m.set(pod, t);
  }

  count(stage: string): number {
    return this.at.get(stage)?.size ?? 0;
  }

  /** When the last pod reached the stage. */
  last(stage: string): number {
    return Math.max(0, ...(this.at.get(stage)?.values() ?? []));
  }
}

/** Follows the pods of `selector`, resuming where a closed watch ended (from scratch after an ERROR). */
async function follow(
  c: KubeClient,
  ns: string,
  selector: string,
  signal: AbortSignal,
  on: (p: SurgePod) => void,
): Promise<void> {
  let rv: string | undefined;
  while (!signal.aborted) {
    try {
      const query = { labelSelector: selector, resourceVersion: rv, allowWatchBookmarks: true };
      for await (const ev of c.watch<SurgePod>(`/api/v1/namespaces/${ns}/pods`, query, signal)) {
        if (ev.type === 'ERROR') {
          rv = undefined;
          break;
        }
        rv = ev.object.metadata.resourceVersion;
        if (ev.type === 'ADDED' || ev.type === 'MODIFIED') on(ev.object);
      }
    } catch {
      if (signal.aborted) return;
      await sleep(200);
    }
  }
}

interface SurgeRun {
  stages: Stages;
  /** Create → Ready per pod, ms. */
  latencies: number[];
  /** Seconds until every pod was Ready. */
  total: number;
  /** CPU seconds per process over the surge. */
  cpu: Map<string, number>;
  retries: number;
}

/** Sandbox processes whose CPU the surge reads, by name (`cluster/process`). */
function processes(c: SurgeCtx): Array<[string, number]> {
  const out: Array<[string, number]> = [['fedlet', c.fedletPid()]];
  if (c.s.extender) out.push(['upper/fedlet-extender', c.s.extender.pid]);
  for (const cl of [c.s.upper, c.s.lowers[0]!])
    for (const p of cl.processes)
      if (['kube-apiserver', 'kube-scheduler', 'kube-controller-manager', 'etcd', 'kwok'].includes(p.name))
        out.push([`${cl.role}/${p.name}`, p.pid]);
  return out;
}

/**
 * One surge: `n` pods created in `into` (the bench's watch follows them there and, via fedlet, their
 * lower copies in `lower`), `concurrency` creates in flight, until every one is Ready.
 */
async function surgeOnce(
  c: SurgeCtx,
  o: { into: KubeClient; lower?: KubeClient; tag: string; n: number; nodeSelector: Record<string, string> },
): Promise<SurgeRun> {
  const { ns } = c;
  const selector = `${LABEL}=${o.tag}`;
  const stages = new Stages();
  const sent = new Map<string, number>();
  const ac = new AbortController();
  let t0 = performance.now();
  const now = () => performance.now() - t0;
  let allReady = (): void => undefined;
  const done = new Promise<void>((resolve) => (allReady = resolve));
  const onPod = (prefix: string) => (p: SurgePod) => {
    const t = now();
    const name = p.metadata.name;
    stages.mark(`${prefix}seen`, name, t);
    if (p.spec?.nodeName) stages.mark(`${prefix}bound`, name, t);
    if (isReady(p)) stages.mark(`${prefix}ready`, name, t);
    if (!prefix && stages.count('ready') >= o.n) allReady();
  };
  const watched = [follow(o.into, ns, selector, ac.signal, onPod(''))];
  if (o.lower) watched.push(follow(o.lower, ns, selector, ac.signal, onPod('lower:')));
  // The watches connect before the first create (no pod has the label yet: nothing is missed).
  await sleep(1000);
  const procs = processes(c);
  const cpu0 = procs.map(([, pid]) => cpuSeconds(pid));
  const bench0 = process.cpuUsage();
  t0 = performance.now();
  let next = 0;
  let retries = 0;
  const worker = async () => {
    while (next < o.n) {
      const name = `${o.tag}-${next++}`;
      const body = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, labels: { [LABEL]: o.tag } },
        spec: { nodeSelector: o.nodeSelector, containers: [{ name: 'c', image: 'x' }] },
      };
      sent.set(name, now());
      for (let attempt = 0; ; attempt++) {
        try {
          await o.into.create(`/api/v1/namespaces/${ns}/pods`, body);
          break;
        } catch (e) {
          if (attempt >= 10 || (e as { code?: number }).code === 409) throw e;
          retries++;
          await sleep(100 * (attempt + 1));
        }
      }
      stages.mark('created', name, now());
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, c.concurrency) }, worker));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 30 * 60_000)));
  const outcome = await Promise.race([done, timeout]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    ac.abort();
    throw new Error(`surge ${o.tag}: ${stages.count('ready')} of ${o.n} pods Ready within 30 minutes`);
  }
  const total = now() / 1000;
  const cpu = new Map(procs.map(([name, pid], i) => [name, cpuSeconds(pid) - cpu0[i]!]));
  const b = process.cpuUsage(bench0);
  cpu.set('bench (this process)', (b.user + b.system) / 1e6);
  ac.abort();
  await Promise.allSettled(watched);
  const ready = stages.at.get('ready')!;
  const latencies = [...ready].map(([name, t]) => t - sent.get(name)!);
  return { stages, latencies, total, cpu, retries };
}

/** Where the time went: per stage, when the last pod passed it and its p50 from create. */
function stageTable(run: SurgeRun, n: number, via: boolean): string {
  const names: Array<[string, string]> = via
    ? [
        ['created', 'create answered (upper)'],
        ['bound', 'bound to the virtual node (upper scheduler)'],
        ['lower:seen', 'made in the lower cluster (fedlet)'],
        ['lower:bound', 'bound to a kwok node (lower scheduler)'],
        ['lower:ready', 'Ready in the lower cluster (kwok)'],
        ['ready', 'Ready upstairs (fedlet)'],
      ]
    : [
        ['created', 'create answered'],
        ['bound', 'bound to a kwok node (scheduler)'],
        ['ready', 'Ready (kwok)'],
      ];
  return names
    .map(([k, label]) => {
      const at = run.stages.at.get(k);
      const p50 = at ? pct([...at.values()], 50) : NaN;
      const last = run.stages.last(k) / 1000;
      return `  ${label}: ${run.stages.count(k)}/${n}, last at ${last.toFixed(1)} s (${(n / last).toFixed(0)}/s), p50 at ${(p50 / 1000).toFixed(2)} s`;
    })
    .join('\n');
}

function cpuTable(run: SurgeRun): string {
  return [...run.cpu]
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([name, v]) => `  ${name}: ${v.toFixed(1)} s`)
    .join('\n');
}

/**
 * Deletes the surge's pods and waits until none is left in either cluster (direct pods at once: no grace).
 * A collection delete of thousands of pods can outlast the API server's request timeout (the connection
 * closes while the server keeps deleting): once it has ended, it is sent again (15 s apart) while pods are left.
 */
async function remove(c: SurgeCtx, into: KubeClient, lower: KubeClient, tag: string, force: boolean): Promise<void> {
  const q = { query: { labelSelector: `${LABEL}=${tag}` } };
  const opts = force ? { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 } : undefined;
  let inFlight = false;
  const deleteAll = () => {
    inFlight = true;
    into
      .delete(`/api/v1/namespaces/${c.ns}/pods`, opts, q)
      .catch((e: Error) => {
        c.r.print(`surge ${tag}: deleting the pods: ${e.message.slice(0, 160)}; sending it again while pods are left`);
      })
      .finally(() => (inFlight = false));
  };
  deleteAll();
  let sent = Date.now();
  const deadline = Date.now() + 20 * 60_000;
  while (Date.now() < deadline) {
    const left = await Promise.all(
      [into, lower].map((k) =>
        k.get<{ items: unknown[] }>(`/api/v1/namespaces/${c.ns}/pods`, { query: { ...q.query, limit: 1 } }),
      ),
    );
    if (left.every((l) => !l.items.length)) return;
    if (!inFlight && Date.now() - sent > 15_000 && left[0]!.items.length) {
      deleteAll();
      sent = Date.now();
    }
    await sleep(1000);
  }
  throw new Error(`surge ${tag}: pods still there 20 minutes after their deletion`);
}

/** Every size of the plan, direct first (then deleted), then via fedlet (deleted unless the run ends here). */
export async function benchSurge(c: SurgeCtx): Promise<void> {
  const { s, r } = c;
  // Clients of their own, without a write limit: the bench, not a client bucket, sets the pace.
  const unlimited = { writeQps: 1e6, writeBurst: 1e6 };
  const upper = new KubeClient(loadKubeConfig(s.upperKubeconfig), unlimited);
  const lower = new KubeClient(loadKubeConfig(s.lowerKubeconfigs[0]!), unlimited);
  for (const [i, n] of c.sizes.entries()) {
    const direct = await surgeOnce(c, { into: lower, tag: `direct-${n}`, n, nodeSelector: { type: 'kwok' } });
    r.print(
      `surge of ${n} pods direct (${c.concurrency} creates in flight, ${direct.retries} retried), ` +
        `stages:\n${stageTable(direct, n, false)}\nCPU seconds meanwhile:\n${cpuTable(direct)}`,
    );
    await remove(c, lower, lower, `direct-${n}`, true);
    const fedlet = s.fedlets[0]!.nodeName;
    const via = await surgeOnce(c, { into: upper, lower, tag: `via-${n}`, n, nodeSelector: { [LABEL_HOSTNAME]: fedlet } });
    r.print(
      `surge of ${n} pods via fedlet (${via.retries} retried), stages:\n${stageTable(via, n, true)}\n` +
        `CPU seconds meanwhile:\n${cpuTable(via)}`,
    );
    r.compare(`surge.${n}`, `${n} bare pods created at once (no kcm) → all Ready`, via.total, direct.total, 's');
    r.compare(`surge.${n}.rate`, `${n} bare pods at once, pods Ready per second`, n / via.total, n / direct.total, 'pods/s');
    r.compare(
      `surge.${n}.p50`,
      `${n} bare pods at once, create → Ready p50`,
      pct(via.latencies, 50),
      pct(direct.latencies, 50),
      'ms',
    );
    r.compare(
      `surge.${n}.p99`,
      `${n} bare pods at once, create → Ready p99`,
      pct(via.latencies, 99),
      pct(direct.latencies, 99),
      'ms',
    );
    r.measure(
      `surge.${n}.fedlet-cpu-per-1000-pods`,
      `fedlet CPU seconds per 1,000 pods of a ${n}-pod surge, create → all Ready`,
      ((via.cpu.get('fedlet') ?? 0) * 1000) / n,
      's',
    );
    r.note(`fedlet CPU seconds while ${n} pods surged directly in its lower cluster`, (direct.cpu.get('fedlet') ?? 0).toFixed(1));
    if (!c.last || i < c.sizes.length - 1) await remove(c, upper, lower, `via-${n}`, false);
  }
}
