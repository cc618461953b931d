// The wiring of one fedlet process: clients for both clusters, leadership, the lower provider, the
// virtual node(s) it serves, the kubelet API and the health port, and the order they stop in. Fails fast
// with a clear message when a cluster cannot be reached at start; once running, it never exits because an
// API server is away: losing the leader lease closes the write fence (no write reaches either cluster),
// and the process stands by and campaigns until it leads again.
import type { Logger } from 'pino';
import { ConfigError, type FedletConfig } from '../src/config.js';
import { EventRecorder } from '../src/events.js';
import { startHealthServer, type HealthState } from '../src/health.js';
import type { Pod } from '../src/kube/types.js';
import { upperClientCA } from '../src/kubelet/serving-cert.js';
import { FedletMetrics, type ClientCounts } from '../src/metrics.js';
import { NodeSet } from '../src/node/node-set.js';
import { ServedNode } from '../src/node/served-node.js';
import { LowerProvider } from '../provider/lower-provider.js';
import { startKubeletApi } from './kubelet-api.js';
import { Leadership } from './leadership.js';
import { NodeIdentities } from './node-identities.js';
import { retrying, StartupError } from './startup.js';
import type { KubeClient } from '../src/kube/client.js';
import type { WriteFence } from '../src/kube/fence.js';
import { connectClusters } from './clusters.js';

export { StartupError } from './startup.js';

export interface RunningFedlet {
  stop(): Promise<void>;
  done: Promise<void>;
}

/** `stopSignal`: aborts a start still in progress (a standby campaigning): runFedlet then rejects. */
export async function runFedlet(cfg: FedletConfig, log: Logger, stopSignal?: AbortSignal): Promise<RunningFedlet> {
  const leadership = new Leadership(cfg, log);
  const fence = leadership.fence;
  const abort = new AbortController();
  if (stopSignal?.aborted) abort.abort();
  stopSignal?.addEventListener('abort', () => abort.abort(), { once: true });
  const { upper, lower, heartbeat, reviewer, heartbeatLimits } = await connectClusters(cfg, fence, abort.signal, log);
  const healthServer = await startHealth(
    cfg,
    () => {
      const stale = [...upper.caches.staleCaches(), ...lower.caches.staleCaches()];
      return stale.length
        ? {
            role: leadership.role,
            problem: `${stale.length} informer cache(s) stale`,
            detail: `caches stale: ${stale.join('; ')}`,
          }
        : { role: leadership.role };
    },
    log.child({ component: 'health' }),
  );
  await leadership.acquire(abort.signal);

  const metricClients: Record<string, ClientCounts> = { upper, lower, 'upper-heartbeat': heartbeat, 'upper-reviews': reviewer };
  const identities = new NodeIdentities({
    cfg,
    upper,
    fence,
    heartbeatOptions: heartbeatLimits,
    metricClients,
    signal: abort.signal,
    log,
  });
  if (cfg.tokenCredentials === 'node' || cfg.nodeCredentials === 'node') identities.of(cfg.nodeName);
  // What a kubelet writes — the node's Lease and status (heartbeat), its pods' status and final deletion —
  // is written as the node itself (nodeCredentials: node): the Node authorizer and NodeRestriction hold
  // those writes to this node and its pods.
  const asNode = cfg.nodeCredentials === 'node';
  const heartbeatFor = (node: string): KubeClient => (asNode ? identities.of(node).heartbeat : heartbeat);
  const nodeClientFor = (node: string): KubeClient => (asNode ? identities.of(node).client : upper);
  if (cfg.tokenCredentials !== 'node')
    log.warn(
      "tokenCredentials is fedlet: pods' service-account tokens are requested with fedlet's own upper credentials (create on serviceaccounts/token: any service account), not limited to pods of this node",
    );
  if (!cfg.upperAPIServerAddress)
    log.warn(
      'upperAPIServerAddress is not set: pods with upper service-account tokens get empty KUBERNETES_SERVICE_HOST/PORT (in-cluster API clients fail) and a Warning event',
    );
  // One recorder for the process: its memory of repeated events is what keeps them from multiplying.
  const events = new EventRecorder({ client: upper, component: 'fedlet', host: cfg.nodeName, log });
  let nodeSet: NodeSet | undefined;
  const provider = new LowerProvider(cfg, {
    lower,
    upper,
    events,
    tokenClient: cfg.tokenCredentials === 'node' ? (node) => identities.tokenClient(node) : undefined,
    // A kubelet reads what its pods name with its own credential: so does fedlet (nodeCredentials: node).
    upperReader: asNode ? (node) => identities.of(node).client : undefined,
    upperPods: { has: (node, key) => nodeSet?.has(node, key) ?? false, all: () => nodeSet?.allBoundPods() },
    log,
  });
  await provider.start(abort.signal);

  const metrics = new FedletMetrics();
  const observe = (ms: number, ok: boolean) => metrics.syncDuration.observe({ outcome: ok ? 'ok' : 'error' }, ms / 1000);
  const served = await serveNodes({
    cfg,
    provider,
    upper,
    fence,
    events,
    observe,
    heartbeatFor,
    nodeClientFor,
    onNodeSet: (set) => (nodeSet = set),
    signal: abort.signal,
    log,
  });

  const clientCA = await retrying(
    "reading the upper cluster's client CA",
    () => upperClientCA(upper, cfg.clientCAFile),
    abort.signal,
    log,
  ).catch((e: Error) => {
    throw new StartupError(`cannot read the upper cluster's client CA: ${e.message}`);
  });
  metrics.collectFrom({
    queueDepth: () => served.queueDepth(),
    podsByPhase: () => served.podsByPhase(),
    lowerHealthy: () => provider.backendReachable(),
    clients: metricClients,
  });
  leadership.onRegained(() => served.resync());
  const kubelet = startKubeletApi({
    cfg,
    upper,
    reviewer,
    clientCA,
    provider,
    pods: () => served.boundPods(),
    servedNodes: () => served.names(),
    metrics,
    // A replica without the lease may not open exec/attach/port-forward into the lower cluster.
    mutationsRefusedBecause: () => fence.closedReason,
    signal: abort.signal,
    log,
  });
  leadership.started();
  const untilAborted = new Promise<void>((resolve) => abort.signal.addEventListener('abort', () => resolve(), { once: true }));
  const loops = served.loops.length ? Promise.all(served.loops) : untilAborted;
  const done = Promise.race([loops, ...(leadership.ended ? [leadership.ended] : [])]).then(() => undefined);
  return {
    done,
    async stop() {
      healthServer?.close();
      // Hand the lease over first, so a standby takes over at once instead of after the lease expires
      // (the loops and the kubelet API's streams may take longer to wind down than a SIGTERM grace allows).
      await leadership.release();
      abort.abort();
      await done.catch(() => undefined);
      await kubelet.stop();
      await served.stop();
      await provider.stop();
    },
  };
}

/** Without pools: one virtual node. With pools: a NodeSet serves one per pool and follows the provider's pools. */
async function serveNodes(o: {
  cfg: FedletConfig;
  provider: LowerProvider;
  upper: KubeClient;
  fence: WriteFence;
  events: EventRecorder;
  observe: (ms: number, ok: boolean) => void;
  heartbeatFor: (node: string) => KubeClient;
  nodeClientFor: (node: string) => KubeClient;
  onNodeSet: (set: NodeSet) => void;
  signal: AbortSignal;
  log: Logger;
}): Promise<ServedNodes> {
  const { cfg, provider, upper, fence, events, observe, heartbeatFor, nodeClientFor, signal, log } = o;
  if (provider.pooled) {
    const set = new NodeSet({
      upper,
      config: cfg,
      fence,
      events,
      wanted: () => provider.virtualNodes() ?? [],
      heartbeat: heartbeatFor,
      nodeClient: nodeClientFor,
      observe,
      log: log.child({ component: 'pools' }),
    });
    o.onNodeSet(set);
    provider.onVirtualNodesChange(() => void set.reconcile());
    await retrying('registering the pool nodes', () => set.start(), signal, log);
    log.info({ nodes: set.names() }, 'serving pool nodes');
    return {
      ...countsOf(set),
      names: () => set.names(),
      resync: () => (set.resync(signal), void set.reconcile()),
      loops: [],
      stop: () => set.stop(),
    };
  }
  const node = await ServedNode.start({
    upper,
    config: cfg,
    name: cfg.nodeName,
    provider,
    heartbeat: heartbeatFor(cfg.nodeName),
    nodeClient: nodeClientFor(cfg.nodeName),
    fence,
    events,
    observe,
    signal,
    register: (register) => retrying('registering the virtual node', register, signal, log),
    log: log.child({ component: 'node' }),
  });
  return {
    ...countsOf(node.pods),
    names: () => [cfg.nodeName],
    resync: () => node.resync(signal),
    loops: [node.done()],
    stop: () => node.stop(),
  };
}

async function startHealth(cfg: FedletConfig, state: () => HealthState, log: Logger): Promise<{ close(): void } | undefined> {
  try {
    return cfg.healthPort > 0 ? await startHealthServer(cfg.healthPort, cfg.healthBindAddress, state, log) : undefined;
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
}

/** The counts the metrics read, from one pod controller or a whole NodeSet. */
function countsOf(p: { boundPods(): Pod[]; queueDepth(): number; podsByPhase(): Map<string, number> }) {
  return { boundPods: () => p.boundPods(), queueDepth: () => p.queueDepth(), podsByPhase: () => p.podsByPhase() };
}

/** What the process serves in the upper cluster: one virtual node, or a NodeSet of pool nodes. */
interface ServedNodes {
  boundPods(): Pod[];
  /** The virtual nodes' names. */
  names(): string[];
  queueDepth(): number;
  podsByPhase(): Map<string, number>;
  /** After leadership was regained: resync pods, post status. */
  resync(): void;
  /** Loops whose end ends the process (empty: it runs until stopped). */
  loops: Array<Promise<unknown>>;
  stop(): Promise<void>;
}
