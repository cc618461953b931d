// The sandbox: one upper cluster (no nodes of its own) and N lower clusters with kwok nodes, plus one
// fedlet per lower. State lives in DIR/sandbox.json so that `down`/`status` and tests can find it.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { adminRequest, defaultLowerNodes, startCluster, stopCluster, type ClusterState, type KwokNodeSpec } from './cluster.js';
import { freePorts, isOurs, startProcess, stopProcess, tail, type ProcessRecord } from './processes.js';

export interface FedletRecord {
  cluster: string;
  nodeName: string;
  kubeletPort: number;
  upperKubeconfig: string;
  lowerKubeconfig: string;
  args: string[];
  process?: ProcessRecord;
}

export interface SandboxState {
  dir: string;
  upper: ClusterState;
  lowers: ClusterState[];
  fedlets: FedletRecord[];
  upperKubeconfig: string;
  lowerKubeconfigs: string[];
}

export interface SandboxOptions {
  dir: string;
  lowers?: number;
  withFedlet?: boolean;
  /** Per-lower node layout; default: 2 nodes of 8 CPU / 32Gi / 500 pods each. */
  lowerNodes?: (index: number) => KwokNodeSpec[];
  progress?: (msg: string) => void;
  extraFedletArgs?: string[];
}

export const lowerName = (i: number) => `lower-${i + 1}`;
export const regions = ['eu-west', 'us-east', 'ap-south', 'sa-east'];

export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the fedlet package root');
}

export function fedletCli(): string {
  const cli = path.join(repoRoot(), 'dist', 'src', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run 'npm run build' first`);
  return cli;
}

function stateFile(dir: string): string {
  return path.join(path.resolve(dir), 'sandbox.json');
}
export function saveState(s: SandboxState): void {
  writeFileSync(stateFile(s.dir), JSON.stringify(s, null, 2));
}
export function loadState(dir: string): SandboxState {
  const f = stateFile(dir);
  if (!existsSync(f)) throw new Error(`no sandbox in ${path.resolve(dir)} (missing sandbox.json); start one with 'fedlet sandbox up --dir ${dir}'`);
  return JSON.parse(readFileSync(f, 'utf8')) as SandboxState;
}

export function defaultNodesFor(index: number): KwokNodeSpec[] {
  const region = regions[index % regions.length]!;
  return defaultLowerNodes(2).map((n, j) => ({
    ...n,
    labels: { 'topology.kubernetes.io/region': region, 'topology.kubernetes.io/zone': `${region}-${String.fromCharCode(97 + j)}` },
  }));
}

export async function sandboxUp(opts: SandboxOptions): Promise<SandboxState> {
  const dir = path.resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  if (existsSync(stateFile(dir))) {
    const old = loadState(dir);
    if ([...old.upper.processes, ...old.lowers.flatMap((l) => l.processes)].some(isOurs))
      throw new Error(`a sandbox is already running in ${dir}; stop it with 'fedlet sandbox down --dir ${opts.dir}'`);
  }
  const n = opts.lowers ?? 2;
  const progress = opts.progress ?? (() => undefined);
  const started = Date.now();
  progress(`starting upper cluster and ${n} lower cluster(s) in ${dir}`);
  const results = await Promise.allSettled([
    startCluster({ name: 'upper', role: 'upper', dir: path.join(dir, 'upper'), nodeMonitorGracePeriod: '20s' }),
    ...Array.from({ length: n }, (_, i) =>
      startCluster({ name: lowerName(i), role: 'lower', dir: path.join(dir, lowerName(i)), nodes: (opts.lowerNodes ?? defaultNodesFor)(i) }),
    ),
  ]);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length) {
    for (const r of results) if (r.status === 'fulfilled') await stopCluster(r.value);
    throw new Error(failed.map((f) => (f.reason as Error).message).join('\n'));
  }
  const [upper, ...lowers] = results.map((r) => (r as PromiseFulfilledResult<ClusterState>).value) as [ClusterState, ...ClusterState[]];
  progress(`clusters up after ${((Date.now() - started) / 1000).toFixed(1)}s`);
  const upperKubeconfig = path.join(dir, 'upper.kubeconfig');
  copyFileSync(upper.kubeconfig, upperKubeconfig);
  const lowerKubeconfigs = lowers.map((l, i) => {
    const f = path.join(dir, `${lowerName(i)}.kubeconfig`);
    copyFileSync(l.kubeconfig, f);
    return f;
  });
  const ports = await freePorts(n);
  const state: SandboxState = {
    dir,
    upper,
    lowers,
    upperKubeconfig,
    lowerKubeconfigs,
    fedlets: lowers.map((_, i) => ({
      cluster: lowerName(i),
      nodeName: `fedlet-${lowerName(i)}`,
      kubeletPort: ports[i]!,
      upperKubeconfig,
      lowerKubeconfig: lowerKubeconfigs[i]!,
      args: [
        'run',
        `--upper-kubeconfig=${upperKubeconfig}`,
        `--lower-kubeconfig=${lowerKubeconfigs[i]}`,
        `--cluster-name=${lowerName(i)}`,
        '--node-ip=127.0.0.1',
        `--kubelet-port=${ports[i]}`,
        ...(opts.extraFedletArgs ?? []),
      ],
    })),
  };
  saveState(state);
  if (opts.withFedlet !== false) {
    for (const f of state.fedlets) startFedlet(state, f.cluster);
    saveState(state);
    progress('fedlets started; waiting for virtual nodes to be Ready');
    await waitForNodesReady(state, state.fedlets.map((f) => f.nodeName), 90_000);
    progress(`virtual nodes Ready after ${((Date.now() - started) / 1000).toFixed(1)}s`);
  }
  return state;
}

export function startFedlet(state: SandboxState, cluster: string, env?: Record<string, string>): FedletRecord {
  const f = state.fedlets.find((x) => x.cluster === cluster);
  if (!f) throw new Error(`no fedlet for cluster ${cluster}`);
  f.process = startProcess(`fedlet-${cluster}`, process.execPath, [fedletCli(), ...f.args], path.join(state.dir, `fedlet-${cluster}.log`), env);
  return f;
}

export async function stopFedlet(state: SandboxState, cluster: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const f = state.fedlets.find((x) => x.cluster === cluster);
  if (f?.process) await stopProcess(f.process, signal);
}

export async function waitForNodesReady(state: SandboxState, names: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const r = await adminRequest(state.upper, 'GET', '/api/v1/nodes').catch((e: Error) => ({ status: 0, body: e.message }));
    if (r.status === 200) {
      const items = (JSON.parse(r.body) as { items: Array<{ metadata: { name: string }; status?: { conditions?: Array<{ type: string; status: string }> } }> }).items;
      const ready = new Set(items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).map((n) => n.metadata.name));
      if (names.every((n) => ready.has(n))) return;
      last = `ready: ${[...ready].join(', ') || 'none'}`;
    } else last = r.body;
    await new Promise((r) => setTimeout(r, 500));
  }
  const logs = state.fedlets.map((f) => `--- fedlet ${f.cluster} ---\n${tail(path.join(state.dir, `fedlet-${f.cluster}.log`))}`).join('\n');
  throw new Error(`virtual nodes ${names.join(', ')} not Ready after ${timeoutMs} ms (${last})\n${logs}`);
}

export async function sandboxDown(dir: string): Promise<void> {
  const s = loadState(dir);
  for (const f of s.fedlets) if (f.process) await stopProcess(f.process);
  await Promise.all([...s.lowers, s.upper].map((c) => stopCluster(c)));
}

export interface ComponentStatus {
  cluster: string;
  component: string;
  pid: number;
  running: boolean;
}
export function sandboxStatus(dir: string): ComponentStatus[] {
  const s = loadState(dir);
  const rows: ComponentStatus[] = [];
  for (const c of [s.upper, ...s.lowers]) for (const p of c.processes) rows.push({ cluster: c.name, component: p.name, pid: p.pid, running: isOurs(p) });
  for (const f of s.fedlets) if (f.process) rows.push({ cluster: f.cluster, component: 'fedlet', pid: f.process.pid, running: isOurs(f.process) });
  return rows;
}
