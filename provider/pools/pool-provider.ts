// One node pool seen as a Provider: the view of the shared lower provider that backs one pool's virtual
// node. Capacity, labels and the scheduling summary are computed over the pool's lower nodes; lower pods
// are created with the pool's requirements and its label; the pod keys, changes and deletions it answers
// for are the pool's only. Watches, caches and every lower write stay in the one LowerProvider.
import type { Logger } from 'pino';
import type { Pod, PodStatus } from '../../src/kube/types.js';
import type { GarbageOutcome, NodeProvider, PodEnsureResult, PodEvent, Provider, ProviderNodeState } from '../../src/provider.js';
import type { ClusterSummary } from '../../src/scheduling/summary.js';
import type { BounceBack } from '../workload/bounce-back.js';
import type { Pool } from './pools.js';
import type { LowerNode } from '../node/capacity.js';
import type { LowerPods } from '../workload/pods.js';
import { LABEL_POOL } from '../../src/labels.js';

/** What a pool view needs of the shared lower provider (LowerProvider implements it). */
export interface PoolBacking extends Pick<Provider, 'backendReachable' | 'onPodChange' | 'onPodEvent' | 'podCachesSynced'> {
  readonly podsOps: LowerPods;
  collectPoolGarbage(livePods: () => Pod[] | undefined): Promise<GarbageOutcome>;
  lowerNodes(): Map<string, LowerNode>;
  nodeStateOf(nodes: LowerNode[], extraLabels: Record<string, string>, what: string): ProviderNodeState;
  summaryOf(node: string, nodes: LowerNode[], avoid: Record<string, string>): ClusterSummary;
  poolNodeLabels(pool: Pool): Record<string, string>;
  poolVirtualNodeLabels(node: string, state: ProviderNodeState): Record<string, string>;
}

/** What the core's caches say about upper pods bound to pool nodes (pool mode). */
export interface PoolUpperPods {
  /** Whether the upper pod `key` is bound to the virtual node `node`. */
  has(node: string, key: string): boolean;
  /** Every upper pod bound to any pool node; undefined while some pool node's cache is not synced. */
  all(): Pod[] | undefined;
}

export interface PoolContext {
  clusterName: string;
  nodeName: (pool: string) => string;
  upperPods?: PoolUpperPods;
  bounce: () => BounceBack;
  log: Logger;
}

export class PoolProvider implements NodeProvider {
  readonly nodeName: string;
  private state: ProviderNodeState;
  private readonly listeners: Array<() => void> = [];
  private readonly summaryListeners: Array<() => void> = [];
  private readonly bounce: BounceBack;
  private closed = false;

  constructor(
    private readonly lp: PoolBacking,
    private pool: Pool,
    private readonly ctx: PoolContext,
  ) {
    this.nodeName = ctx.nodeName(pool.name);
    this.bounce = ctx.bounce();
    this.state = this.compute();
  }

  get poolName(): string {
    return this.pool.name;
  }
  setPool(p: Pool): void {
    this.pool = p;
  }
  /** The pool is gone: its listeners (registered on the shared provider for good) hear nothing more. */
  close(): void {
    this.closed = true;
  }

  /** Recomputes the node state; listeners hear of a change, summary listeners of every recompute. */
  recompute(): void {
    if (this.closed) return;
    for (const l of this.summaryListeners) l();
    const next = this.compute();
    if (JSON.stringify(next) === JSON.stringify(this.state)) return;
    this.state = next;
    for (const l of this.listeners) l();
  }

  private members() {
    const all = this.lp.lowerNodes();
    return this.pool.nodes.map((n) => all.get(n)).filter((n) => n !== undefined);
  }

  private compute(): ProviderNodeState {
    return this.lp.nodeStateOf(
      this.members(),
      { ...this.lp.poolNodeLabels(this.pool), [LABEL_POOL]: this.pool.name },
      `pool ${this.pool.name} of lower cluster ${this.ctx.clusterName}`,
    );
  }

  /** The lower provider starts once for every pool (fedlet.ts); a pool view has nothing of its own to run. */
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  nodeState(): ProviderNodeState {
    return this.state;
  }
  schedulingSummary(): ClusterSummary {
    return this.lp.summaryOf(this.nodeName, this.members(), this.bounce.live());
  }
  restoreSchedulingSummary(published: ClusterSummary): void {
    this.bounce.restore(published);
  }
  schedulingSummaryPublished(published: ClusterSummary): void {
    this.bounce.markPublished(published);
  }
  onNodeStateChange(listener: () => void): void {
    this.listeners.push(listener);
  }
  onSummaryChange(listener: () => void): void {
    this.summaryListeners.push(listener);
  }
  backendReachable(): boolean {
    return this.lp.backendReachable();
  }

  ensurePod(pod: Pod): Promise<PodEnsureResult> {
    return this.lp.podsOps.ensure(pod, {
      name: this.pool.name,
      requirements: this.pool.requirements,
      virtualNodeLabels: this.lp.poolVirtualNodeLabels(this.nodeName, this.state),
      bounce: this.bounce,
    });
  }
  /** A lower pod placed through another pool is not ours to delete (a pod of the same name bound elsewhere). */
  async deletePod(upperKey: string, gracePeriodSeconds: number | undefined): Promise<boolean> {
    if (!this.mine(upperKey, false)) return true;
    return this.lp.podsOps.delete(upperKey, gracePeriodSeconds);
  }
  podStatus(pod: Pod): PodStatus | undefined {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    return this.mine(key, false) ? this.lp.podsOps.status(pod) : undefined;
  }
  knownPodKeys(): string[] {
    return this.lp.podsOps.knownUpperKeys(this.pool.name);
  }
  /** Dependencies are shared by every pool's pods: collected against all of them, once all are known. */
  collectGarbage(): Promise<GarbageOutcome> {
    return this.lp.collectPoolGarbage(() => this.ctx.upperPods?.all());
  }
  onPodChange(listener: (upperKey: string) => void): void {
    this.lp.onPodChange((key) => {
      if (this.mine(key, true)) listener(key);
    });
  }
  onPodEvent(listener: (e: PodEvent) => void): void {
    this.lp.onPodEvent((e) => {
      if (this.mine(e.upperKey, true)) listener(e);
    });
  }
  podCachesSynced(signal: AbortSignal): Promise<void> {
    return this.lp.podCachesSynced(signal);
  }

  /**
   * Whether an upper key is this pool's: its lower pod carries our pool label, or it has no lower pod
   * (or one of no pool) and the upper pod is bound to our node. `strict`: a key with no lower pod counts
   * only if the upper pod is bound here (so a change is never handed to a node that would delete it).
   */
  private mine(key: string, strict: boolean): boolean {
    if (this.closed) return false;
    const pool = this.lp.podsOps.poolOf(key);
    if (pool === this.pool.name) return true;
    if (typeof pool === 'string') return false;
    if (!strict) return true;
    return this.ctx.upperPods?.has(this.nodeName, key) ?? false;
  }
}
