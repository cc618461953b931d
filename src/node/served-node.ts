// One virtual node served in the upper cluster: its Node registration and status, its Lease, its pod
// controller and (when enabled) its scheduling summary, all backed by one Provider. The single source of
// this wiring: a fedlet without pools serves one such unit, a NodeSet (node pools) one per pool.
import type { Logger } from 'pino';
import type { FedletConfig } from '../config.js';
import type { EventRecorder } from '../events.js';
import type { KubeApi } from '../kube/client.js';
import type { WriteFence } from '../kube/fence.js';
import type { Pod } from '../kube/types.js';
import { PodController } from '../pods/pod-controller.js';
import type { NodeProvider } from '../provider.js';
import { LeaseController } from './lease-controller.js';
import { NodeController } from './node-controller.js';
import { SummaryPublisher } from './summary-publisher.js';

export interface ServedNodeOptions {
  upper: KubeApi;
  /** The process's configuration; `nodeName` is replaced by `name`. */
  config: FedletConfig;
  /** The virtual node's name. */
  name: string;
  provider: NodeProvider;
  /** The client of the node's Lease renewals and status posts, with a bucket of its own (default upper). */
  heartbeat?: KubeApi;
  /** The client of what a kubelet writes for its pods (status, final deletion): the node's own identity. */
  nodeClient?: KubeApi;
  fence: WriteFence;
  events: EventRecorder;
  observe?: (ms: number, ok: boolean) => void;
  /** Aborting it stops the node's loops too (the process's stop). */
  signal?: AbortSignal;
  /** Registers the Node; the caller decides how to retry (a start-up step retries through outages). */
  register?: (register: () => Promise<void>) => Promise<void>;
  log: Logger;
}

export class ServedNode {
  readonly nodes: NodeController;
  readonly pods: PodController;
  private readonly abort = new AbortController();
  private loops: Array<Promise<unknown>> = [];

  private constructor(
    private readonly o: ServedNodeOptions,
    private readonly cfg: FedletConfig,
  ) {
    o.signal?.addEventListener('abort', () => this.abort.abort(), { once: true });
    this.nodes = new NodeController({
      client: o.upper,
      statusClient: o.heartbeat ?? o.upper,
      config: cfg,
      provider: o.provider,
      fence: o.fence,
      log: o.log,
    });
    this.pods = new PodController({
      upper: o.upper,
      nodeClient: o.nodeClient,
      nodeName: o.name,
      provider: o.provider,
      events: o.events,
      workers: cfg.podWorkers,
      unreachableDeleteAfterSeconds: cfg.unreachableDeleteAfterSeconds,
      log: o.log.child({ component: 'pods' }),
      observe: o.observe,
    });
  }

  /** Registers the Node, then starts the Lease, the pod controller and the summary publisher. */
  static async start(o: ServedNodeOptions): Promise<ServedNode> {
    const s = new ServedNode(o, { ...o.config, nodeName: o.name });
    await (o.register ?? ((r) => r()))(() => s.nodes.register());
    await s.run();
    return s;
  }

  private async run(): Promise<void> {
    const { o, cfg, nodes } = this;
    const signal = this.abort.signal;
    const lease = new LeaseController({
      client: o.heartbeat ?? o.upper,
      nodeName: o.name,
      durationSeconds: cfg.leaseDurationSeconds,
      renewIntervalSeconds: cfg.leaseRenewIntervalSeconds,
      nodeUid: () => nodes.uid,
      fence: o.fence,
      // After an outage the upper controller-manager may have marked the node Ready=Unknown: post at once.
      onRecovered: () => nodes.markDirty(),
      log: o.log.child({ component: 'lease' }),
    });
    this.loops = [nodes.run(signal), lease.run(signal), this.pods.start(signal)];
    if (cfg.publishSummary) {
      const provider = o.provider;
      const summary = new SummaryPublisher({
        client: o.upper,
        namespace: cfg.summaryNamespace,
        nodeName: o.name,
        summary: () => provider.schedulingSummary(),
        onPublished: (s) => provider.schedulingSummaryPublished(s),
        minIntervalMs: 2000,
        fence: o.fence,
        log: o.log.child({ component: 'summary' }),
      });
      const published = await summary.readPublished();
      if (published) provider.restoreSchedulingSummary(published);
      provider.onSummaryChange(() => summary.markDirty());
      this.loops.push(summary.run(signal));
    }
  }

  /** Settles when every loop of the node has ended (they end when stopped, or on a fatal error). */
  done(): Promise<unknown> {
    return Promise.all(this.loops);
  }

  boundPods(): Pod[] {
    return this.pods.boundPods();
  }

  /** After leadership was regained: resync pods from the caches and post node status at once. */
  resync(signal: AbortSignal): void {
    void this.pods.resync(signal);
    this.nodes.markDirty();
  }

  /** Ends the loops, then drains the pod controller. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.done().catch(() => undefined);
    await this.pods.stop();
  }
}
