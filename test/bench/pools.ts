// Bench part `pools`: what node pools cost. One extra fedlet over the bench's lower cluster, whose 50
// added kwok nodes carry 50 distinct values of one label, runs twice: with one pool holding them all
// (a selector pool) and with one pool per value (grouping). For each: RSS once every pool node is
// Ready and settled, and the requests the fedlet sent to the lower cluster in a quiet window, by verb
// (watches included: they must not grow with the number of pools).
import path from 'node:path';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.js';
import { createKwokNode, adminRequest } from '../../sandbox/cluster.js';
import { freePorts, startProcess, stopProcess } from '../../sandbox/processes.js';
import { fedletCli, upperIdentityKubeconfig, waitForNodesReady, type SandboxState } from '../../sandbox/sandbox.js';
import { fedletMetrics, rssMiB } from './fedlet-process.js';
import { fedletWrites, writesBetween } from './writes.js';
import type { BenchSizes } from './plan.js';
import type { Recorder } from './run.js';

const KEY = 'bench.fedlet.io/pool';
const CLUSTER = 'bench-pools';

/**
 * fedlet_api_requests_total of one cluster, by verb: all of fedlet's clients of that cluster (its own, the
 * heartbeat and review clients, each virtual node's identity), or with `byClient` by client kind and verb.
 */
function requests(text: string, cluster: 'lower' | 'upper', byClient = false): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^fedlet_api_requests_total\{([^}]*)\} (\d+)/gm)) {
    const client = /cluster="([^"]*)"/.exec(m[1]!)?.[1] ?? '';
    if (client !== cluster && !client.startsWith(`${cluster}-`)) continue;
    const verb = /verb="([A-Z]+)"/.exec(m[1]!)?.[1] ?? '?';
    // upper-node/<node> and upper-node-heartbeat/<node>: one kind for all nodes.
    const k = byClient ? `${client.split('/')[0]} ${verb}` : verb;
    out.set(k, (out.get(k) ?? 0) + Number(m[2]));
  }
  return out;
}

async function poll<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} not reached in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

interface Measured {
  pools: number;
  rssMiB: number;
  startupLowerRequests: number;
  lowerWatches: number;
  windowLowerRequests: Map<string, number>;
  windowUpperRequests: number;
  windowUpper: Map<string, number>;
  /** fedlet's upper writes in the window, by verb and resource. */
  windowUpperWrites: string;
}

async function measure(
  s: SandboxState,
  mode: 'one' | 'each',
  r: Pick<Recorder, 'measure' | 'note'>,
  z: BenchSizes,
): Promise<Measured> {
  const POOLS = z.pools;
  const WINDOW_MS = z.poolsWindowMs;
  const f = s.fedlets[0]!;
  const [kubeletPort, healthPort] = await freePorts(2);
  const skip = /^--(cluster-name|kubelet-port|health-port|namespace-template|upper-kubeconfig)=/;
  const args = [
    ...f.args.filter((a) => !skip.test(a)),
    `--cluster-name=${CLUSTER}`,
    // An upper account of its own, named after its node (the admission policy holds it to its pool nodes).
    `--upper-kubeconfig=${upperIdentityKubeconfig(s.upperKubeconfig, s.dir, `fedlet-${CLUSTER}`)}`,
    `--kubelet-port=${kubeletPort}`,
    `--health-port=${healthPort}`,
    ...(mode === 'one' ? [`--pool=all=${KEY}`] : [`--pool-group-by=${KEY}`]),
  ];
  const proc = startProcess(
    `fedlet-${CLUSTER}`,
    process.execPath,
    [fedletCli(), ...args],
    path.join(s.dir, `fedlet-${CLUSTER}-${mode}.log`),
  );
  const names = mode === 'one' ? [`fedlet-${CLUSTER}-all`] : Array.from({ length: POOLS }, (_, i) => `fedlet-${CLUSTER}-p${i}`);
  try {
    await waitForNodesReady(s, names, 300_000);
    // Settled: summaries out and the first status posts done; then a quiet window.
    await new Promise((res) => setTimeout(res, z.poolsSettleMs));
    const t0 = await poll('fedlet metrics', 60_000, () => fedletMetrics(s, kubeletPort!));
    await new Promise((res) => setTimeout(res, WINDOW_MS));
    const t1 = await fedletMetrics(s, kubeletPort!);
    const l0 = requests(t0, 'lower');
    const l1 = requests(t1, 'lower');
    const window = new Map([...l1].map(([v, n]) => [v, n - (l0.get(v) ?? 0)]));
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    const m: Measured = {
      pools: names.length,
      rssMiB: rssMiB(proc.pid),
      startupLowerRequests: sum(l0),
      lowerWatches: l1.get('WATCH') ?? 0,
      windowLowerRequests: window,
      windowUpperRequests: sum(requests(t1, 'upper')) - sum(requests(t0, 'upper')),
      windowUpper: new Map([...requests(t1, 'upper', true)].map(([v, n]) => [v, n - (requests(t0, 'upper', true).get(v) ?? 0)])),
      windowUpperWrites:
        writesBetween(fedletWrites(t0), fedletWrites(t1))
          .filter((w) => w.who === 'upper' && w.n > 0)
          .map((w) => `${w.verb} ${w.resource} ${w.n}`)
          .join(', ') || 'none',
    };
    const perMin = (n: number) => (n * 60_000) / WINDOW_MS;
    const k = `pools.${m.pools}`;
    const what = `one fedlet with ${m.pools} pool(s)`;
    r.measure(`${k}.rss`, `pools: RSS of ${what}`, m.rssMiB, 'MiB');
    r.measure(
      `${k}.lower-requests-to-settle`,
      `pools: lower API requests of ${what} until settled`,
      m.startupLowerRequests,
      'requests',
    );
    r.measure(`${k}.lower-watches`, `pools: watches ${what} opened on the lower cluster`, m.lowerWatches, 'watches');
    r.measure(
      `${k}.lower-requests-settled`,
      `pools: lower API requests of ${what}, settled`,
      perMin(sum(window)),
      'requests/min',
    );
    r.measure(
      `${k}.upper-requests-settled`,
      `pools: upper API requests of ${what} (all its clients), settled`,
      perMin(m.windowUpperRequests),
      'requests/min',
    );
    r.measure(
      `${k}.upper-requests-per-node`,
      `pools: upper API requests per virtual node of ${what}, settled`,
      perMin(m.windowUpperRequests) / m.pools,
      'requests/min',
    );
    r.note(`pools: ${what}, lower requests in the window by verb`, [...window].map(([v, n]) => `${v} ${n}`).join(', '));
    // Where upper requests go (heartbeats should dominate: a kubelet's budget is its Lease and status).
    r.note(
      `pools: ${what}, upper requests in the window by client and verb`,
      [...m.windowUpper].map(([v, n]) => `${v} ${n}`).join(', '),
    );
    r.note(`pools: ${what}, upper writes in the window`, m.windowUpperWrites);
    return m;
  } finally {
    await stopProcess(proc);
    const upper = new KubeClient(loadKubeConfig(s.upperKubeconfig));
    for (const n of names) await upper.delete(`/api/v1/nodes/${n}`).catch(() => undefined);
    await upper
      .delete(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/fedlet-${CLUSTER}-leader`)
      .catch(() => undefined);
  }
}

/** Runs the part; figures go to `note`. The 50 kwok nodes are removed afterwards. */
export async function benchPools(s: SandboxState, r: Pick<Recorder, 'measure' | 'note'>, z: BenchSizes): Promise<void> {
  const l = s.lowers[0]!;
  const POOLS = z.pools;
  const nodes = Array.from({ length: POOLS }, (_, i) => `bench-pool-${i}`);
  for (const [i, name] of nodes.entries())
    await createKwokNode(l, {
      name,
      cpu: '8',
      memory: '32Gi',
      pods: 110,
      podCIDR: `10.250.${i}.0/24`,
      labels: { [KEY]: `p${i}`, 'topology.kubernetes.io/region': 'r0' },
    });
  try {
    const one = await measure(s, 'one', r, z);
    const each = await measure(s, 'each', r, z);
    r.measure(
      'pools.rss-per-extra-pool',
      'pools: RSS per extra pool',
      (each.rssMiB - one.rssMiB) / (each.pools - one.pools),
      'MiB',
    );
  } finally {
    for (const name of nodes) await adminRequest(l, 'DELETE', `/api/v1/nodes/${name}`).catch(() => undefined);
  }
}
