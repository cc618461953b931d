// The sandbox: one upper cluster and N lower clusters with kwok nodes, plus one fedlet per lower. With
// real nodes (root, sandbox/netns-run.sh) every lower cluster gets real kubelet nodes beside its kwok
// nodes, and the upper cluster one real node for system workloads (fedlet installed by its chart runs
// there), pulling images from the sandbox's registry (sandbox/registry.ts). State lives in
// DIR/sandbox.json so that `down`/`status` and tests can find it.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultLowerNodes, startCluster, stopCluster, type ClusterState, type KwokNodeSpec } from './cluster.js';
import { KubeClient, loadKubeConfig } from '../src/kube/client.js';
import { extenderPki, serverExt, signCert } from './pki.js';
import { findBinary } from './binaries.js';
import { sandboxNodeIP } from './node-address.js';
import { LABEL_REGION, LABEL_ZONE } from '../src/labels.js';
import { memoryEnv } from '../src/memory-env.js';
import { parseSummary, summaryConfigMapName, SUMMARY_DATA_KEY } from '../src/scheduling/summary.js';
import {
  freeSlots,
  REAL_NODE_LABEL,
  realNodeGateway,
  realNodeUnavailableReason,
  removeUnusedHostPaths,
  startRealNode,
  stopRealNode,
  type RealNodeRecord,
} from './real-node.js';
import { REGISTRY_NAME, registryUnavailableReason, startRegistry, type RegistryRecord } from './registry.js';
import { applyUpperStorageClass, provisionLowerStorage, removeVolumes } from './storage.js';
import { registerWebhook, waitForWebhook, webhookServingCert } from './webhook.js';
import { freePorts, isOurs, restartProcess, startProcess, stopProcess, tail, type ProcessRecord } from './processes.js';
import {
  abandoned,
  ledgerRecords,
  orchestratorAlive,
  readOrchestrator,
  reclaim,
  runningLeftovers,
  writeOrchestrator,
} from './leftovers.js';

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
  /** True when the clusters were given by kubeconfig (e.g. kind): we do not own their processes. */
  external: boolean;
  upper: ClusterState;
  lowers: ClusterState[];
  fedlets: FedletRecord[];
  /** The scheduler extender the upper kube-scheduler calls over mutual TLS (local sandbox only). */
  extender?: ProcessRecord & { port: number; tls?: ExtenderTls };
  upperKubeconfig: string;
  lowerKubeconfigs: string[];
  /** Address the virtual and kwok nodes publish (see node-address.ts). */
  nodeIP?: string;
  /** Real kubelet nodes beside the kwok nodes, and the upper cluster's (sandbox/real-node.ts). */
  realNodes?: RealNodeRecord[];
  /** The registry the real nodes pull fedlet's image from (sandbox/registry.ts), when real nodes run. */
  registry?: RegistryRecord;
}

/** The extender's CA and the client certificate kube-scheduler calls it with (sandbox/pki.ts extenderPki). */
export interface ExtenderTls {
  caCert: string;
  clientCert: string;
  clientKey: string;
}

export interface SandboxOptions {
  dir: string;
  lowers?: number;
  withFedlet?: boolean;
  /** Per-lower node layout; default: 2 nodes of 8 CPU / 32Gi / 500 pods each. */
  lowerNodes?: (index: number) => KwokNodeSpec[];
  /** Lifetime of certificates the upper cluster signs for CSRs (e.g. '2m' to exercise renewal); default 1 year. */
  upperCertificateDuration?: string;
  progress?: (msg: string) => void;
  extraFedletArgs?: string[];
  /**
   * Real nodes (containerd + kubelet; kube-proxy and CoreDNS on the first) per lower cluster, beside its
   * kwok nodes. Needs root and the private network namespace of sandbox/netns-run.sh. Default 0.
   */
  realNodes?: number;
  /**
   * The caller owns the sandbox's lifetime (`sandbox up --foreground`): if it dies, whatever it started is
   * a leftover that the next `sandbox up` reclaims instead of refusing to start.
   */
  foreground?: boolean;
  /**
   * With realNodes > 0: one real node in the upper cluster too, for system workloads such as fedlet's own
   * pods (tainted like every real node). Default true.
   */
  upperRealNode?: boolean;
  /** Lower API servers keep an audit log of writes (ClusterSpec.auditWrites; the bench). Default false. */
  auditLowerWrites?: boolean;
  /**
   * Client QPS of every kube-scheduler, upper and lower alike (burst twice that); default kube-scheduler's
   * own (50, burst 100). The bench raises it so that bursts of bare pods measure more than the binds.
   */
  schedulerQps?: number;
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
  const cli = path.join(repoRoot(), 'dist', 'app', 'cli.js');
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
  if (!existsSync(f))
    throw new Error(`no sandbox in ${path.resolve(dir)} (missing sandbox.json); start one with 'fedlet sandbox up --dir ${dir}'`);
  return JSON.parse(readFileSync(f, 'utf8')) as SandboxState;
}

/** Names a sandbox writes into its directory; nothing else there is ever removed. */
const SANDBOX_ENTRY =
  /^(upper|lower-\d+|rbac|registry|sandbox\.json|.*\.kubeconfig|fedlet-.*\.log|fedlet-.*-certs|processes\.ledger|sandbox-orchestrator\.json|sandbox\.log)$/;

/** Removes what an earlier (stopped) sandbox left in dir; returns the entries removed. */
export function clearSandboxFiles(dir: string): string[] {
  const removed: string[] = [];
  for (const e of readdirSync(dir)) {
    if (!SANDBOX_ENTRY.test(e)) continue;
    rmSync(path.join(dir, e), { recursive: true, force: true });
    removed.push(e);
  }
  return removed.sort();
}

export function defaultNodesFor(index: number): KwokNodeSpec[] {
  const region = regions[index % regions.length]!;
  return defaultLowerNodes(2).map((n, j) => ({
    ...n,
    labels: {
      [LABEL_REGION]: region,
      [LABEL_ZONE]: `${region}-${String.fromCharCode(97 + j)}`,
    },
  }));
}

export async function sandboxUp(opts: SandboxOptions): Promise<SandboxState> {
  const dir = path.resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  await refuseOrReclaim(dir, opts);
  // A stopped sandbox's etcd data, certificates and ports would be reused by the new processes (a stale
  // leader lease, kwok nodes with old kubelet ports): start from clean state instead.
  const removed = clearSandboxFiles(dir);
  if (removed.length) opts.progress?.(`removed the state of a stopped sandbox in ${dir}: ${removed.join(', ')}`);
  writeOrchestrator(dir, { foreground: opts.foreground ?? false, phase: 'starting' });
  const n = opts.lowers ?? 2;
  const realNodes = opts.realNodes ?? 0;
  if (realNodes > 0) {
    const why = realNodeUnavailableReason();
    if (why) throw new Error(`--real-nodes: ${why}`);
  }
  // Real nodes' slots are chosen first: the upper API server's certificate names their gateway
  // addresses, through which pods on real nodes reach it with their upper service-account tokens. The
  // upper cluster's own real node takes the slot after the lower ones'.
  const upperRealNode = realNodes > 0 && opts.upperRealNode !== false;
  const slots = realNodes > 0 ? freeSlots(n * realNodes + (upperRealNode ? 1 : 0)) : [];
  const upperSlot = upperRealNode ? slots[n * realNodes] : undefined;
  const progress = opts.progress ?? (() => undefined);
  const started = Date.now();
  progress(`starting upper cluster and ${n} lower cluster(s) in ${dir}`);
  const [extenderPort, webhookPort] = await freePorts(2);
  const extPki = extenderPki(path.join(dir, 'upper', 'pki'));
  const extTls: ExtenderTls = { caCert: extPki.caCert, clientCert: extPki.scheduler.cert, clientKey: extPki.scheduler.key };
  const schedulerConfig = writeSchedulerConfig(path.join(dir, 'upper'), extenderPort!, extTls, opts.schedulerQps);
  const results = await Promise.allSettled([
    startCluster({
      name: 'upper',
      role: 'upper',
      dir: path.join(dir, 'upper'),
      nodeMonitorGracePeriod: '20s',
      schedulerConfig,
      clusterSigningDuration: opts.upperCertificateDuration,
      ...(realNodes > 0
        ? { bindAddress: '0.0.0.0', serverSANs: [`IP:${sandboxNodeIP()}`, ...slots.map((g) => `IP:${realNodeGateway(g)}`)] }
        : {}),
      // In-cluster clients on the upper real node (fedlet's pods) reach it through their gateway.
      ...(upperSlot !== undefined ? { advertiseAddress: realNodeGateway(upperSlot) } : {}),
    }),
    ...Array.from({ length: n }, (_, i) =>
      startCluster({
        name: lowerName(i),
        role: 'lower',
        dir: path.join(dir, lowerName(i)),
        nodes: (opts.lowerNodes ?? defaultNodesFor)(i),
        auditWrites: opts.auditLowerWrites,
        schedulerQps: opts.schedulerQps,
        // Pods on real nodes (fedlet's, in the upper cluster) reach it at the sandbox's node address.
        ...(realNodes > 0 ? { bindAddress: '0.0.0.0', serverSANs: [`IP:${sandboxNodeIP()}`] } : {}),
      }),
    ),
  ]);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length) {
    for (const r of results) if (r.status === 'fulfilled') await stopCluster(r.value);
    throw new Error(failed.map((f) => (f.reason as Error).message).join('\n'));
  }
  const [upper, ...lowers] = results.map((r) => (r as PromiseFulfilledResult<ClusterState>).value) as [
    ClusterState,
    ...ClusterState[],
  ];
  progress(`clusters up after ${((Date.now() - started) / 1000).toFixed(1)}s`);
  const localPath = path.join(repoRoot(), 'dist', 'sandbox', 'local-path-cli.js');
  await Promise.all(lowers.map((l) => provisionLowerStorage(l, localPath)));
  applyUpperStorageClass(upper.kubeconfig, repoRoot());
  const upperKubeconfig = path.join(dir, 'upper.kubeconfig');
  copyFileSync(upper.kubeconfig, upperKubeconfig);
  const lowerKubeconfigs = lowers.map((l, i) => {
    const f = path.join(dir, `${lowerName(i)}.kubeconfig`);
    copyFileSync(l.kubeconfig, f);
    return f;
  });
  const state = await prepareFedlets(dir, upper, lowers, upperKubeconfig, lowerKubeconfigs, false, opts.extraFedletArgs);
  const webhookCert = webhookServingCert(upper.dir);
  state.extender = startExtender(dir, upperKubeconfig, extenderPort!, extPki, { port: webhookPort!, ...webhookCert });
  saveState(state);
  if (realNodes > 0) {
    const noRegistry = registryUnavailableReason();
    if (noRegistry) progress(`no registry for the real nodes: ${noRegistry}`);
    else {
      const [registryPort] = await freePorts(1);
      state.registry = await startRegistry(path.join(dir, 'registry'), sandboxNodeIP(), registryPort!);
      saveState(state);
      progress(`registry at ${state.registry.endpoint} serves ${state.registry.images.join(', ')} as ${REGISTRY_NAME}`);
    }
    await startRealNodes(state, realNodes, slots, opts.lowerNodes ?? defaultNodesFor, upperSlot);
    progress(
      `${realNodes} real node(s) per lower cluster${upperSlot !== undefined ? ' and 1 in the upper cluster' : ''} Ready after ${((Date.now() - started) / 1000).toFixed(1)}s`,
    );
  } else {
    // Simulated nodes only: their pods run no code, but an operator's fedlet always names an address, and
    // without one every pod with a token gets a Warning event (a write per pod the bench would count).
    // The upper API server's own address is where a pod on this host would reach it.
    for (const f of state.fedlets)
      if (!f.args.some((a) => a.startsWith('--upper-api-server-address=')))
        f.args.push(`--upper-api-server-address=${new URL(state.upper.server).host}`);
    saveState(state);
  }
  await registerWebhook(upperKubeconfig, webhookPort!, webhookCert.ca);
  if (opts.withFedlet !== false) {
    await startAllFedlets(state, progress);
    progress(`virtual nodes Ready after ${((Date.now() - started) / 1000).toFixed(1)}s`);
  }
  await waitForWebhook(upperKubeconfig, 60_000);
  writeOrchestrator(dir, { foreground: opts.foreground ?? false, phase: 'up' });
  return state;
}

/** The processes of the sandbox in dir that still run, from its state and from the ledgers. */
function runningProcesses(dir: string): ProcessRecord[] {
  const recorded: ProcessRecord[] = [];
  if (existsSync(stateFile(dir))) {
    const old = loadState(dir);
    recorded.push(
      ...old.upper.processes,
      ...old.lowers.flatMap((l) => l.processes),
      ...old.fedlets.flatMap((f) => (f.process ? [f.process] : [])),
      ...(old.extender ? [old.extender] : []),
      ...(old.realNodes ?? []).map((r) => r.process),
      ...(old.registry ? [old.registry.process] : []),
    );
  }
  return [...recorded.filter(isOurs), ...runningLeftovers(dir)];
}

/**
 * A sandbox still running in dir is refused, unless its orchestrator owned its lifetime and is gone (a
 * killed `sandbox up --foreground`, or one killed while starting): then its processes are reclaimed.
 */
export async function refuseOrReclaim(dir: string, opts: SandboxOptions): Promise<void> {
  const running = runningProcesses(dir);
  if (!running.length) return;
  const o = readOrchestrator(dir);
  const alive = o !== undefined && orchestratorAlive(o);
  if (!abandoned(o, alive))
    throw new Error(
      `a sandbox is already running in ${dir}${alive && o?.foreground ? ` (in the foreground, pid ${o.pid})` : ''}; stop it with 'fedlet sandbox down --dir ${opts.dir}'`,
    );
  opts.progress?.(
    `reclaiming ${running.length} process(es) left by a sandbox whose orchestrator (pid ${o!.pid}) is gone: ${[...new Set(running.map((p) => p.name))].join(', ')}`,
  );
  await sandboxDown(dir);
}

/**
 * Starts `perLower` real nodes in every lower cluster and, given its slot, one in the upper cluster (all
 * in parallel), and records them in the state.
 */
async function startRealNodes(
  state: SandboxState,
  perLower: number,
  slots: number[],
  layout: (i: number) => KwokNodeSpec[],
  upperSlot: number | undefined,
): Promise<void> {
  const registry = state.registry ? { name: REGISTRY_NAME, endpoint: state.registry.endpoint } : undefined;
  // Pods on a lower cluster's real nodes reach the upper API server through their gateway (every
  // gateway address is the host's): their fedlet hands that address to pods with upper tokens.
  const upperPort = new URL(state.upper.server).port;
  state.fedlets.forEach((f, i) => {
    if (!f.args.some((a) => a.startsWith('--upper-api-server-address=')))
      f.args.push(`--upper-api-server-address=${realNodeGateway(slots[i * perLower]!)}:${upperPort}`);
  });
  state.realNodes = [];
  const record = (r: RealNodeRecord) => {
    state.realNodes!.push(r);
    saveState(state);
    return r;
  };
  const upperNode =
    upperSlot === undefined
      ? []
      : [
          startRealNode({
            cluster: state.upper,
            name: 'upper-real-0',
            slot: upperSlot,
            clusterServices: true,
            labels: { [REAL_NODE_LABEL]: 'true' },
            registry,
          }).then(record),
        ];
  const results = await Promise.allSettled([
    ...upperNode,
    ...state.lowers.flatMap((cluster, i) => {
      const region = layout(i).find((n) => n.labels?.['topology.kubernetes.io/region'])?.labels?.[
        'topology.kubernetes.io/region'
      ];
      return Array.from({ length: perLower }, (_, j) =>
        startRealNode({
          cluster,
          name: `${cluster.name}-real-${j}`,
          slot: slots[i * perLower + j]!,
          clusterServices: j === 0,
          labels: {
            [REAL_NODE_LABEL]: 'true',
            ...(region ? { 'topology.kubernetes.io/region': region, 'topology.kubernetes.io/zone': `${region}-real` } : {}),
          },
          registry,
        }).then(record),
      );
    }),
  ]);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length) {
    await sandboxDown(state.dir).catch(() => undefined);
    throw new Error(failed.map((f) => (f.reason as Error).message).join('\n'));
  }
}

/**
 * KubeSchedulerConfiguration for the upper scheduler: the default profile plus fedlet's extender, called
 * over HTTPS with the scheduler's client certificate from the extender's CA.
 */
export function writeSchedulerConfig(upperDir: string, extenderPort: number, tls: ExtenderTls, qps?: number): string {
  mkdirSync(upperDir, { recursive: true });
  const file = path.join(upperDir, 'scheduler-config.yaml');
  writeFileSync(
    file,
    [
      'apiVersion: kubescheduler.config.k8s.io/v1',
      'kind: KubeSchedulerConfiguration',
      'clientConnection:',
      `  kubeconfig: ${path.join(upperDir, 'kube-scheduler.kubeconfig')}`,
      ...(qps ? [`  qps: ${qps}`, `  burst: ${2 * qps}`] : []),
      'leaderElection:',
      '  leaderElect: false',
      'extenders:',
      `  - urlPrefix: https://127.0.0.1:${extenderPort}`,
      '    tlsConfig:',
      `      certFile: ${tls.clientCert}`,
      `      keyFile: ${tls.clientKey}`,
      `      caFile: ${tls.caCert}`,
      '    filterVerb: filter',
      '    prioritizeVerb: prioritize',
      '    weight: 1',
      '    nodeCacheCapable: true',
      '    ignorable: true',
      '    httpTimeout: 5s',
      '',
    ].join('\n'),
  );
  return file;
}

export function startExtender(
  dir: string,
  adminUpperKubeconfig: string,
  port: number,
  pki: ReturnType<typeof extenderPki>,
  webhook?: { port: number; cert: string; key: string },
): ProcessRecord & { port: number; tls: ExtenderTls } {
  const kubeconfig = serviceAccountKubeconfig(
    adminUpperKubeconfig,
    'extender',
    path.join(dir, 'fedlet-extender.kubeconfig'),
    'fedlet-extender',
  );
  const p = startProcess(
    'fedlet-extender',
    process.execPath,
    [
      fedletCli(),
      'extender',
      `--upper-kubeconfig=${kubeconfig}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--tls-cert-file=${pki.serving.cert}`,
      `--tls-private-key-file=${pki.serving.key}`,
      `--client-ca-file=${pki.caCert}`,
      '--allowed-client-names=system:kube-scheduler',
      '--health-port=0',
      ...(webhook
        ? [
            `--webhook-port=${webhook.port}`,
            `--webhook-tls-cert-file=${webhook.cert}`,
            `--webhook-tls-private-key-file=${webhook.key}`,
          ]
        : []),
    ],
    path.join(dir, 'fedlet-extender.log'),
  );
  return { ...p, port, tls: { caCert: pki.caCert, clientCert: pki.scheduler.cert, clientKey: pki.scheduler.key } };
}

async function startAllFedlets(state: SandboxState, progress: (m: string) => void): Promise<void> {
  for (const f of state.fedlets) startFedlet(state, f.cluster);
  saveState(state);
  progress('fedlets started; waiting for virtual nodes to be Ready');
  await waitForNodesReady(
    state,
    state.fedlets.map((f) => f.nodeName),
    90_000,
  );
  await waitForSettledSummaries(state, 120_000);
}

/**
 * Ready is not yet schedulable: the extender places pods by each fedlet's published summary, and fresh
 * lower nodes carry kube-controller-manager's not-ready taint for their first seconds. Whoever uses the
 * sandbox (tests, the quick start, benchmarks) starts once every summary is out and free of those taints.
 */
export async function waitForSettledSummaries(state: SandboxState, timeoutMs: number): Promise<void> {
  const client = new KubeClient(loadKubeConfig(state.upperKubeconfig));
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const pending: string[] = [];
      for (const f of state.fedlets) {
        const cm = await client
          .get<{ data?: Record<string, string> }>(
            `/api/v1/namespaces/fedlet-system/configmaps/${summaryConfigMapName(f.nodeName)}`,
            {
              timeoutMs: 5000,
            },
          )
          .catch(() => undefined);
        const body = cm?.data?.[SUMMARY_DATA_KEY];
        if (!body) pending.push(`${f.nodeName}: no summary`);
        else if (
          parseSummary(body).taintSets.some((ts) =>
            ts.some((t) => t.key === 'node.kubernetes.io/not-ready' || t.key === 'node.kubernetes.io/unreachable'),
          )
        )
          pending.push(`${f.nodeName}: lower nodes still carry lifecycle taints`);
      }
      if (!pending.length) return;
      last = pending.join('; ');
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`scheduling summaries not settled after ${timeoutMs} ms: ${last}`);
}

/**
 * Uses existing clusters (for example kind clusters on a machine with Docker) instead of starting
 * local ones: only the fedlets are started, one per lower kubeconfig.
 */
export async function sandboxAttach(opts: {
  dir: string;
  upperKubeconfig: string;
  lowerKubeconfigs: string[];
  progress?: (m: string) => void;
  extraFedletArgs?: string[];
}): Promise<SandboxState> {
  const dir = path.resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const external = (name: string, role: 'upper' | 'lower', kubeconfig: string): ClusterState => ({
    name,
    role,
    dir,
    kubeconfig,
    server: '',
    caCert: '',
    processes: [],
  });
  const upper = external('upper', 'upper', path.resolve(opts.upperKubeconfig));
  const lowers = opts.lowerKubeconfigs.map((k, i) => external(lowerName(i), 'lower', path.resolve(k)));
  applyUpperStorageClass(upper.kubeconfig, repoRoot());
  // No extender (and so no admission webhook) runs for attached clusters: no virtual-node taint either.
  const state = await prepareFedlets(
    dir,
    upper,
    lowers,
    upper.kubeconfig,
    lowers.map((l) => l.kubeconfig),
    true,
    ['--virtual-node-taint=false', ...(opts.extraFedletArgs ?? [])],
  );
  await startAllFedlets(state, opts.progress ?? (() => undefined));
  return state;
}

/** Local sandbox: a kubelet serving certificate signed by the upper CA; external clusters: self-signed. */
function servingCertArgs(upper: ClusterState, external: boolean, nodeName: string): string[] {
  if (external) return ['--serving-cert=self-signed'];
  const pkiDir = path.join(upper.dir, 'pki');
  const c = signCert(
    pkiDir,
    { cert: path.join(pkiDir, 'ca.crt'), key: path.join(pkiDir, 'ca.key') },
    `${nodeName}-serving`,
    `/O=system:nodes/CN=system:node:${nodeName}`,
    serverExt([...new Set(['IP:127.0.0.1', `IP:${sandboxNodeIP()}`]), `DNS:${nodeName}`]),
  );
  return [`--tls-cert-file=${c.cert}`, `--tls-private-key-file=${c.key}`];
}

/**
 * Applies manifests/rbac/<role> to a cluster and returns a kubeconfig holding a token of exactly that
 * ServiceAccount, so fedlet runs with the least privilege the manifests grant and nothing more.
 */
export function serviceAccountKubeconfig(
  adminKubeconfig: string,
  role: 'upper' | 'lower' | 'extender',
  out: string,
  serviceAccount = 'fedlet',
  /** A kustomization to apply instead of manifests/rbac/<role> (e.g. an overlay naming the account). */
  kustomization?: string,
): string {
  const kubectl = (args: string[], input?: string) =>
    execFileSync(findBinary('kubectl'), ['--kubeconfig', adminKubeconfig, ...args], {
      encoding: 'utf8',
      input,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  kubectl(['apply', '-k', kustomization ?? path.join(repoRoot(), 'manifests', 'rbac', role)]);
  let token = '';
  for (let i = 0; i < 50 && !token; i++) {
    try {
      token = kubectl(['create', 'token', serviceAccount, '-n', 'fedlet-system', '--duration=48h']).trim();
    } catch (e) {
      if (i === 49) throw e;
      execFileSync('sleep', ['0.2']);
    }
  }
  const server = kubectl(['config', 'view', '--minify', '--raw', '-o', 'jsonpath={.clusters[0].cluster.server}']).trim();
  const caData = kubectl([
    'config',
    'view',
    '--minify',
    '--raw',
    '--flatten',
    '-o',
    'jsonpath={.clusters[0].cluster.certificate-authority-data}',
  ]).trim();
  writeFileSync(
    out,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: c',
      '  cluster:',
      `    server: ${server}`,
      `    certificate-authority-data: ${caData}`,
      'users:',
      '- name: fedlet',
      '  user:',
      `    token: ${token}`,
      'contexts:',
      '- name: c',
      '  context: {cluster: c, user: fedlet}',
      'current-context: c',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return out;
}

/**
 * fedlet's upper identity for virtual node `nodeName` (fedlet-<x>): manifests/rbac/upper under an overlay
 * that names the ServiceAccount after the node, as overlays and the chart do (the admission policy of
 * manifests/rbac/upper-policy, applied once here, holds each account to its own node's objects).
 * Returns a kubeconfig with a token of that account.
 */
export function upperIdentityKubeconfig(adminKubeconfig: string, dir: string, nodeName: string): string {
  if (!/^fedlet-[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(nodeName))
    throw new Error(`sandbox upper identities are for nodes named fedlet-<x>, not ${nodeName}`);
  execFileSync(findBinary('kubectl'), [
    '--kubeconfig',
    adminKubeconfig,
    'apply',
    '-k',
    path.join(repoRoot(), 'manifests', 'rbac', 'upper-policy'),
  ]);
  const overlay = path.join(dir, 'rbac', nodeName);
  mkdirSync(overlay, { recursive: true });
  writeFileSync(
    path.join(overlay, 'kustomization.yaml'),
    [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      'resources:',
      `  - ${path.relative(overlay, path.join(repoRoot(), 'manifests', 'rbac', 'upper'))}`,
      `nameSuffix: ${nodeName.slice('fedlet'.length)}`,
      '',
    ].join('\n'),
  );
  return serviceAccountKubeconfig(adminKubeconfig, 'upper', path.join(dir, `${nodeName}-upper.kubeconfig`), nodeName, overlay);
}

async function prepareFedlets(
  dir: string,
  upper: ClusterState,
  lowers: ClusterState[],
  upperKubeconfig: string,
  lowerKubeconfigs: string[],
  external: boolean,
  extraArgs?: string[],
): Promise<SandboxState> {
  const n = lowers.length;
  const ports = await freePorts(2 * n); // kubelet ports, then health ports
  // fedlet runs with the manifests' RBAC only: ServiceAccount tokens, not the admin credentials; each
  // fedlet with an upper account of its own, named after its node.
  const fedletUppers = lowers.map((_, i) => upperIdentityKubeconfig(upperKubeconfig, dir, `fedlet-${lowerName(i)}`));
  const fedletLowers = lowerKubeconfigs.map((k, i) =>
    serviceAccountKubeconfig(k, 'lower', path.join(dir, `fedlet-${lowerName(i)}.kubeconfig`)),
  );
  return {
    dir,
    nodeIP: sandboxNodeIP(),
    external,
    upper,
    lowers,
    upperKubeconfig,
    lowerKubeconfigs,
    fedlets: lowers.map((_, i) => ({
      cluster: lowerName(i),
      nodeName: `fedlet-${lowerName(i)}`,
      kubeletPort: ports[i]!,
      upperKubeconfig: fedletUppers[i]!,
      lowerKubeconfig: fedletLowers[i]!,
      args: [
        'run',
        `--upper-kubeconfig=${fedletUppers[i]}`,
        `--lower-kubeconfig=${fedletLowers[i]}`,
        `--cluster-name=${lowerName(i)}`,
        `--node-ip=${sandboxNodeIP()}`,
        `--kubelet-port=${ports[i]}`,
        // Every lower cluster uses 10.244.0.0/16 for pods; the upper cluster sees 10.(101+i).0.0/16.
        `--pod-ip-remap=10.244.0.0/16=10.${101 + i}.0.0/16`,
        // The two namespace strategies: the first lower cluster keeps upper names (upper "x" is lower "x",
        // so Service DNS names resolve below too); the second qualifies them by cluster ("x-lower-2", the
        // default). fedlet uses only namespaces it created or was granted either way.
        `--namespace-template=${i === 0 ? '{{namespace}}' : '{{namespace}}-{{cluster}}'}`,
        // A short grace before an unneeded lower namespace goes (the default keeps it 5 minutes), so tests
        // and demos see namespace collection happen.
        '--lower-namespace-grace=20',
        // A pod the lower cluster cannot schedule or keeps refusing is given back after 20 s (default 60),
        // so tests and demos of bouncing do not wait a minute each.
        '--bounce-after=20',
        `--kubelet-bind-address=${sandboxNodeIP()}`,
        `--health-port=${ports[n + i]}`,
        '--health-bind-address=127.0.0.1',
        // Keeps the virtual node's client certificate (system:node:<node>) across fedlet restarts.
        `--cert-dir=${path.join(dir, `fedlet-${lowerName(i)}-certs`)}`,
        ...servingCertArgs(upper, external, `fedlet-${lowerName(i)}`),
        ...(extraArgs ?? []),
      ],
    })),
  };
}

/**
 * FEDLET_SANDBOX_NODE_ARGS: extra Node options for the fedlets only (space-separated, e.g. `--cpu-prof
 * --cpu-prof-dir=DIR` to profile them under a benchmark; Node refuses --cpu-prof in NODE_OPTIONS).
 */
function fedletNodeArgs(): string[] {
  return (process.env.FEDLET_SANDBOX_NODE_ARGS ?? '').split(' ').filter(Boolean);
}

export function startFedlet(state: SandboxState, cluster: string, env?: Record<string, string>): FedletRecord {
  const f = state.fedlets.find((x) => x.cluster === cluster);
  if (!f) throw new Error(`no fedlet for cluster ${cluster}`);
  // The memory settings the image ships with (src/memory-env.ts), so that the sandbox and the bench
  // measure what operators run; `env` (the bench's memory part) may change them (an empty value unsets).
  f.process = startProcess(
    `fedlet-${cluster}`,
    process.execPath,
    [...fedletNodeArgs(), fedletCli(), ...f.args],
    path.join(state.dir, `fedlet-${cluster}.log`),
    { ...memoryEnv(process.env), ...env },
  );
  return f;
}

export async function stopFedlet(state: SandboxState, cluster: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const f = state.fedlets.find((x) => x.cluster === cluster);
  if (f?.process) await stopProcess(f.process, signal);
}

export async function waitForNodesReady(state: SandboxState, names: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const client = new KubeClient(loadKubeConfig(state.upperKubeconfig));
  let last = '';
  while (Date.now() < deadline) {
    try {
      const list = await client.get<{
        items: Array<{ metadata: { name: string }; status?: { conditions?: Array<{ type: string; status: string }> } }>;
      }>('/api/v1/nodes', { timeoutMs: 5000 });
      const ready = new Set(
        list.items
          .filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
          .map((n) => n.metadata.name),
      );
      if (names.every((n) => ready.has(n))) return;
      last = `ready: ${[...ready].join(', ') || 'none'}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const logs = state.fedlets
    .map((f) => `--- fedlet ${f.cluster} ---\n${tail(path.join(state.dir, `fedlet-${f.cluster}.log`))}`)
    .join('\n');
  throw new Error(`virtual nodes ${names.join(', ')} not Ready after ${timeoutMs} ms (${last})\n${logs}`);
}

/**
 * Stops every process of the sandbox in dir: the ones its state records (real nodes with their cgroups
 * and mounts), then whatever else the ledgers name that still runs — what a killed orchestrator left,
 * even before it wrote the state. Returns the names of those extra leftovers.
 */
export async function sandboxDown(dir: string): Promise<string[]> {
  const hasState = existsSync(stateFile(dir));
  const ledger = ledgerRecords(path.resolve(dir));
  if (!hasState && !ledger.length) loadState(dir); // throws: no sandbox here
  if (hasState) {
    const s = loadState(dir);
    for (const f of s.fedlets) if (f.process) await stopProcess(f.process);
    if (s.extender) await stopProcess(s.extender);
    // Real nodes first: their kubelets would otherwise report to stopped API servers while being torn down.
    await Promise.all((s.realNodes ?? []).map((r) => stopRealNode(r)));
    removeUnusedHostPaths((s.realNodes ?? []).flatMap((r) => r.hostPaths));
    if (s.registry) await stopProcess(s.registry.process);
    await Promise.all([...s.lowers, s.upper].map((c) => stopCluster(c)));
    if (!s.external) for (const l of s.lowers) removeVolumes(l);
  }
  return reclaim(ledger);
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
  for (const c of [s.upper, ...s.lowers])
    for (const p of c.processes) rows.push({ cluster: c.name, component: p.name, pid: p.pid, running: isOurs(p) });
  for (const f of s.fedlets)
    if (f.process) rows.push({ cluster: f.cluster, component: 'fedlet', pid: f.process.pid, running: isOurs(f.process) });
  if (s.extender) rows.push({ cluster: 'upper', component: 'fedlet-extender', pid: s.extender.pid, running: isOurs(s.extender) });
  if (s.registry)
    rows.push({ cluster: 'upper', component: 'registry', pid: s.registry.process.pid, running: isOurs(s.registry.process) });
  for (const r of s.realNodes ?? [])
    for (const p of r.components)
      rows.push({ cluster: r.cluster, component: `${r.name}/${p.name}`, pid: p.pid, running: isOurs(p) });
  return rows;
}

function findComponent(state: SandboxState, cluster: string, component: string): { c: ClusterState; i: number } {
  const c = [state.upper, ...state.lowers].find((x) => x.name === cluster);
  const i = c?.processes.findIndex((p) => p.name === component) ?? -1;
  if (!c || i < 0) throw new Error(`no ${component} in cluster ${cluster} (external clusters cannot be controlled)`);
  return { c, i };
}

/** Stops one component of a local cluster (e.g. a lower kube-apiserver) to simulate an outage. */
export async function stopComponent(
  state: SandboxState,
  cluster: string,
  component: string,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  const { c, i } = findComponent(state, cluster, component);
  await stopProcess(c.processes[i]!, signal);
}

/** Kills the scheduler extender and starts it again on the same port (the upper scheduler ignores it meanwhile). */
export async function restartExtender(state: SandboxState, downMs = 0): Promise<void> {
  const e = state.extender;
  if (!e) throw new Error('this sandbox has no extender (external clusters)');
  await stopProcess(e, 'SIGKILL');
  if (downMs) await new Promise((r) => setTimeout(r, downMs));
  state.extender = { ...restartProcess(e), port: e.port, tls: e.tls };
  saveState(state);
}

/** Sends a signal to a fedlet without waiting (SIGSTOP/SIGCONT: a process that freezes, then resumes). */
export function signalFedlet(state: SandboxState, cluster: string, signal: NodeJS.Signals): void {
  const f = state.fedlets.find((x) => x.cluster === cluster);
  if (!f?.process || !isOurs(f.process)) throw new Error(`fedlet ${cluster} is not running`);
  process.kill(f.process.pid, signal);
}

/** Starts a stopped component again with the same arguments, and records its new pid. */
export function restartComponent(state: SandboxState, cluster: string, component: string): void {
  const { c, i } = findComponent(state, cluster, component);
  c.processes[i] = restartProcess(c.processes[i]!);
  c.restarts = [...(c.restarts ?? []), Date.now()];
  saveState(state);
}
