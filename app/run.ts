// Wires one fedlet process: clients for both clusters, the lower provider, and the node + lease
// controllers. Fails fast with a clear message when a cluster cannot be reached at start; once running,
// it never exits because an API server is away: losing the leader lease closes the write fence (no
// write reaches either cluster), and the process stands by and campaigns until it leads again.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { LeaderElector } from '../src/leader.js';
import { startHealthServer, type HealthState } from '../src/health.js';
import { SummaryPublisher } from '../src/node/summary-publisher.js';
import type { Logger } from 'pino';
import type { FedletConfig } from '../src/config.js';
import { ConfigError, parseHostPort, parseNamespaceList } from '../src/config.js';
import { KubeApiError, KubeClient, loadKubeConfig } from '../src/kube/client.js';
import { isNotLeader, WriteFence } from '../src/kube/fence.js';
import { Backoff } from '../src/util/backoff.js';
import { LeaseController } from '../src/node/lease-controller.js';
import { NodeController } from '../src/node/node-controller.js';
import { desiredLabels } from '../src/node/node-object.js';
import { LowerProvider } from '../provider/lower-provider.js';
import { validateNamespaceTemplate } from '../provider/namespaces/namespace-map.js';
import { poolConfig, poolsEnabled, type PoolConfig } from '../provider/pools/pools.js';
import { NodeSet } from '../src/node/node-set.js';
import { IpRemapper, parseRemapPairs } from '../provider/workload/remap.js';
import { EventRecorder } from '../src/events.js';
import type { Pod } from '../src/kube/types.js';
import { PodController } from '../src/pods/pod-controller.js';
import { FedletMetrics, type ClientCounts } from '../src/metrics.js';
import { KubeletAuth } from '../src/kubelet/auth.js';
import { KubeletServer } from '../src/kubelet/server.js';
import { obtainServingCert, upperClientCA } from '../src/kubelet/serving-cert.js';
import { followClientCA, rotateServingCert } from '../src/kubelet/cert-rotation.js';
import { NodeIdentity } from '../src/node/node-identity.js';

export class StartupError extends Error {}

function clientFor(which: 'upper' | 'lower', file: string | undefined, cfg: FedletConfig, fence?: WriteFence): KubeClient {
  if (file && !existsSync(file)) throw new ConfigError(`${which} kubeconfig ${file} does not exist`);
  try {
    return new KubeClient(loadKubeConfig(file), {
      writeQps: cfg.writeQps,
      writeBurst: cfg.writeBurst,
      userAgent: `fedlet/${cfg.clusterName}`,
      fence,
    });
  } catch (e) {
    throw new ConfigError(`cannot load ${which} kubeconfig ${file ?? '(default)'}: ${(e as Error).message}`);
  }
}

async function checkReachable(which: string, client: KubeClient): Promise<string> {
  try {
    const v = await client.get<{ gitVersion?: string }>('/version', { timeoutMs: 10_000 });
    return v.gitVersion ?? 'unknown';
  } catch (e) {
    throw new StartupError(`${which} cluster API server ${client.server.origin} is not reachable: ${(e as Error).message}`);
  }
}

/** Errors a later attempt may not see: transport failures, 429, 5xx, and a closed write fence. */
function transient(e: unknown): boolean {
  if (isNotLeader(e)) return true;
  return e instanceof KubeApiError && (e.code === 0 || e.code === 429 || e.code >= 500);
}

/**
 * Startup steps that talk to a cluster retry through outages (an API server restarting while fedlet
 * starts is no reason to exit); other errors, and aborting, end the start.
 */
async function retrying<T>(what: string, fn: () => Promise<T>, signal: AbortSignal, log: Logger): Promise<T> {
  const backoff = new Backoff(500, 5000);
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!transient(e) || signal.aborted) throw e;
      log.warn({ err: (e as Error).message }, `${what} failed; retrying`);
      await backoff.wait(signal);
    }
  }
}

export interface RunningFedlet {
  stop(): Promise<void>;
  done: Promise<void>;
}

/** `stopSignal`: aborts a start still in progress (a standby campaigning): runFedlet then rejects. */
export async function runFedlet(cfg: FedletConfig, log: Logger, stopSignal?: AbortSignal): Promise<RunningFedlet> {
  // One fence for both clusters: every write of every controller passes it (see kube/fence.ts).
  const fence = cfg.leaderElect ? new WriteFence() : WriteFence.alwaysOpen();
  const upper = clientFor('upper', cfg.upperKubeconfig, cfg, fence);
  const lower = clientFor('lower', cfg.lowerKubeconfig, cfg, fence);
  const [uv, lv] = await Promise.all([checkReachable('upper', upper), checkReachable(`lower (${cfg.clusterName})`, lower)]);
  log.info({ node: cfg.nodeName, cluster: cfg.clusterName, upperVersion: uv, lowerVersion: lv }, 'starting fedlet');

  const abort = new AbortController();
  if (stopSignal?.aborted) abort.abort();
  stopSignal?.addEventListener('abort', () => abort.abort(), { once: true });
  let role: HealthState['role'] = 'starting';
  const health = (): HealthState => {
    const stale = [...upper.caches.staleCaches(), ...lower.caches.staleCaches()];
    return stale.length ? { role, problem: `caches stale: ${stale.join('; ')}` } : { role };
  };
  let healthServer: Awaited<ReturnType<typeof startHealthServer>> | undefined;
  try {
    if (cfg.healthPort > 0) healthServer = await startHealthServer(cfg.healthPort, cfg.healthBindAddress, health);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  let elector: LeaderElector | undefined;
  /** Called each time leadership is regained, once the fence is open again: resync from caches. */
  const onRegain: Array<() => void> = [];
  let leadership: Promise<void> | undefined;
  if (cfg.leaderElect) {
    elector = new LeaderElector({
      // The elector's own writes decide leadership, so they do not pass the fence.
      client: clientFor('upper', cfg.upperKubeconfig, cfg),
      fence,
      namespace: cfg.leaderElectionNamespace,
      name: `${cfg.nodeName}-leader`,
      identity: cfg.leaderElectionIdentity ?? process.env.POD_NAME ?? `${hostname()}_${process.pid}`,
      leaseDurationSeconds: cfg.leaderElectionLeaseSeconds,
      renewDeadlineSeconds: Math.max(2, Math.floor((cfg.leaderElectionLeaseSeconds * 2) / 3)),
      retryPeriodSeconds: 2,
      log: log.child({ component: 'leader' }),
    });
    role = 'standby';
    await elector.acquire(abort.signal);
    fence.open(elector.validUntil);
    role = 'starting';
    leadership = keepLeading(elector);
  }

  async function keepLeading(el: LeaderElector): Promise<void> {
    for (;;) {
      if ((await el.holdUntilLost(abort.signal)) === 'aborted') return;
      fence.close('this replica lost the leader lease');
      role = 'standby';
      log.warn('lost the leader lease: no writes to either cluster; standing by and campaigning again');
      try {
        await el.acquire(abort.signal);
      } catch {
        return; // stopping
      }
      // Writes resume at once (node Lease and status first); controllers resync level-triggered.
      fence.open(el.validUntil);
      role = 'leader';
      log.info('leading again: resynchronising from caches');
      for (const h of onRegain) h();
    }
  }
  // Tokens are requested as the virtual node (system:node:<node>), so the upper API server itself
  // limits them to service accounts of pods bound to this node; see node/node-identity.ts.
  // One identity per virtual node (each pool node is a node of its own to the Node authorizer), made
  // when the first token of a pod bound to it is due; the base node's at start.
  const identities = new Map<string, NodeIdentity>();
  // API request metrics by client, read at scrape time: upper-node is the base node's identity,
  // upper-node/<pool node> a pool node's.
  const metricClients: Record<string, ClientCounts> = { upper, lower };
  const identityOf = (node: string): NodeIdentity => {
    let id = identities.get(node);
    if (!id) {
      id = new NodeIdentity({
        upper,
        nodeName: node,
        certDir: cfg.certDir,
        fileBase: node === cfg.nodeName ? undefined : `kubelet-client-${node}`,
        clientOptions: { writeQps: cfg.writeQps, writeBurst: cfg.writeBurst, userAgent: `fedlet/${cfg.clusterName}`, fence },
        log: log.child({ component: 'node-identity', node }),
      });
      identities.set(node, id);
      metricClients[node === cfg.nodeName ? 'upper-node' : `upper-node/${node}`] = id.client;
      void id.run(abort.signal);
    }
    return id;
  };
  if (cfg.tokenCredentials === 'node') identityOf(cfg.nodeName);
  else
    log.warn(
      "tokenCredentials is fedlet: pods' service-account tokens are requested with fedlet's own upper credentials (create on serviceaccounts/token: any service account), not limited to pods of this node",
    );
  let remapper: IpRemapper;
  let pools: PoolConfig | undefined;
  try {
    validateNamespaceTemplate(cfg.namespaceTemplate);
    const pc = poolConfig(cfg.poolGroupBy, cfg.pools, cfg.nodeName);
    if (poolsEnabled(pc)) pools = pc;
    remapper = new IpRemapper(cfg.podIPRemap ? parseRemapPairs(cfg.podIPRemap) : []);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const provider: LowerProvider = new LowerProvider({
    client: lower,
    upper,
    nodeIP: cfg.nodeIP,
    namespaceTemplate: cfg.namespaceTemplate,
    remapper,
    allowDaemonSetPods: cfg.allowDaemonSetPods,
    serviceTypes: cfg.serviceTypes,
    serviceEndpoints: cfg.serviceEndpoints,
    bounceAfterSeconds: cfg.bounceAfterSeconds,
    avoidAfterBounceSeconds: cfg.avoidAfterBounceSeconds,
    clusterName: cfg.clusterName,
    nodeName: cfg.nodeName,
    healthIntervalMs: cfg.lowerHealthIntervalSeconds * 1000,
    healthFailureThreshold: cfg.lowerHealthFailureThreshold,
    debounceMs: cfg.capacityDebounceMs,
    serviceAccounts: {
      upperAPIServer: cfg.upperAPIServerAddress ? parseHostPort(cfg.upperAPIServerAddress) : undefined,
      lowerIdentityNamespaces: new Set(parseNamespaceList(cfg.lowerIdentityNamespaces)),
      tokenClient:
        cfg.tokenCredentials === 'node'
          ? (node: string) => {
              const identity = identityOf(node);
              const pending = identity.pending();
              return pending ? { pending } : { client: identity.client };
            }
          : undefined,
    },
    storageClassMap: cfg.storageClassMap,
    runtimeClassMap: cfg.runtimeClassMap,
    priorityClassMap: cfg.priorityClassMap,
    virtualNodeLabels: (node = cfg.nodeName, state = provider.nodeState()): Record<string, string> =>
      desiredLabels({ ...cfg, nodeName: node }, state),
    pools,
    upperPods: { has: (node, key) => nodeSet?.has(node, key) ?? false, all: () => nodeSet?.allBoundPods() },
    log,
  });
  let nodeSet: NodeSet | undefined;
  if (!cfg.upperAPIServerAddress)
    log.warn(
      'upperAPIServerAddress is not set: pods with upper service-account tokens get empty KUBERNETES_SERVICE_HOST/PORT (in-cluster API clients fail) and a Warning event',
    );
  await provider.start(abort.signal);
  const events = new EventRecorder({ client: upper, component: 'fedlet', host: cfg.nodeName, log });
  const metrics = new FedletMetrics();
  const observe = (ms: number, ok: boolean) => metrics.syncDuration.observe({ outcome: ok ? 'ok' : 'error' }, ms / 1000);
  // Without pools: one virtual node (NodeController, Lease, PodController, summary) as always. With
  // pools: a NodeSet serves one such set per pool and follows the provider's pools.
  let served: ServedNodes;
  if (pools) {
    const set = new NodeSet({
      upper,
      config: cfg,
      fence,
      events,
      wanted: () => provider.virtualNodes() ?? [],
      observe,
      log: log.child({ component: 'pools' }),
    });
    nodeSet = set;
    provider.onVirtualNodesChange(() => void set.reconcile());
    await retrying('registering the pool nodes', () => set.start(), abort.signal, log);
    log.info({ nodes: set.names() }, 'serving pool nodes');
    served = {
      boundPods: () => set.boundPods(),
      queueDepth: () => set.queueDepth(),
      podsByPhase: () => set.podsByPhase(),
      resync: () => {
        set.resync(abort.signal);
        void set.reconcile();
      },
      loops: [],
      stop: () => set.stop(),
    };
  } else served = await serveOneNode();

  async function serveOneNode(): Promise<ServedNodes> {
    const nodes = new NodeController({ client: upper, config: cfg, provider, fence, log: log.child({ component: 'node' }) });
    await retrying('registering the virtual node', () => nodes.register(), abort.signal, log);
    const lease = new LeaseController({
      client: upper,
      nodeName: cfg.nodeName,
      durationSeconds: cfg.leaseDurationSeconds,
      renewIntervalSeconds: cfg.leaseRenewIntervalSeconds,
      nodeUid: () => nodes.uid,
      fence,
      // After an outage the upper controller-manager may have marked the node Ready=Unknown: post at once.
      onRecovered: () => nodes.markDirty(),
      log: log.child({ component: 'lease' }),
    });
    const pods = new PodController({
      upper,
      nodeName: cfg.nodeName,
      provider,
      events,
      workers: cfg.podWorkers,
      unreachableDeleteAfterSeconds: cfg.unreachableDeleteAfterSeconds,
      log: log.child({ component: 'pods' }),
      observe,
    });
    const loops = [nodes.run(abort.signal), lease.run(abort.signal), pods.start(abort.signal)];
    if (cfg.publishSummary) {
      const summary = new SummaryPublisher({
        client: upper,
        namespace: cfg.summaryNamespace,
        nodeName: cfg.nodeName,
        summary: () => provider.schedulingSummary(),
        onPublished: (s) => provider.schedulingSummaryPublished(s),
        minIntervalMs: 2000,
        fence,
        log: log.child({ component: 'summary' }),
      });
      const published = await summary.readPublished();
      if (published) provider.restoreSchedulingSummary(published);
      provider.onSummaryChange(() => summary.markDirty());
      loops.push(summary.run(abort.signal));
    }
    return {
      boundPods: () => pods.boundPods(),
      queueDepth: () => pods.queueDepth(),
      podsByPhase: () => pods.podsByPhase(),
      resync: () => {
        void pods.resync(abort.signal);
        nodes.markDirty();
      },
      loops,
      stop: () => pods.stop(),
    };
  }

  // One kubelet API for the process: with pools, every pool node publishes the same endpoint, and
  // logs/exec/attach/port-forward find the pod by name whichever pool node it is bound to.
  const auth = new KubeletAuth({ upper, nodeName: cfg.nodeName, anonymous: cfg.anonymousAuth });
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
  onRegain.push(() => served.resync());
  let kubelet: KubeletServer | undefined;
  // The kubelet API starts once its certificate is there (a CSR may wait for approval); pods run meanwhile.
  const servingCertOptions = {
    mode: cfg.servingCert,
    certFile: cfg.tlsCertFile,
    keyFile: cfg.tlsPrivateKeyFile,
    certDir: cfg.certDir,
    nodeName: cfg.nodeName,
    nodeIP: cfg.nodeIP,
    upper,
    log,
  };
  const kubeletStarted = obtainServingCert({ ...servingCertOptions, signal: abort.signal })
    .then(async (tls) => {
      log.info({ source: tls.source }, 'kubelet serving certificate ready');
      kubelet = new KubeletServer({
        port: cfg.kubeletPort,
        host: cfg.kubeletBindAddress,
        tls: { cert: tls.cert, key: tls.key, clientCA },
        auth,
        provider,
        pods: () => served.boundPods(),
        metrics,
        // A replica without the lease may not open exec/attach/port-forward into the lower cluster.
        mutationsRefusedBecause: () => fence.closedReason,
        log: log.child({ component: 'kubelet-api' }),
      });
      await kubelet.start();
      const server = kubelet;
      // A CSR-issued certificate is renewed before it expires; the client CA is followed unless pinned by file.
      if (cfg.servingCert === 'csr')
        void rotateServingCert(
          tls,
          {
            renew: (signal) => obtainServingCert({ ...servingCertOptions, signal, renew: true }),
            apply: (c) => server.setCertificate(c.cert, c.key),
            log: log.child({ component: 'serving-cert' }),
          },
          abort.signal,
        );
      if (!cfg.clientCAFile)
        void followClientCA(upper, clientCA, (ca) => server.setClientCA(ca), log.child({ component: 'client-ca' }), abort.signal);
    })
    .catch((e: Error) => {
      if (abort.signal.aborted) return;
      log.error({ err: e.message }, 'kubelet API not started: logs, exec, attach and port-forward are unavailable on this node');
    });
  // Ready (as leader) once every loop runs; keepLeading switches the role on later losses.
  if (fence.isOpen) role = 'leader';
  const untilAborted = new Promise<void>((resolve) => abort.signal.addEventListener('abort', () => resolve(), { once: true }));
  const loops = served.loops.length ? Promise.all(served.loops) : untilAborted;
  const done = Promise.race([loops, ...(leadership ? [leadership] : [])]).then(() => undefined);
  return {
    done,
    async stop() {
      role = 'stopping';
      healthServer?.close();
      // Hand the lease over first, so a standby takes over at once instead of after the lease expires
      // (the loops and the kubelet API's streams may take longer to wind down than a SIGTERM grace
      // allows). The fence stops every further write first. A renewal still in flight cannot take the
      // lease back: renewal and release both replace the Lease at the resourceVersion they read.
      fence.close('this replica is stopping');
      await elector?.release();
      abort.abort();
      await done.catch(() => undefined);
      await kubeletStarted;
      await kubelet?.stop();
      await served.stop();
      await provider.stop();
    },
  };
}

/** What the process serves in the upper cluster: one virtual node, or a NodeSet of pool nodes. */
interface ServedNodes {
  boundPods(): Pod[];
  queueDepth(): number;
  podsByPhase(): Map<string, number>;
  /** After leadership was regained: resync pods, post status. */
  resync(): void;
  /** Loops whose end ends the process (empty: it runs until stopped). */
  loops: Array<Promise<unknown>>;
  stop(): Promise<void>;
}
