// The optional side-by-side comparison of the bench with Liqo (BENCH_PEERS=liqo; not part of npm test):
// fedlet on lower-1 and Liqo v1.2.0 on lower-2 (liqo-setup.ts) under one upper cluster, measured on the same
// work in the same run — single pod create → Ready, a Deployment burst, its deletion, memory, CPU and API
// writes per pod — with the direct path in lower-1 as the floor. Lower is better for every row, and the
// table names the winner of each, including the rows Liqo wins. Sizes: BENCH_PEER_SINGLE (20),
// BENCH_PEER_BURST (200).
import { KubeClient, loadKubeConfig } from '../../../src/kube/client.js';
import { stopFedlet, type SandboxState } from '../../../sandbox/sandbox.js';
import { cpuSeconds, fedletMetrics, rssMiB } from '../fedlet-process.js';
import {
  LIQO_NODE_SELECTOR,
  LIQO_TOLERATION,
  buildLiqo,
  ensureNamespace,
  startLiqo,
  stopLiqo,
  type LiqoPeer,
} from './liqo-setup.js';

export const PEERS = new Set((process.env.BENCH_PEERS ?? '').split(',').filter(Boolean));
const SINGLE = Number(process.env.BENCH_PEER_SINGLE ?? 20);
const BURST = Number(process.env.BENCH_PEER_BURST ?? 200);
const LIQO_VERSION = process.env.LIQO_VERSION ?? 'v1.2.0';

/** Lower clusters the sandbox needs: Liqo takes a second one of its own. */
export function peerLowers(n: number): number {
  return PEERS.has('liqo') ? Math.max(n, 2) : n;
}

let liqoDir: string | undefined;
/** Builds the peers before the sandbox starts (a cold Liqo build takes minutes and both cores). */
export function preparePeers(): void {
  for (const p of PEERS) if (p !== 'liqo') throw new Error(`BENCH_PEERS: unknown peer ${p} (known: liqo)`);
  if (PEERS.has('liqo')) liqoDir = buildLiqo();
}

export interface PeerRow {
  measure: string;
  unit: string;
  fedlet: number;
  liqo: number;
  /** Liqo's figure split into its virtual kubelet and its controller manager, where both count. */
  liqoParts?: { virtualKubelet: number; controllerManager: number };
  /** The same work directly in the lower cluster, where it has a meaning. */
  direct?: number;
}
const rows: PeerRow[] = [];
const notes: Array<[string, string]> = [];

type Key = 'fedlet' | 'liqo' | 'direct';
/** One way of running the same work: where it is created, where its pods land, what it costs. */
interface Side {
  key: Key;
  client: KubeClient;
  ns: string;
  lower: KubeClient;
  lowerNs: string;
  spec: Record<string, unknown>;
  /** The processes the system adds (fedlet: one; Liqo: virtual kubelet, controller manager). */
  pids: () => number[];
  /** Admin clients of the API servers the work touches: their write counters give writes per pod. */
  apiServers: KubeClient[];
}

export interface PeerContext {
  s: SandboxState;
  startLatency: (c: KubeClient, ns: string, name: string, body: unknown) => Promise<number>;
  countReady: (c: KubeClient, ns: string, selector: string) => Promise<number>;
  pct: (xs: number[], p: number) => number;
  note: (name: string, value: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cpuOf = (side: Side) => side.pids().map(cpuSeconds);
const diff = (after: number[], before: number[]) => after.map((a, i) => a - before[i]!);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'DELETECOLLECTION', 'APPLY']);
/** Write requests an API server has served since it started, all clients together. */
async function apiWrites(c: KubeClient): Promise<number> {
  const text = await c.getText('/metrics');
  let n = 0;
  for (const m of text.matchAll(/^apiserver_request_total\{([^}]*)\} (\S+)/gm)) {
    const verb = /verb="([A-Z]+)"/.exec(m[1]!)?.[1];
    if (verb && WRITE_VERBS.has(verb)) n += Number(m[2]);
  }
  return n;
}
const writesOf = async (side: Side) => sum(await Promise.all(side.apiServers.map(apiWrites)));

/** TokenRequests an API server refused (403) since it started: the Node authorizer's answer before it saw a binding. */
async function tokenRefusals(c: KubeClient): Promise<number> {
  let n = 0;
  for (const m of (await c.getText('/metrics')).matchAll(/^apiserver_request_total\{([^}]*)\} (\S+)/gm))
    if (/code="403"/.test(m[1]!) && /resource="serviceaccounts"/.test(m[1]!) && /subresource="token"/.test(m[1]!))
      n += Number(m[2]);
  return n;
}

/** fedlet's own write requests to both clusters (its fedlet_api_requests_total). */
async function fedletWrites(s: SandboxState): Promise<number> {
  let n = 0;
  for (const m of (await fedletMetrics(s)).matchAll(/^fedlet_api_requests_total\{[^}]*verb="([A-Z]+)"[^}]*\} (\d+)/gm))
    if (WRITE_VERBS.has(m[1]!)) n += Number(m[2]);
  return n;
}

function podBody(side: Side, name: string, labels: Record<string, string> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: { ...side.spec, containers: [{ name: 'c', image: 'x' }] },
  };
}

async function podsLeft(c: KubeClient, ns: string, selector: string): Promise<number> {
  const l = await c.get<{ items: unknown[] }>(`/api/v1/namespaces/${ns}/pods`, { query: { labelSelector: selector, limit: 1 } });
  return l.items.length;
}

/** Until no pod matching `selector` is left on either side of the path; seconds. */
async function waitGone(side: Side, selector: string, timeoutMs = 15 * 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const left = (await podsLeft(side.client, side.ns, selector)) + (await podsLeft(side.lower, side.lowerNs, selector));
    if (!left) return;
    await sleep(250);
  }
  throw new Error(`${side.key}: pods ${selector} still present after ${timeoutMs / 1000} s`);
}

/** Single pods create → Ready, the sides taking turns so that drift on the machine hits them alike. */
async function singles(ctx: PeerContext, sides: Side[]): Promise<Map<Key, number[]>> {
  const lat = new Map<Key, number[]>(sides.map((x) => [x.key, []]));
  const label = { bench: 'peer-single' };
  const started = new Map<Key, string[]>(sides.map((x) => [x.key, []]));
  const refused0 = await tokenRefusals(sides[0]!.client);
  for (let i = -1; i < SINGLE; i++)
    for (const side of sides) {
      const name = `single-${i + 1}`;
      started.get(side.key)!.push(new Date().toISOString().slice(11, 23));
      const ms = await ctx.startLatency(side.client, side.ns, name, podBody(side, name, label));
      if (i >= 0) lat.get(side.key)!.push(ms); // i = -1: one unmeasured pod each (cold caches)
    }
  // Each pod's latency in order, with the wall-clock time it was created at (to find an outlier in the logs).
  for (const side of sides)
    ctx.note(
      `single pods, ${side.key}, in order (created at UTC: ms)`,
      lat
        .get(side.key)!
        .map((ms, i) => `${started.get(side.key)![i + 1]}: ${ms.toFixed(0)}`)
        .join(', '),
    );
  ctx.note(
    'TokenRequests the upper API server refused (403) during the single pods',
    String((await tokenRefusals(sides[0]!.client)) - refused0),
  );
  await Promise.all(
    sides.map(async (side) => {
      await side.client.delete(`/api/v1/namespaces/${side.ns}/pods`, undefined, {
        query: { labelSelector: 'bench=peer-single' },
      });
      await waitGone(side, 'bench=peer-single');
    }),
  );
  return lat;
}

interface BurstResult {
  seconds: number;
  cpu: number[];
  writesPerPod: number;
  rss: number[];
  deleteSeconds: number;
  deleteCpu: number[];
  ownWritesPerPod?: number;
}

/** A Deployment of BURST pods → all Ready, then its deletion → no pod left on either side. */
async function deploymentBurst(ctx: PeerContext, side: Side): Promise<BurstResult> {
  const name = `burst-${side.key}`;
  const writes0 = await writesOf(side);
  const own0 = side.key === 'fedlet' ? await fedletWrites(ctx.s) : 0;
  const cpu0 = cpuOf(side);
  const t0 = performance.now();
  await side.client.create(`/apis/apps/v1/namespaces/${side.ns}/deployments`, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas: BURST,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { ...side.spec, containers: [{ name: 'c', image: 'x' }] } },
    },
  });
  const deadline = Date.now() + 15 * 60_000;
  while ((await ctx.countReady(side.client, side.ns, `app=${name}`)) < BURST) {
    if (Date.now() > deadline) throw new Error(`${side.key}: ${BURST} pods not Ready within 15 minutes`);
    await sleep(250);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = diff(cpuOf(side), cpu0);
  const writesPerPod = ((await writesOf(side)) - writes0) / BURST;
  const ownWritesPerPod = side.key === 'fedlet' ? ((await fedletWrites(ctx.s)) - own0) / BURST : undefined;
  await sleep(5000); // memory once the burst's work has settled
  const rss = side.pids().map(rssMiB);
  const cpu1 = cpuOf(side);
  const d0 = performance.now();
  await side.client.delete(`/apis/apps/v1/namespaces/${side.ns}/deployments/${name}`, { propagationPolicy: 'Background' });
  await waitGone(side, `app=${name}`);
  const deleteSeconds = (performance.now() - d0) / 1000;
  return { seconds, cpu, writesPerPod, rss, deleteSeconds, deleteCpu: diff(cpuOf(side), cpu1), ownWritesPerPod };
}

function row(measure: string, unit: string, f: number, liqoParts: number[], direct?: number): void {
  const [vk, cm] = liqoParts;
  rows.push({
    measure,
    unit,
    fedlet: f,
    liqo: sum(liqoParts),
    ...(cm !== undefined ? { liqoParts: { virtualKubelet: vk!, controllerManager: cm } } : {}),
    ...(direct !== undefined ? { direct } : {}),
  });
}

function sidesFor(s: SandboxState, peer: LiqoPeer, admin: KubeClient[]): Side[] {
  const [upper, lower1, lower2] = admin as [KubeClient, KubeClient, KubeClient];
  const fedletPid = () => s.fedlets[0]!.process!.pid;
  return [
    {
      key: 'fedlet',
      client: upper,
      ns: 'peer-fedlet',
      lower: lower1,
      lowerNs: 'peer-fedlet',
      spec: {},
      pids: () => [fedletPid()],
      apiServers: [upper, lower1],
    },
    {
      key: 'liqo',
      client: upper,
      ns: peer.upperNs,
      lower: lower2,
      lowerNs: peer.lowerNs,
      spec: { nodeSelector: LIQO_NODE_SELECTOR, tolerations: [LIQO_TOLERATION] },
      pids: () => [peer.vk.pid, peer.cm.pid],
      apiServers: [upper, lower2],
    },
    {
      key: 'direct',
      client: lower1,
      ns: 'peer-direct',
      lower: lower1,
      lowerNs: 'peer-direct',
      spec: {},
      pids: () => [],
      apiServers: [lower1],
    },
  ];
}

/** Idle memory and CPU over a quiet window, once both virtual nodes are Ready. */
async function idle(sides: Side[]): Promise<void> {
  const [f, l] = sides as [Side, Side];
  const windowS = 20;
  const c0 = [cpuOf(f), cpuOf(l)];
  await sleep(windowS * 1000);
  const [cf, cl] = [diff(cpuOf(f), c0[0]!), diff(cpuOf(l), c0[1]!)];
  const [rf, rl] = [f.pids().map(rssMiB), l.pids().map(rssMiB)];
  row('RSS idle, whole system', 'MiB', rf[0]!, rl);
  row('RSS idle, virtual kubelet alone', 'MiB', rf[0]!, [rl[0]!]);
  row(
    'CPU idle',
    'ms/s',
    (cf[0]! * 1000) / windowS,
    cl.map((x) => (x * 1000) / windowS),
  );
}

/** Runs the comparison (the sandbox is up with two lower clusters; fedlet of lower-2 gives way to Liqo). */
export async function benchPeers(ctx: PeerContext): Promise<void> {
  if (!PEERS.has('liqo') || !liqoDir) return;
  const { s } = ctx;
  const admin = [s.upperKubeconfig, s.lowerKubeconfigs[0]!, s.lowerKubeconfigs[1]!].map(
    (k) => new KubeClient(loadKubeConfig(k), { writeQps: 1000, writeBurst: 1000 }),
  );
  await stopFedlet(s, 'lower-2');
  await admin[0]!.delete('/api/v1/nodes/fedlet-lower-2').catch(() => undefined);
  ctx.note('peers', `starting Liqo ${LIQO_VERSION} from ${liqoDir}`);
  const t0 = Date.now();
  const peer = await startLiqo(s, liqoDir, 'peer-liqo');
  ctx.note('Liqo virtual node Ready after', `${((Date.now() - t0) / 1000).toFixed(1)} s (CRDs, objects, processes)`);
  try {
    await ensureNamespace(admin[0]!, 'peer-fedlet');
    await ensureNamespace(admin[1]!, 'peer-direct');
    const sides = sidesFor(s, peer, admin);
    await idle(sides);
    const lat = await singles(ctx, sides);
    for (const p of [50, 99]) {
      const [f, l, d] = (['fedlet', 'liqo', 'direct'] as const).map((k) => ctx.pct(lat.get(k)!, p));
      row(`single pod create → Ready p${p} (${SINGLE} pods)`, 'ms', f!, [l!], d);
    }
    const [bf, bl, bd] = [
      await deploymentBurst(ctx, sides[0]!),
      await deploymentBurst(ctx, sides[1]!),
      await deploymentBurst(ctx, sides[2]!),
    ];
    row(`${BURST}-pod Deployment → all Ready`, 's', bf.seconds, [bl.seconds], bd.seconds);
    row(
      `${BURST}-pod Deployment deleted → no pod left, both clusters`,
      's',
      bf.deleteSeconds,
      [bl.deleteSeconds],
      bd.deleteSeconds,
    );
    row(`RSS with ${BURST} pods, whole system`, 'MiB', bf.rss[0]!, bl.rss);
    row(`RSS with ${BURST} pods, virtual kubelet alone`, 'MiB', bf.rss[0]!, [bl.rss[0]!]);
    row(`CPU per ${BURST}-pod burst (create → all Ready)`, 's', bf.cpu[0]!, bl.cpu);
    row(`CPU per ${BURST}-pod deletion`, 's', bf.deleteCpu[0]!, bl.deleteCpu);
    row(
      'API writes per pod, create → Ready, both clusters, all clients',
      'writes',
      bf.writesPerPod,
      [bl.writesPerPod],
      bd.writesPerPod,
    );
    notes.push(['API writes per pod by fedlet itself (its own counter)', (bf.ownWritesPerPod ?? NaN).toFixed(2)]);
  } finally {
    await stopLiqo(s, peer);
  }
  printPeers();
}

const fmt = (x: number, unit: string) => (unit === 'ms' || unit === 'MiB' ? x.toFixed(0) : x.toFixed(unit === 'writes' ? 2 : 1));

/** The side-by-side table as Markdown (for docs/benchmarks.md), on stdout. */
export function printPeers(): void {
  if (!rows.length) return;
  const lines = [
    `\nfedlet vs Liqo ${LIQO_VERSION} (same sandbox, same run; lower is better)\n`,
    '| measure | fedlet | Liqo | direct (lower-1) | lower |',
    '|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const liqo = r.liqoParts
      ? `${fmt(r.liqo, r.unit)} ${r.unit} (VK ${fmt(r.liqoParts.virtualKubelet, r.unit)} + CM ${fmt(r.liqoParts.controllerManager, r.unit)})`
      : `${fmt(r.liqo, r.unit)} ${r.unit}`;
    const d = r.direct !== undefined ? `${fmt(r.direct, r.unit)} ${r.unit}` : '—';
    const winner = r.fedlet === r.liqo ? 'tie' : r.fedlet < r.liqo ? 'fedlet' : 'Liqo';
    lines.push(`| ${r.measure} | ${fmt(r.fedlet, r.unit)} ${r.unit} | ${liqo} | ${d} | ${winner} |`);
  }
  for (const [k, v] of notes) lines.push(`\n${k}: ${v}`);
  console.log(lines.join('\n'));
}

/** What goes into the bench results JSON under `peers`. */
export function peerResults(): Record<string, unknown> | undefined {
  if (!rows.length) return undefined;
  return { liqo: { version: LIQO_VERSION, single: SINGLE, burst: BURST, rows, notes: Object.fromEntries(notes) } };
}
