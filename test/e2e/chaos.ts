// The chaos engine: a churning workload (Deployments scaled up and down, pods deleted by hand in the
// upper and the lower clusters) while faults are injected at random from a printed seed: SIGKILL of a
// fedlet, SIGSTOP/SIGCONT of a fedlet for longer than its leader lease, SIGKILL + restart of the upper
// kube-apiserver, of a lower kube-apiserver, of a lower etcd, and of the scheduler extender. After each
// fault the federation must heal (virtual nodes Ready); at the end it is left quiet and the invariants
// (invariants.ts) must hold. Shared by the e2e test and the standalone soak (no vitest imports).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { findBinary } from '../../sandbox/binaries.js';
import {
  restartComponent,
  restartExtender,
  saveState,
  signalFedlet,
  startFedlet,
  stopComponent,
  stopFedlet,
  waitForNodesReady,
  type SandboxState,
} from '../../sandbox/sandbox.js';
import { isOurs } from '../../sandbox/processes.js';
import { LABEL_ORIGIN } from '../../src/labels.js';
import { checkInvariants, rssBytes, type Violation } from './framework/invariants.js';

export const FAULT_KINDS = [
  'fedlet-sigkill',
  'fedlet-sigstop',
  'upper-apiserver',
  'lower-apiserver',
  'lower-etcd',
  'extender',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface ChaosOptions {
  state: SandboxState;
  seed: number;
  /** Workload namespace in the upper cluster (created, and deleted at the end unless keepWorkload). */
  namespace: string;
  /** Faults to inject, in order; default: `rounds` picks at random. */
  faults?: FaultKind[];
  rounds?: number;
  /** Stop starting new rounds after this long (the soak's length). */
  durationMs?: number;
  /** Outage length of a killed component: uniform in [min, max] ms. */
  downMs?: [number, number];
  /** How long a fedlet stays SIGSTOPped; must exceed its leader lease (15 s by default). */
  stopMs?: number;
  /** How long the invariants may take to hold after the last fault. */
  quiesceMs?: number;
  log: (msg: string) => void;
}

export interface RssSample {
  t: number;
  cluster: string;
  pid: number;
  mib: number;
}

export interface ChaosTally {
  seed: number;
  rounds: number;
  durationSeconds: number;
  faults: Record<FaultKind, number>;
  churn: Record<string, number>;
  /**
   * Sandbox components (not fedlets) that died as a consequence of a fault, e.g. a process that exits
   * when its API server goes away, and were restarted as a supervisor would. By "cluster/component".
   */
  collateralRestarts: Record<string, number>;
  violations: Violation[];
  /** Times a fedlet logged losing its leader lease (and stayed up: a fedlet that exits fails the run). */
  leadershipLosses: Record<string, number>;
  /** Seconds from the last fault's recovery until every invariant held. */
  quiesceSeconds: number;
  rss: RssSample[];
  rssStartMiB: Record<string, number>;
  rssEndMiB: Record<string, number>;
}

/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function kubectl(kubeconfig: string, args: string[], input?: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      findBinary('kubectl'),
      ['--kubeconfig', kubeconfig, '--request-timeout=15s', ...args],
      { timeout: 30_000, maxBuffer: 32 * 1024 * 1024, encoding: 'utf8' },
      (e, out, err) => resolve({ code: e ? 1 : 0, out, err }),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

const DEPLOYMENTS = ['web', 'api'] as const;

function workload(ns: string): string {
  const items: unknown[] = [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'chaos-cfg', namespace: ns }, data: { 'app.conf': 'x=1\n' } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'chaos-sec', namespace: ns }, stringData: { token: 'not-a-secret' } },
  ];
  for (const name of DEPLOYMENTS)
    items.push({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            terminationGracePeriodSeconds: 2,
            nodeSelector: { type: 'virtual-kubelet' },
            containers: [
              {
                name: 'app',
                image: 'registry.example/app:1',
                resources: { requests: { cpu: '50m', memory: '32Mi' } },
                ...(name === 'web'
                  ? { volumeMounts: [{ name: 'cfg', mountPath: '/etc/app' }] }
                  : { env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'chaos-sec', key: 'token' } } }] }),
              },
            ],
            ...(name === 'web' ? { volumes: [{ name: 'cfg', configMap: { name: 'chaos-cfg' } }] } : {}),
          },
        },
      },
    });
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}

export class Chaos {
  private readonly rand: () => number;
  private readonly tally: ChaosTally;
  private readonly started = Date.now();

  constructor(private readonly o: ChaosOptions) {
    this.rand = prng(o.seed);
    this.tally = {
      seed: o.seed,
      rounds: 0,
      durationSeconds: 0,
      faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>,
      churn: {},
      collateralRestarts: {},
      leadershipLosses: {},
      violations: [],
      quiesceSeconds: 0,
      rss: [],
      rssStartMiB: {},
      rssEndMiB: {},
    };
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rand() * xs.length)]!;
  }
  private between([lo, hi]: [number, number]): number {
    return Math.round(lo + this.rand() * (hi - lo));
  }
  private count(what: string): void {
    this.tally.churn[what] = (this.tally.churn[what] ?? 0) + 1;
  }

  sampleRss(): void {
    const t = Math.round((Date.now() - this.started) / 1000);
    for (const f of this.o.state.fedlets) {
      const b = f.process ? rssBytes(f.process.pid) : undefined;
      if (b !== undefined) this.tally.rss.push({ t, cluster: f.cluster, pid: f.process!.pid, mib: Math.round(b / 2 ** 20) });
    }
  }

  async setup(): Promise<void> {
    const st = this.o.state;
    await kubectl(st.upperKubeconfig, ['create', 'namespace', this.o.namespace]);
    for (let i = 0; i < 100; i++) {
      if ((await kubectl(st.upperKubeconfig, ['get', 'sa', 'default', '-n', this.o.namespace])).code === 0) break;
      await sleep(300);
    }
    const r = await kubectl(st.upperKubeconfig, ['apply', '-f', '-'], workload(this.o.namespace));
    if (r.code) throw new Error(`cannot create the chaos workload: ${r.err}`);
  }

  /** One random churn action; failures (an API server may be down) are counted, not thrown. */
  async churn(): Promise<void> {
    const st = this.o.state;
    const ns = this.o.namespace;
    const action = this.pick(['scale', 'scale', 'delete-upper-pod', 'delete-lower-pod'] as const);
    let r: { code: number; out: string; err: string };
    if (action === 'scale') {
      const d = this.pick(DEPLOYMENTS);
      r = await kubectl(st.upperKubeconfig, ['scale', `deployment/${d}`, '-n', ns, `--replicas=${Math.floor(this.rand() * 7)}`]);
    } else if (action === 'delete-upper-pod') {
      const pods = await kubectl(st.upperKubeconfig, ['get', 'pods', '-n', ns, '-o', 'name']);
      const names = pods.out.split('\n').filter(Boolean);
      if (pods.code || !names.length) return this.count(`${action}-skipped`);
      r = await kubectl(st.upperKubeconfig, ['delete', '-n', ns, this.pick(names), '--wait=false']);
    } else {
      const i = Math.floor(this.rand() * st.fedlets.length);
      const f = st.fedlets[i]!;
      const k = st.lowerKubeconfigs[i]!;
      const pods = await kubectl(k, [
        'get',
        'pods',
        '-A',
        '-l',
        `${LABEL_ORIGIN}=${f.nodeName}`,
        '-o',
        'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\\n"}{end}',
      ]);
      const names = pods.out.split('\n').filter((x) => x.startsWith(ns));
      if (pods.code || !names.length) return this.count(`${action}-skipped`);
      const [pns, pname] = this.pick(names).split('/') as [string, string];
      r = await kubectl(k, ['delete', 'pod', '-n', pns, pname, '--wait=false']);
    }
    this.count(r.code ? `${action}-failed` : action);
  }

  /** Churns in the background for `ms`. */
  private async churnFor(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      await this.churn();
      await sleep(this.between([500, 2500]));
    }
  }

  async inject(kind: FaultKind): Promise<void> {
    const st = this.o.state;
    const f = this.pick(st.fedlets);
    const drawn = this.between(this.o.downMs ?? [3000, 10_000]);
    // The upper outage outlasts the leader renew deadline (10 s): every fedlet loses its lease and must ride it out.
    const down = kind === 'upper-apiserver' ? Math.max(drawn, 12_000) : drawn;
    this.o.log(
      `fault ${kind}${kind.startsWith('fedlet') || kind.startsWith('lower') ? ` (${f.cluster})` : ''}, ${kind === 'fedlet-sigstop' ? (this.o.stopMs ?? 20_000) : down} ms`,
    );
    switch (kind) {
      case 'fedlet-sigkill':
        await stopFedlet(st, f.cluster, 'SIGKILL');
        await sleep(Math.min(down, 3000));
        startFedlet(st, f.cluster); // as a Deployment would: a new process (new leader identity)
        saveState(st);
        break;
      case 'fedlet-sigstop':
        signalFedlet(st, f.cluster, 'SIGSTOP');
        try {
          await this.churnFor(this.o.stopMs ?? 20_000);
        } finally {
          signalFedlet(st, f.cluster, 'SIGCONT');
        }
        break;
      case 'upper-apiserver':
        await this.killFor(down, 'upper', 'kube-apiserver');
        break;
      case 'lower-apiserver':
        await this.killFor(down, f.cluster, 'kube-apiserver');
        break;
      case 'lower-etcd':
        await this.killFor(down, f.cluster, 'etcd');
        break;
      case 'extender':
        await Promise.all([this.churnFor(down), restartExtender(st, down)]);
        break;
    }
    this.tally.faults[kind]++;
  }

  /** SIGKILLs one control-plane process, churns for `ms`, then starts it again. */
  private async killFor(ms: number, cluster: string, component: string): Promise<void> {
    const st = this.o.state;
    await stopComponent(st, cluster, component, 'SIGKILL');
    try {
      await this.churnFor(ms);
    } finally {
      restartComponent(st, cluster, component);
    }
  }

  /** Everything the sandbox started runs again and every virtual node is Ready. */
  async healed(timeoutMs = 180_000): Promise<void> {
    const st = this.o.state;
    // fedlet must never exit because of a fault: that fails the run.
    const deadFedlets = st.fedlets.filter((f) => !f.process || !isOurs(f.process)).map((f) => f.cluster);
    if (deadFedlets.length) throw new Error(`fedlet exited during chaos: ${deadFedlets.join(', ')}`);
    for (const c of [st.upper, ...st.lowers])
      for (const p of c.processes)
        if (!isOurs(p)) {
          const k = `${c.name}/${p.name}`;
          this.o.log(`collateral: ${k} is not running; restarting it`);
          this.tally.collateralRestarts[k] = (this.tally.collateralRestarts[k] ?? 0) + 1;
          restartComponent(st, c.name, p.name);
        }
    if (st.extender && !isOurs(st.extender)) await restartExtender(st);
    await waitForNodesReady(
      st,
      st.fedlets.map((f) => f.nodeName),
      timeoutMs,
    );
    // Each fedlet leads again with fresh caches: /readyz answers "200 leader" (not stale, not starting).
    const deadline = Date.now() + timeoutMs;
    for (const f of st.fedlets) {
      const port = Number(f.args.find((a) => a.startsWith('--health-port='))?.split('=')[1]);
      let last = '';
      while (!last.startsWith('200 leader')) {
        if (Date.now() > deadline) throw new Error(`fedlet ${f.cluster} /readyz: ${last}`);
        try {
          const r = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5000) });
          last = `${r.status} ${(await r.text()).trim()}`;
        } catch (e) {
          last = (e as Error).message;
        }
        if (!last.startsWith('200 leader')) await sleep(500);
      }
    }
  }

  async run(): Promise<ChaosTally> {
    const o = this.o;
    const rssTimer = setInterval(() => this.sampleRss(), 5000);
    try {
      this.sampleRss();
      for (const s of this.tally.rss) this.tally.rssStartMiB[s.cluster] = s.mib;
      const baseline = new Map(this.tally.rss.map((s) => [s.cluster, s.mib * 2 ** 20]));
      await this.setup();
      await this.churnFor(3000);
      const deadline = o.durationMs ? Date.now() + o.durationMs : Infinity;
      const plan = o.faults ?? [];
      const rounds = o.faults ? plan.length : (o.rounds ?? Infinity);
      for (let i = 0; i < rounds && Date.now() < deadline; i++) {
        const kind = plan[i] ?? this.pick(FAULT_KINDS);
        await this.churnFor(this.between([1000, 4000]));
        await this.inject(kind);
        await this.healed();
        this.tally.rounds++;
        o.log(`round ${i + 1} healed after ${kind}`);
      }
      // Quiet: a last, deterministic scale so both Deployments have pods, then no more churn.
      for (const d of DEPLOYMENTS)
        await kubectl(o.state.upperKubeconfig, ['scale', `deployment/${d}`, '-n', o.namespace, '--replicas=3']);
      const quietSince = Date.now();
      const bound = (b: number) => 2 * b + 64 * 2 ** 20;
      let last: Violation[] = [];
      const quiesceDeadline = Date.now() + (o.quiesceMs ?? 240_000);
      while (Date.now() < quiesceDeadline) {
        try {
          last = await checkInvariants(o.state, { namespaces: [o.namespace], rssBaseline: baseline, rssBound: bound });
        } catch (e) {
          last = [{ invariant: 'status-agrees', detail: `could not read the clusters: ${(e as Error).message}` }];
        }
        if (!last.length) break;
        await sleep(2000);
      }
      this.tally.quiesceSeconds = Math.round((Date.now() - quietSince) / 1000);
      for (const f of o.state.fedlets) {
        const text = readFileSync(path.join(o.state.dir, `fedlet-${f.cluster}.log`), 'utf8');
        const since = text.split('\n').filter((l) => {
          const t = Number(/"time":(\d+)/.exec(l)?.[1] ?? 0);
          return t >= this.started && l.includes('lost the leader lease: no writes');
        });
        this.tally.leadershipLosses[f.cluster] = since.length;
      }
      this.tally.violations = last;
      this.sampleRss();
      for (const f of o.state.fedlets) {
        const b = f.process ? rssBytes(f.process.pid) : undefined;
        if (b !== undefined) this.tally.rssEndMiB[f.cluster] = Math.round(b / 2 ** 20);
      }
      return this.tally;
    } finally {
      clearInterval(rssTimer);
      this.tally.durationSeconds = Math.round((Date.now() - this.started) / 1000);
    }
  }

  /** Removes the workload namespace and waits until no lower pod of it is left. */
  async cleanup(): Promise<void> {
    const st = this.o.state;
    await kubectl(st.upperKubeconfig, ['delete', 'namespace', this.o.namespace, '--wait=false']);
    for (let i = 0; i < 120; i++) {
      let left = 0;
      for (const [j, f] of st.fedlets.entries()) {
        const r = await kubectl(st.lowerKubeconfigs[j]!, [
          'get',
          'pods',
          '-A',
          '-l',
          `${LABEL_ORIGIN}=${f.nodeName}`,
          '-o',
          'jsonpath={range .items[*]}{.metadata.namespace}{"\\n"}{end}',
        ]);
        left += r.out.split('\n').filter((x) => x.startsWith(this.o.namespace)).length;
      }
      if (!left) return;
      await sleep(1000);
    }
  }
}
