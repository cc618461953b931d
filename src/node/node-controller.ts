// Registers the virtual Node in the upper cluster and keeps its labels, taints and status true to the
// provider's view. Status is posted on every change (coalesced) and at least every status interval;
// only fields fedlet owns are written, so labels, taints and conditions set by others survive.
import type { Logger } from 'pino';
import type { FedletConfig } from '../config.js';
import { isConflict, isNotFound, type KubeApi } from '../kube/client.js';
import type { NodeProvider } from '../provider.js';
import type { Node } from '../kube/types.js';
import { ANNOTATION_MANAGED_LABELS, ANNOTATION_MANAGED_TAINTS } from '../labels.js';
import { Backoff } from '../util/backoff.js';
import { realClock, type Clock } from '../util/clock.js';
import { isNotLeader, type WriteFence } from '../kube/fence.js';
import {
  desiredLabels,
  desiredStatus,
  labelPatch,
  managedTaintIds,
  mergeTaints,
  nodeTaints,
  resourcePatch,
} from './node-object.js';

export interface NodeControllerOptions {
  /** Registration and metadata (labels, taints). */
  client: KubeApi;
  /**
   * Status posts: the node's heartbeat client, whose writes wait behind no one else's (as the kubelet's
   * status and Lease use a client of their own). Default: client.
   */
  statusClient?: KubeApi;
  config: FedletConfig;
  provider: NodeProvider;
  log: Logger;
  clock?: Clock;
  /** Status posts wait while the fence is closed (this replica is not the leader). */
  fence?: WriteFence;
}

export class NodeController {
  private node?: Node;
  private dirty = true;
  private wake?: () => void;
  private readonly clock: Clock;

  constructor(private readonly o: NodeControllerOptions) {
    this.clock = o.clock ?? realClock;
    o.provider.onNodeStateChange(() => this.markDirty());
  }

  get uid(): string | undefined {
    return this.node?.metadata.uid;
  }

  markDirty(): void {
    this.dirty = true;
    this.wake?.();
  }

  private get path(): string {
    return `/api/v1/nodes/${this.o.config.nodeName}`;
  }
  private now(): Date {
    return new Date(this.clock.now());
  }

  /** Creates the Node or brings an existing one's metadata and spec in line. */
  async register(): Promise<void> {
    const cfg = this.o.config;
    const state = this.o.provider.nodeState();
    const labels = desiredLabels(cfg, state);
    let existing: Node | undefined;
    try {
      existing = await this.o.client.get<Node>(this.path);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (!existing) {
      const now = this.now().toISOString();
      const body: Node = {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: cfg.nodeName,
          labels,
          annotations: {
            [ANNOTATION_MANAGED_LABELS]: Object.keys(labels).sort().join(','),
            [ANNOTATION_MANAGED_TAINTS]: managedTaintIds(nodeTaints(cfg)),
          },
        },
        spec: { taints: nodeTaints(cfg).length ? nodeTaints(cfg) : undefined },
        status: desiredStatus(cfg, state, now),
      };
      try {
        this.node = await this.o.client.create<Node>('/api/v1/nodes', body);
        this.o.log.info({ node: cfg.nodeName }, 'registered virtual node');
        this.dirty = true; // status on create may be dropped by admission; post it explicitly
        return;
      } catch (e) {
        if (!isConflict(e)) throw e;
        existing = await this.o.client.get<Node>(this.path);
      }
    }
    await this.syncMetadata(existing, labels);
    this.o.log.info({ node: cfg.nodeName }, 'virtual node exists; updated labels and taints');
  }

  private async syncMetadata(node: Node, labels: Record<string, string>): Promise<void> {
    const cfg = this.o.config;
    const prevLabels = (node.metadata.annotations?.[ANNOTATION_MANAGED_LABELS] ?? '').split(',').filter(Boolean);
    const prevTaints = (node.metadata.annotations?.[ANNOTATION_MANAGED_TAINTS] ?? '').split(',').filter(Boolean);
    const taints = mergeTaints(node.spec?.taints, prevTaints, nodeTaints(cfg));
    const patch = {
      metadata: {
        resourceVersion: node.metadata.resourceVersion,
        labels: labelPatch(node.metadata.labels, prevLabels, labels),
        annotations: {
          [ANNOTATION_MANAGED_LABELS]: Object.keys(labels).sort().join(','),
          [ANNOTATION_MANAGED_TAINTS]: managedTaintIds(nodeTaints(cfg)),
        },
      },
      spec: { taints: taints.length ? taints : null },
    };
    try {
      this.node = await this.o.client.patch<Node>(this.path, patch, 'merge');
    } catch (e) {
      if (!isConflict(e)) throw e;
      return this.syncMetadata(await this.o.client.get<Node>(this.path), labels);
    }
  }

  /** Posts status (and derived labels) now. */
  async postStatus(): Promise<void> {
    const cfg = this.o.config;
    const state = this.o.provider.nodeState();
    if (!this.node) this.node = await this.o.client.get<Node>(this.path);
    const labels = desiredLabels(cfg, state);
    const prevLabels = (this.node.metadata.annotations?.[ANNOTATION_MANAGED_LABELS] ?? '').split(',').filter(Boolean);
    const lp = labelPatch(this.node.metadata.labels, prevLabels, labels);
    if (Object.keys(lp).length) await this.syncMetadata(this.node, labels);
    const status = desiredStatus(cfg, state, this.now().toISOString(), this.node.status);
    const patch = {
      status: {
        ...status,
        capacity: resourcePatch(this.node.status?.capacity, status.capacity ?? {}),
        allocatable: resourcePatch(this.node.status?.allocatable, status.allocatable ?? {}),
      },
    };
    try {
      this.node = await (this.o.statusClient ?? this.o.client).patch<Node>(`${this.path}/status`, patch, 'strategic');
    } catch (e) {
      if (isNotFound(e)) {
        // Someone deleted the Node: register again, as a kubelet would.
        this.node = undefined;
        await this.register();
        return this.postStatus();
      }
      throw e;
    }
    this.o.log.debug({ ready: state.condition.ready, resources: state.resources }, 'posted node status');
  }

  async run(signal: AbortSignal): Promise<void> {
    // Capped at half the lease renew interval, so Ready is posted within one interval after an outage.
    const backoff = new Backoff(500, Math.min(10_000, this.o.config.leaseRenewIntervalSeconds * 500));
    let lastPost = 0;
    const interval = this.o.config.statusUpdateIntervalSeconds * 1000;
    while (!signal.aborted) {
      await this.o.fence?.whenOpen(signal);
      if (signal.aborted) break;
      const due = this.clock.now() - lastPost >= interval;
      if (this.dirty || due) {
        this.dirty = false;
        try {
          await this.postStatus();
          lastPost = this.clock.now();
          backoff.reset();
        } catch (e) {
          this.dirty = true;
          if (isNotLeader(e)) continue; // waits for the fence above
          this.o.log.warn({ err: (e as Error).message }, 'posting node status failed; retrying');
          await backoff.wait(signal, this.clock);
          continue;
        }
      }
      const wait = Math.max(0, interval - (this.clock.now() - lastPost));
      await new Promise<void>((resolve) => {
        const t = this.clock.setTimer(done, wait);
        const onAbort = () => done();
        signal.addEventListener('abort', onAbort, { once: true });
        this.wake = done;
        function done() {
          t.cancel();
          signal.removeEventListener('abort', onAbort);
          resolve();
        }
      });
      this.wake = undefined;
    }
  }
}
