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

const POOLS = Number(process.env.BENCH_POOLS ?? 50);
const WINDOW_MS = Number(process.env.BENCH_POOLS_WINDOW_MS ?? 60_000);
const KEY = 'bench.fedlet.io/pool';
const CLUSTER = 'bench-pools';

/** fedlet_api_requests_total of one cluster, by verb. */
function requests(text: string, cluster: 'lower' | 'upper'): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^fedlet_api_requests_total\{([^}]*)\} (\d+)/gm)) {
    if (!m[1]!.includes(`cluster="${cluster}"`)) continue;
    const verb = /verb="([A-Z]+)"/.exec(m[1]!)?.[1] ?? '?';
    out.set(verb, (out.get(verb) ?? 0) + Number(m[2]));
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
}

async function measure(s: SandboxState, mode: 'one' | 'each', note: (name: string, value: string) => void): Promise<Measured> {
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
    await new Promise((r) => setTimeout(r, 10_000));
    const t0 = await poll('fedlet metrics', 60_000, () => fedletMetrics(s, kubeletPort!));
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const t1 = await fedletMetrics(s, kubeletPort!);
    const l0 = requests(t0, 'lower');
    const l1 = requests(t1, 'lower');
    const window = new Map([...l1].map(([v, n]) => [v, n - (l0.get(v) ?? 0)]));
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    const r: Measured = {
      pools: names.length,
      rssMiB: rssMiB(proc.pid),
      startupLowerRequests: sum(l0),
      lowerWatches: l1.get('WATCH') ?? 0,
      windowLowerRequests: window,
      windowUpperRequests: sum(requests(t1, 'upper')) - sum(requests(t0, 'upper')),
    };
    note(
      `pools: one fedlet with ${r.pools} pool(s)`,
      `RSS ${r.rssMiB.toFixed(0)} MiB; lower API requests to settle ${r.startupLowerRequests} (watches opened ${r.lowerWatches}); ` +
        `in ${WINDOW_MS / 1000} s settled: lower ${sum(window)} (${[...window].map(([v, n]) => `${v} ${n}`).join(', ')}), upper ${r.windowUpperRequests}`,
    );
    return r;
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
export async function benchPools(s: SandboxState, note: (name: string, value: string) => void): Promise<void> {
  const l = s.lowers[0]!;
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
    const one = await measure(s, 'one', note);
    const each = await measure(s, 'each', note);
    note(
      'pools: cost per extra pool',
      `RSS ${((each.rssMiB - one.rssMiB) / (each.pools - one.pools)).toFixed(2)} MiB; lower watches ${one.lowerWatches} vs ${each.lowerWatches}`,
    );
  } finally {
    for (const name of nodes) await adminRequest(l, 'DELETE', `/api/v1/nodes/${name}`).catch(() => undefined);
  }
}
