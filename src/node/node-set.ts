// Serves several virtual nodes from one process (node pools): for each node the provider backs, its own
// Node registration + status, Lease, pod controller and scheduling summary; nodes are started and
// stopped as the provider's set changes, and a node that goes is deleted from the upper cluster (its
// pods are then handled by the upper cluster as pods of a vanished node). Level-triggered: reconcile()
// compares the wanted set with the running one, and stale nodes of this fedlet are removed at start.
import type { Logger } from 'pino';
import type { FedletConfig } from '../config.js';
import { isNotFound, type KubeApi } from '../kube/client.js';
import type { WriteFence } from '../kube/fence.js';
import type { Node, Pod } from '../kube/types.js';
import type { EventRecorder } from '../events.js';
import type { VirtualNodeSpec } from '../provider.js';
import { LABEL_CLUSTER, LABEL_POOL } from '../labels.js';
import { ServedNode } from './served-node.js';
import { summaryConfigMapName } from '../scheduling/summary.js';

export interface NodeSetOptions {
  upper: KubeApi;
  /** The client a node's Lease renewals and status posts use (its heartbeat); default upper. */
  heartbeat?: (node: string) => KubeApi;
  /** The client a node's pod status writes and final deletions use (the node's identity); default upper. */
  nodeClient?: (node: string) => KubeApi;
  config: FedletConfig;
  fence: WriteFence;
  events: EventRecorder;
  /** The nodes to serve now. */
  wanted: () => VirtualNodeSpec[];
  observe?: (ms: number, ok: boolean) => void;
  log: Logger;
}

interface Served {
  spec: VirtualNodeSpec;
  node: ServedNode;
}

export class NodeSet {
  private readonly served = new Map<string, Served>();
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly o: NodeSetOptions) {}

  /** Serves the wanted nodes and removes this fedlet's nodes that are not wanted (left by an earlier run). */
  async start(): Promise<void> {
    await this.reconcile();
    await this.removeStale();
  }

  /** Brings the served set in line with the wanted one; calls are serialised. */
  reconcile(): Promise<void> {
    this.chain = this.chain
      .then(() => this.reconcileNow())
      .catch((e: Error) => {
        this.o.log.warn({ err: e.message }, 'updating the set of pool nodes failed; retrying');
        if (!this.stopped) setTimeout(() => void this.reconcile(), 2000).unref();
      });
    return this.chain;
  }

  private async reconcileNow(): Promise<void> {
    if (this.stopped) return;
    const wanted = new Map(this.o.wanted().map((s) => [s.name, s]));
    for (const [name, s] of this.served)
      if (wanted.get(name)?.provider !== s.spec.provider) {
        await this.retire(s);
        this.served.delete(name);
      }
    for (const [name, spec] of wanted) if (!this.served.has(name)) this.served.set(name, await this.serve(spec));
  }

  private async serve(spec: VirtualNodeSpec): Promise<Served> {
    const log = this.o.log.child({ node: spec.name, pool: spec.pool });
    const node = await ServedNode.start({
      upper: this.o.upper,
      config: this.o.config,
      name: spec.name,
      provider: spec.provider,
      heartbeat: this.o.heartbeat?.(spec.name),
      nodeClient: this.o.nodeClient?.(spec.name),
      fence: this.o.fence,
      events: this.o.events,
      observe: this.o.observe,
      log,
    });
    log.info('serving pool node');
    return { spec, node };
  }

  /** Stops a node's controllers and deletes its Node and summary (the Lease goes with the Node). */
  private async retire(s: Served): Promise<void> {
    await s.node.stop();
    await this.deleteNode(s.spec.name);
    this.o.log.info({ node: s.spec.name, pool: s.spec.pool }, 'pool is gone: deleted its virtual node');
  }

  private async deleteNode(name: string): Promise<void> {
    for (const path of [
      `/api/v1/nodes/${name}`,
      `/api/v1/namespaces/${this.o.config.summaryNamespace}/configmaps/${summaryConfigMapName(name)}`,
    ])
      try {
        await this.o.upper.delete(path);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
  }

  /**
   * Nodes of this fedlet's cluster that it does not serve now: pool nodes of pools that went while it was
   * down, and the single node of a run without pools (`<node name>` itself).
   */
  private async removeStale(): Promise<void> {
    const base = this.o.config.nodeName;
    const list = await this.o.upper.get<{ items: Node[] }>('/api/v1/nodes', {
      query: { labelSelector: `${LABEL_CLUSTER}=${this.o.config.clusterName}` },
    });
    for (const n of list.items) {
      const name = n.metadata.name ?? '';
      const ours = name === base || (name.startsWith(`${base}-`) && n.metadata.labels?.[LABEL_POOL] !== undefined);
      if (!ours || this.served.has(name)) continue;
      await this.deleteNode(name);
      this.o.log.info({ node: name }, 'deleted a virtual node this fedlet no longer serves');
    }
  }

  /** Upper pods bound to any served node. */
  boundPods(): Pod[] {
    return [...this.served.values()].flatMap((s) => s.node.pods.boundPods());
  }
  /** Every served node's upper pods, or undefined while some node's pod cache is not synced. */
  allBoundPods(): Pod[] | undefined {
    const all = [...this.served.values()];
    if (!all.every((s) => s.node.pods.synced)) return undefined;
    return all.flatMap((s) => s.node.pods.boundPods());
  }
  has(node: string, key: string): boolean {
    return this.served.get(node)?.node.pods.pods.get(key) !== undefined;
  }
  queueDepth(): number {
    return [...this.served.values()].reduce((n, s) => n + s.node.pods.queueDepth(), 0);
  }
  podsByPhase(): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.served.values()) for (const [k, v] of s.node.pods.podsByPhase()) out.set(k, (out.get(k) ?? 0) + v);
    return out;
  }
  /** After leadership was regained: every node resyncs and posts status. */
  resync(signal: AbortSignal): void {
    for (const s of this.served.values()) {
      s.node.resync(signal);
    }
  }
  names(): string[] {
    return [...this.served.keys()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.chain;
    await Promise.all([...this.served.values()].map((s) => s.node.stop()));
  }
}
