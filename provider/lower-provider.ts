// The lower-cluster provider: watches the lower cluster's nodes and pods and turns them into the
// virtual node's state (capacity, labels, readiness). Pod placement arrives in later modules.
import type { Logger } from 'pino';
import type { KubeClient } from '../src/kube/client.js';
import { Informer } from '../src/kube/informer.js';
import type { KubeObject, Node, Pod, PodStatus } from '../src/kube/types.js';
import type {
  GarbageOutcome,
  LogOptions,
  LogStream,
  PodEnsureResult,
  PodEvent,
  Provider,
  ProviderNodeState,
  StreamKind,
  StreamParams,
  UpgradeOutcome,
} from '../src/provider.js';
import { InvalidInputError, NotFoundError } from '../src/errors.js';
import { lowerLogs, lowerUpgrade, type LowerTarget } from './workload/streams.js';
import { LowerPods } from './workload/pods.js';
import { LowerStats } from './node/stats.js';
import { buildSummary } from './node/summary.js';
import type { ClusterSummary } from '../src/scheduling/summary.js';
import { BounceBack } from './workload/bounce-back.js';
import { IpRemapper, parseRemapPairs } from './workload/remap.js';
import { ConfigError, parseHostPort, parseNamespaceList, type FedletConfig } from '../src/config.js';
import { desiredLabels } from '../src/node/node-object.js';
import { validateNamespaceTemplate } from './namespaces/namespace-map.js';
import {
  ANNOTATION_RESOURCE_METRICS_PATH,
  LABEL_ARCH,
  LABEL_UPPER_UID,
  LABEL_ORIGIN,
  LABEL_OS,
  LABEL_REGION,
  LABEL_ZONE,
} from '../src/labels.js';
import { fromMilli, toMilli } from '../src/util/quantity.js';
import {
  agreedLabel,
  freeCapacity,
  freePerNode,
  schedulable,
  withinFloor,
  type LowerNode,
  type LowerPod,
} from './node/capacity.js';
import { podRequests, type PodSpecLike } from '../src/util/pod-requests.js';
import { LowerHealth } from './node/lower-health.js';
import type { ServiceAccountOptions } from './configuration/service-account.js';
import { Reflection } from './exposition/reflection.js';
import { LowerClaims } from './storage/claims.js';
import { LowerNamespaces } from './namespaces/lower-namespaces.js';
import type { EventRecorder } from '../src/events.js';
import { NamespaceCollector } from './namespaces/namespace-gc.js';
import { NamespaceRbac } from './namespaces/namespace-rbac.js';
import { OwnedNamespaces } from './namespaces/owned-namespaces.js';
import type { UpperReader } from './configuration/node-reads.js';
import { LowerClasses } from './workload/lower-classes.js';
import { partitionPools, poolConfig, poolLabels, poolNodeName, poolsEnabled, type Pool, type PoolConfig } from './pools/pools.js';
import { PoolProvider, type PoolUpperPods } from './pools/pool-provider.js';
import type { VirtualNodeSpec } from '../src/provider.js';
import { tenancyPolicy, type TenancyPolicy } from './tenancy.js';
import { matches } from '../src/scheduling/lower-affinity.js';

interface RawPod extends KubeObject {
  spec?: PodSpecLike & { nodeName?: string };
  status?: { phase?: string };
}
type CachedNode = KubeObject & { info: LowerNode };
type CachedPod = KubeObject & { info: LowerPod };

/**
 * What the composition root hands the provider besides the configuration: the clients, the process's one
 * event recorder, and the core's answers the provider asks for.
 */
export interface LowerProviderDeps {
  lower: KubeClient;
  /** Upper cluster client: reads the ConfigMaps/Secrets pods reference, writes PVs and events. */
  upper: KubeClient;
  events: EventRecorder;
  /** Who requests pods' upper tokens: a virtual node's own client, or why it cannot yet (undefined: fedlet's). */
  tokenClient?: ServiceAccountOptions['tokenClient'];
  /** The upper pods bound to the pool nodes, as the core's caches hold them (pool mode). */
  upperPods?: PoolUpperPods;
  /** Reads what pods name (ConfigMaps, Secrets) as the virtual node they are bound to (node-reads.ts). */
  upperReader?: UpperReader;
  log: Logger;
}

/** The settings the provider's families read, derived once from the configuration (and validated). */
interface Settings {
  cfg: FedletConfig;
  /** How far a tenant's pod may reach below (docs/security.md). */
  tenancy: TenancyPolicy;
  remapper: IpRemapper;
  pools?: PoolConfig;
  serviceAccounts: ServiceAccountOptions;
}

function settingsOf(cfg: FedletConfig, deps: LowerProviderDeps): Settings {
  try {
    validateNamespaceTemplate(cfg.namespaceTemplate);
    const pools = poolConfig(cfg.poolGroupBy, cfg.pools, cfg.nodeName);
    return {
      cfg,
      tenancy: tenancyPolicy(cfg),
      remapper: new IpRemapper(cfg.podIPRemap ? parseRemapPairs(cfg.podIPRemap) : []),
      pools: poolsEnabled(pools) ? pools : undefined,
      serviceAccounts: {
        upperAPIServer: cfg.upperAPIServerAddress ? parseHostPort(cfg.upperAPIServerAddress) : undefined,
        lowerIdentityNamespaces: new Set(parseNamespaceList(cfg.lowerIdentityNamespaces)),
        tokenClient: deps.tokenClient,
      },
    };
  } catch (e) {
    throw e instanceof ConfigError ? e : new ConfigError((e as Error).message);
  }
}

export function nodeInfo(n: Node): LowerNode {
  return {
    name: n.metadata?.name ?? '',
    ready: n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    unschedulable: n.spec?.unschedulable ?? false,
    allocatable: toMilli(n.status?.allocatable),
    labels: n.metadata?.labels ?? {},
    taints: n.spec?.taints ?? [],
    ...(n.metadata?.annotations?.[ANNOTATION_RESOURCE_METRICS_PATH]
      ? { resourceMetricsPath: n.metadata.annotations[ANNOTATION_RESOURCE_METRICS_PATH] }
      : {}),
  };
}

export class LowerProvider implements Provider {
  readonly nodes: Informer<Node, CachedNode>;
  readonly pods: Informer<RawPod, CachedPod>;
  readonly health: LowerHealth;
  private readonly listeners: Array<() => void> = [];
  private readonly summaryListeners: Array<() => void> = [];
  private timer?: NodeJS.Timeout;
  private abort = new AbortController();
  private state: ProviderNodeState;
  private healthLoop?: Promise<void>;
  readonly podsOps: LowerPods;
  private readonly bounce: BounceBack;
  readonly claims: LowerClaims;
  private readonly namespaces: LowerNamespaces;
  private readonly namespaceGc: NamespaceCollector;
  private readonly owned: OwnedNamespaces;
  private readonly stats: LowerStats;
  readonly reflection: Reflection;
  readonly classes: LowerClasses;
  /** Pool mode: the current pools and the provider view of each (created and dropped as pools come and go). */
  private poolList: Pool[] = [];
  private readonly poolViews = new Map<string, PoolProvider>();
  private readonly poolSetListeners: Array<() => void> = [];
  private readonly tenancy: TenancyPolicy;

  private readonly s: Settings;
  private readonly log: Logger;

  /** Composes the provider's families from one configuration; a bad setting is a ConfigError. */
  constructor(
    private readonly cfg: FedletConfig,
    private readonly deps: LowerProviderDeps,
  ) {
    const s = (this.s = settingsOf(cfg, deps));
    const log = (this.log = deps.log.child({ component: 'lower-provider', cluster: cfg.clusterName }));
    this.nodes = new Informer<Node, CachedNode>({
      client: deps.lower,
      path: '/api/v1/nodes',
      log,
      transform: (n) => ({
        metadata: { name: n.metadata?.name, resourceVersion: n.metadata?.resourceVersion },
        info: nodeInfo(n),
      }),
    });
    this.pods = new Informer<RawPod, CachedPod>({
      client: deps.lower,
      path: '/api/v1/pods',
      // Terminal pods hold no resources; the server filters them out and reports a DELETED when a pod ends.
      fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed',
      // Pods this fedlet made are counted upstairs already (never in lower capacity), and LowerPods
      // caches them: not listed here, neither is every status change of theirs delivered twice.
      labelSelector: `${LABEL_ORIGIN}!=${cfg.nodeName}`,
      log,
      transform: (p) => ({
        metadata: { name: p.metadata?.name, namespace: p.metadata?.namespace, resourceVersion: p.metadata?.resourceVersion },
        info: { nodeName: p.spec?.nodeName, requests: podRequests(p.spec), managed: false },
      }),
    });
    this.bounce = new BounceBack({
      bounceAfterSeconds: cfg.bounceAfterSeconds,
      avoidAfterBounceSeconds: cfg.avoidAfterBounceSeconds,
      clusterName: cfg.clusterName,
      onChange: () => this.scheduleRecompute(),
      log,
    });
    this.namespaceGc = new NamespaceCollector({
      lower: deps.lower,
      nodeName: cfg.nodeName,
      graceMs: cfg.lowerNamespaceGraceSeconds * 1000,
      log,
    });
    const tenancy = (this.tenancy = s.tenancy);
    // fedlet's rights in a lower namespace come with the namespace (a RoleBinding it makes there).
    const rbac = new NamespaceRbac({ lower: deps.lower, nodeName: cfg.nodeName, role: cfg.lowerNamespaceRole, log });
    this.owned = new OwnedNamespaces({
      lower: deps.lower,
      nodeName: cfg.nodeName,
      clusterName: cfg.clusterName,
      granted: tenancy.grantedNamespaces,
      rbac,
      log,
    });
    this.namespaces = new LowerNamespaces({
      lower: deps.lower,
      upper: deps.upper,
      nodeName: cfg.nodeName,
      clusterName: cfg.clusterName,
      granted: tenancy.grantedNamespaces,
      podSecurityFloor: tenancy.podSecurityFloor,
      rbac,
      log,
    });
    this.claims = new LowerClaims({
      upper: deps.upper,
      lower: deps.lower,
      nodeName: cfg.nodeName,
      clusterName: cfg.clusterName,
      storageClassMap: cfg.storageClassMap ?? {},
      lowerNamespaceOf: (ns) => this.podsOps.lowerNamespaceOf(ns),
      namespaces: this.namespaces,
      events: deps.events,
      onSummaryChange: () => this.scheduleRecompute(),
      log,
    });
    this.classes = new LowerClasses({
      lower: deps.lower,
      clusterName: cfg.clusterName,
      maps: { runtimeClassName: cfg.runtimeClassMap ?? {}, priorityClassName: cfg.priorityClassMap ?? {} },
      log,
    });
    this.podsOps = new LowerPods({
      classes: this.classes,
      namespaces: this.namespaces,
      readable: this.owned,
      upperReader: deps.upperReader,
      claims: this.claims,
      upper: deps.upper,
      lower: deps.lower,
      clusterName: cfg.clusterName,
      nodeName: cfg.nodeName,
      nodeIP: cfg.nodeIP,
      namespaceTemplate: cfg.namespaceTemplate,
      remapper: s.remapper,
      allowDaemonSetPods: cfg.allowDaemonSetPods,
      bounce: this.bounce,
      failRefusedAfterSeconds: cfg.bounceAfterSeconds,
      serviceAccounts: s.serviceAccounts,
      virtualNodeLabels: () => this.poolVirtualNodeLabels(cfg.nodeName, this.nodeState()),
      tenancy,
      offeredLowerNodes: (pool) =>
        this.offered()
          .filter((n) => schedulable(n) && (pool?.requirements ?? []).every((r) => matches(r, n.labels)))
          .map((n) => n.labels),
      log,
    });
    this.reflection = new Reflection({
      upper: deps.upper,
      lower: deps.lower,
      nodeName: cfg.nodeName,
      clusterName: cfg.clusterName,
      namespaceTemplate: cfg.namespaceTemplate,
      lowerNamespaceOf: (ns) => this.podsOps.lowerNamespaceOf(ns),
      lowerPods: this.podsOps.lowerPods,
      serviceTypes: cfg.serviceTypes,
      serviceEndpoints: cfg.serviceEndpoints,
      events: deps.events,
      log,
    });
    this.stats = new LowerStats({
      lower: deps.lower,
      nodeName: cfg.nodeName,
      lowerPods: () => this.podsOps.lowerPods.list(),
      upperUid: (key) => this.podsOps.lowerPodFor(key)?.metadata.labels?.[LABEL_UPPER_UID],
      metricsPathOf: (node) => this.nodes.get(node)?.info.resourceMetricsPath,
      log,
    });
    this.health = new LowerHealth({
      client: deps.lower,
      clusterName: cfg.clusterName,
      intervalMs: cfg.lowerHealthIntervalSeconds * 1000,
      failureThreshold: cfg.lowerHealthFailureThreshold,
      log,
    });
    this.state = this.compute();
    const changed = () => this.scheduleRecompute();
    this.nodes.addHandlers({ onAdd: changed, onUpdate: changed, onDelete: changed });
    this.pods.addHandlers({ onAdd: changed, onUpdate: changed, onDelete: changed });
    this.health.onChange(() => {
      this.recompute(); // readiness flips are reported at once
      // Back from an outage: look at every lower pod again (orphans of pods deleted meanwhile).
      if (this.health.state.healthy) this.podsOps.resyncAll();
    });
  }

  async start(signal: AbortSignal): Promise<void> {
    signal.addEventListener('abort', () => this.abort.abort(), { once: true });
    this.nodes.start();
    this.pods.start();
    this.owned.start(signal);
    this.podsOps.start();
    this.reflection.start(this.abort.signal);
    this.claims.start();
    this.classes.start();
    await this.health.probe();
    this.healthLoop = this.health.run(this.abort.signal);
    await Promise.all([this.nodes.waitForSync(signal), this.pods.waitForSync(signal)]);
    this.recompute();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.timer);
    await Promise.all([
      this.nodes.stop(),
      this.pods.stop(),
      this.owned.stop(),
      this.podsOps.stop(),
      this.reflection.stop(),
      this.claims.stop(),
      this.classes.stop(),
      this.healthLoop,
    ]);
  }

  ensurePod(pod: Pod): Promise<PodEnsureResult> {
    return this.podsOps.ensure(pod);
  }
  deletePod(upperKey: string, gracePeriodSeconds: number | undefined): Promise<boolean> {
    return this.podsOps.delete(upperKey, gracePeriodSeconds);
  }
  podStatus(pod: Pod): PodStatus | undefined {
    return this.podsOps.status(pod);
  }
  knownPodKeys(): string[] {
    return this.podsOps.knownUpperKeys();
  }
  async collectGarbage(livePods: Pod[]): Promise<GarbageOutcome> {
    const n = await this.podsOps.deps.collectGarbage(livePods, (ns) => this.podsOps.lowerNamespaceOf(ns));
    if (n) this.log.info({ deleted: n }, 'removed lower ConfigMaps/Secrets no pod references');
    const t = await this.podsOps.tokens.collectGarbage(livePods);
    if (t) this.log.info({ deleted: t }, 'removed service-account token Secrets of pods that are gone');
    const wanted = new Set(livePods.map((p) => this.podsOps.lowerNamespaceOf(p.metadata.namespace!)));
    const { deleted, againAfterMs } = await this.namespaceGc.collect(wanted);
    for (const ns of deleted) this.namespaces.forget(ns);
    return againAfterMs !== undefined ? { againAfterMs } : {};
  }
  /**
   * Pool mode: garbage collection for every pool node at once. Calls while one runs join it and cause
   * one more run after it (pool nodes start together; one pass serves them all).
   */
  collectPoolGarbage(livePods: () => Pod[] | undefined): Promise<GarbageOutcome> {
    if (this.gcRunning) {
      this.gcAgain = true;
      return this.gcRunning;
    }
    const run = async () => {
      let outcome: GarbageOutcome;
      do {
        this.gcAgain = false;
        const all = livePods();
        // Pool nodes start together and sync one by one: not a failure, just not yet (no warning, and
        // sooner than a failed run's retry).
        if (!all) return { againAfterMs: 2000 };
        outcome = await this.collectGarbage(all);
      } while (this.gcAgain);
      return outcome;
    };
    this.gcRunning = run().finally(() => (this.gcRunning = undefined));
    return this.gcRunning;
  }
  private gcRunning?: Promise<GarbageOutcome>;
  private gcAgain = false;

  onPodChange(listener: (upperKey: string) => void): void {
    this.podsOps.onChange(listener);
  }
  onPodEvent(listener: (e: PodEvent) => void): void {
    this.podsOps.onEvent(listener);
  }
  /** The lower pod behind an upper pod, or NotFoundError naming both. */
  lowerTarget(namespace: string, name: string): LowerTarget {
    const p = this.podsOps.lowerPodFor(`${namespace}/${name}`);
    const refused = p ? undefined : this.podsOps.rejections.lastMessage(`${namespace}/${name}`);
    // Like a kubelet asked about a container that never started: 400 with the reason, not a bare 404.
    if (refused) throw new InvalidInputError(`pod ${namespace}/${name} has not started: ${refused}`);
    if (!p?.metadata.name || !p.metadata.namespace)
      throw new NotFoundError(
        `pod ${namespace}/${name} is not running on virtual node ${this.cfg.nodeName} (no pod for it in lower cluster ${this.cfg.clusterName})`,
      );
    return { namespace: p.metadata.namespace, name: p.metadata.name };
  }
  statsSummary(): Promise<unknown> {
    return this.stats.summary();
  }
  resourceMetrics(): Promise<string> {
    return this.stats.resourceMetrics();
  }
  podLogs(namespace: string, name: string, container: string, opts: LogOptions, signal: AbortSignal): Promise<LogStream> {
    return lowerLogs(this.deps.lower, this.lowerTarget(namespace, name), container, opts, signal);
  }
  openPodStream(
    kind: StreamKind,
    namespace: string,
    name: string,
    params: StreamParams,
    upgrade: string,
    protocols: string[],
    signal: AbortSignal,
  ): Promise<UpgradeOutcome> {
    return lowerUpgrade(this.deps.lower, kind, this.lowerTarget(namespace, name), params, upgrade, protocols, signal);
  }
  podCachesSynced(signal: AbortSignal): Promise<void> {
    return this.podsOps.waitForSync(signal);
  }

  schedulingSummary(): ClusterSummary {
    const nodes = this.offered();
    const storage = this.claims.summary();
    const summary = buildSummary(
      this.cfg.nodeName,
      this.cfg.clusterName,
      nodes,
      freePerNode(
        nodes,
        this.pods.list().map((p) => p.info),
      ),
      this.bounce.live(),
    );
    return storage ? { ...summary, storage } : summary;
  }

  restoreSchedulingSummary(published: ClusterSummary): void {
    this.bounce.restore(published);
  }
  schedulingSummaryPublished(published: ClusterSummary): void {
    this.bounce.markPublished(published);
  }

  nodeState(): ProviderNodeState {
    return this.state;
  }
  backendReachable(): boolean {
    return this.health.state.healthy;
  }
  onNodeStateChange(listener: () => void): void {
    this.listeners.push(listener);
  }
  /** Called (debounced) whenever the scheduling summary may have changed. */
  onSummaryChange(listener: () => void): void {
    this.summaryListeners.push(listener);
  }

  private scheduleRecompute(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.recompute();
    }, this.cfg.capacityDebounceMs);
  }

  private recompute(): void {
    if (this.s.pools) this.repartition();
    for (const l of this.summaryListeners) l();
    const next = this.compute();
    if (JSON.stringify(next) === JSON.stringify(this.state)) return;
    this.state = next;
    for (const l of this.listeners) l();
  }

  /** Pool mode: pools from the one node cache; views follow; pods of vanished pools are removed below. */
  private repartition(): void {
    if (!this.nodes.hasSynced) return;
    const next = partitionPools(this.offered(), this.s.pools!);
    const changed =
      JSON.stringify(next.map((p) => [p.name, p.requirements])) !==
      JSON.stringify(this.poolList.map((p) => [p.name, p.requirements]));
    this.poolList = next;
    for (const p of next) {
      const v = this.poolViews.get(p.name);
      if (v) v.setPool(p);
      else this.poolViews.set(p.name, new PoolProvider(this, p, this.poolContext()));
    }
    for (const [name, view] of this.poolViews)
      if (!next.some((p) => p.name === name)) {
        view.close();
        this.poolViews.delete(name);
      }
    for (const v of this.poolViews.values()) v.recompute();
    if (changed) for (const l of this.poolSetListeners) l();
    this.sweepVanishedPools();
  }

  /**
   * Lower pods of a pool that no longer exists (or of no pool, from before pools were configured) belong
   * to a virtual node that is gone: they are removed, as pods of a vanished node are.
   */
  private sweepVanishedPools(): void {
    if (!this.health.state.healthy || !this.podsOps.lowerPods.hasSynced) return;
    for (const key of this.podsOps.knownUpperKeys()) {
      const pool = this.podsOps.poolOf(key);
      if (pool !== undefined && (pool === null || !this.poolViews.has(pool)))
        void this.podsOps.delete(key, undefined).catch((e: Error) => {
          this.log.warn({ pod: key, err: e.message }, 'removing the lower pod of a vanished pool failed; will retry');
        });
    }
  }

  private poolContext(): ConstructorParameters<typeof PoolProvider>[2] {
    return {
      clusterName: this.cfg.clusterName,
      nodeName: (pool) => poolNodeName(this.cfg.nodeName, pool),
      upperPods: this.deps.upperPods,
      bounce: () =>
        new BounceBack({
          bounceAfterSeconds: this.cfg.bounceAfterSeconds,
          avoidAfterBounceSeconds: this.cfg.avoidAfterBounceSeconds,
          clusterName: this.cfg.clusterName,
          onChange: () => this.scheduleRecompute(),
          log: this.log,
        }),
      log: this.log,
    };
  }

  /** Pool mode: the virtual nodes to serve now (one per pool); undefined without pools (one node). */
  /** Whether node pools are configured: then the provider backs one virtual node per pool. */
  get pooled(): boolean {
    return this.s.pools !== undefined;
  }

  virtualNodes(): VirtualNodeSpec[] | undefined {
    if (!this.s.pools) return undefined;
    return this.poolList.map((p) => {
      const view = this.poolViews.get(p.name)!;
      return { name: view.nodeName, pool: p.name, provider: view };
    });
  }
  onVirtualNodesChange(listener: () => void): void {
    this.poolSetListeners.push(listener);
  }

  /** State of the virtual node backed by `nodes` (all lower nodes, or one pool's). */
  nodeStateOf(
    nodes: LowerNode[],
    extraLabels?: Record<string, string>,
    what = `lower cluster ${this.cfg.clusterName}`,
  ): ProviderNodeState {
    const pods = this.pods.list().map((p) => p.info);
    const h = this.health.state;
    const counted = nodes.filter(schedulable).length;
    const labels: Record<string, string> = { ...extraLabels };
    for (const key of [LABEL_OS, LABEL_ARCH, LABEL_REGION, LABEL_ZONE]) {
      const v = agreedLabel(nodes, key);
      if (v !== undefined) labels[key] = v;
    }
    let condition: ProviderNodeState['condition'];
    if (!h.healthy) condition = { ready: false, reason: 'LowerClusterUnreachable', message: h.message };
    else if (!this.nodes.hasSynced || !this.pods.hasSynced)
      condition = {
        ready: false,
        reason: 'LowerClusterSyncing',
        message: `waiting for the caches of lower cluster ${this.cfg.clusterName}`,
      };
    else
      condition = {
        ready: true,
        reason: 'LowerClusterReady',
        message: `${what} is reachable; ${counted} of ${nodes.length} nodes Ready and schedulable`,
      };
    return { condition, resources: fromMilli(freeCapacity(nodes, pods)), labels };
  }

  /** Scheduling summary of the virtual node `node` backed by `nodes`, with its bounce record. */
  summaryOf(node: string, nodes: LowerNode[], avoid: Record<string, string>): ClusterSummary {
    const storage = this.claims.summary();
    const summary = buildSummary(
      node,
      this.cfg.clusterName,
      nodes,
      freePerNode(
        nodes,
        this.pods.list().map((p) => p.info),
      ),
      avoid,
    );
    return storage ? { ...summary, storage } : summary;
  }

  /** The cached lower nodes by name. */
  lowerNodes(): Map<string, LowerNode> {
    return new Map(this.offered().map((n) => [n.name, n]));
  }

  /** All labels of the virtual node `node` in state `state` (what lower-affinity.ts calls virtual keys). */
  poolVirtualNodeLabels(node: string, state: ProviderNodeState): Record<string, string> {
    return desiredLabels({ ...this.cfg, nodeName: node }, state);
  }

  /** Labels a pool's virtual node carries from its lower nodes. */
  poolNodeLabels(pool: Pool): Record<string, string> {
    return poolLabels(pool, this.lowerNodes());
  }

  private compute(): ProviderNodeState {
    return this.nodeStateOf(this.offered());
  }

  /** The lower nodes the virtual node offers: those meeting the lower-node floor (lowerNodeSelector). */
  private offered(): LowerNode[] {
    return withinFloor(
      this.nodes.list().map((n) => n.info),
      this.tenancy.lowerNodeFloor,
    );
  }
}
