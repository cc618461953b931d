// The contract between the generic virtual-kubelet core (src/) and a provider (provider/). The core knows
// the upper cluster, HTTP and leases; a provider knows where pods really run. Nothing else crosses:
// every member the core calls is declared here, and outcomes are values (PodEnsureResult), so the core
// never has to recognise an error by its shape. Thrown errors mean "failed, retry with backoff"; the
// typed NotFoundError / InvalidInputError (src/errors.ts) are mapped once by the kubelet API.
import type { Pod, PodCondition, PodStatus } from './kube/types.js';
import type { ResourceList } from './util/quantity.js';
import type { ClusterSummary } from './scheduling/summary.js';

export interface NodeReadiness {
  ready: boolean;
  /** CamelCase reason, e.g. LowerClusterReady / LowerClusterUnreachable. */
  reason: string;
  message: string;
}

export interface ProviderNodeState {
  /** Whether the backing capacity is usable right now. */
  condition: NodeReadiness;
  /** What the node can still take (capacity = allocatable). */
  resources: ResourceList;
  /** Labels derived from the backing capacity (os, arch, region, zone...). */
  labels: Record<string, string>;
}

/**
 * What one virtual node needs of its provider: its state and summary, and its pods. A provider that backs
 * several virtual nodes (node pools) hands the core one NodeProvider per node; logs, streams and stats
 * go through the process's one kubelet API and so are asked of the whole Provider only.
 */
export interface NodeProvider extends PodProvider {
  /** Starts watches; resolves once the provider can answer nodeState() truthfully. */
  start(signal: AbortSignal): Promise<void>;
  stop(): Promise<void>;
  nodeState(): ProviderNodeState;
  /** Compact description of the backing capacity for the scheduler extender. */
  schedulingSummary(): ClusterSummary;
  /**
   * Takes back what the last published summary said about controllers to keep away (bounce-back),
   * so a restart does not forget it: the published summary, not memory, is the record.
   */
  restoreSchedulingSummary(published: ClusterSummary): void;
  /** Told each time a summary is published (or found already published): the extender now enforces it. */
  schedulingSummaryPublished(published: ClusterSummary): void;
  /** Called (debounced by the provider) whenever nodeState() may have changed. */
  onNodeStateChange(listener: () => void): void;
  /** Called (debounced by the provider) whenever schedulingSummary() may have changed. */
  onSummaryChange(listener: () => void): void;
  /** Whether the backing cluster's API server answers right now (fedlet_lower_api_healthy). */
  backendReachable(): boolean;
}

/** The whole provider of a process: its node(s) and the kubelet API's streams. */
export interface Provider extends NodeProvider, StreamProvider {}

/** Outcome of making the backing world match an upper pod. */
export type PodEnsureResult =
  | { kind: 'ok' }
  /** Nothing to do yet (e.g. an older backing pod of the same name is going away); sync again later. */
  | { kind: 'waiting'; message: string }
  /**
   * The pod cannot run here now; the core shows `reason`/`message` on the pending upper pod. `retry`:
   * false when it never can as it is (no retry until the pod changes); true when something else may
   * change that (e.g. a missing ConfigMap appears): the provider then reports the pod through
   * onPodChange, and the core also retries with backoff.
   */
  | {
      kind: 'rejected';
      reason: string;
      message: string;
      retry: boolean;
      /** Event reason when it differs from the status reason (the virtual-kubelet library's names). */
      eventReason?: string;
      /** A condition shown with the Pending status (e.g. fedlet.io/LowerRejected). */
      condition?: PodCondition;
      /** Sync again after this long (instead of the queue's backoff). */
      retryAfterMs?: number;
    }
  /**
   * The upper pod must fail so that its controller replaces it: the backing pod vanished outside
   * fedlet, or the backing cluster could not place it for too long. `reason` is the status reason.
   */
  | { kind: 'fail'; reason: string; message: string }
  /** Nothing to change now, but look again after `retryAfterMs` (e.g. a bounce deadline). */
  | { kind: 'recheck'; retryAfterMs: number };

/** An event the provider wants shown on an upper pod. */
export interface PodEvent {
  upperKey: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  count?: number;
  /** Stable identity (e.g. the lower Event's uid): the same id updates one upper Event, across restarts. */
  id?: string;
}

/** What a garbage collection pass left for later: run it again after this long. */
export interface GarbageOutcome {
  againAfterMs?: number;
}

/** Pod operations. A thrown error means the operation failed and is retried with backoff. */
export interface PodProvider {
  /** Creates or updates the backing pod and what it depends on. Idempotent. */
  ensurePod(pod: Pod): Promise<PodEnsureResult>;
  /** Deletes the backing pod of an upper key (namespace/name); true once it is gone. */
  deletePod(upperKey: string, gracePeriodSeconds: number | undefined): Promise<boolean>;
  /** Upper status derived from the backing pod, or undefined when there is none yet. */
  podStatus(pod: Pod): PodStatus | undefined;
  /** Upper keys of every backing pod the provider knows (to find orphans). */
  knownPodKeys(): string[];
  /**
   * Removes backing objects (dependencies) that no live pod needs; livePods = all pods on the node. May
   * ask to be run again later (e.g. a namespace kept for a grace period in case pods return).
   */
  collectGarbage(livePods: Pod[]): Promise<GarbageOutcome | void>;
  onPodChange(listener: (upperKey: string) => void): void;
  onPodEvent(listener: (e: PodEvent) => void): void;
  /** Resolves when the provider's pod caches are synced (before anything destructive). */
  podCachesSynced(signal: AbortSignal): Promise<void>;
}

export interface LogOptions {
  follow?: boolean;
  previous?: boolean;
  timestamps?: boolean;
  sinceSeconds?: number;
  sinceTime?: string;
  /** 0 is meaningful: no past lines, only new ones when following. */
  tailLines?: number;
  limitBytes?: number;
}

export interface StreamParams {
  container?: string;
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export type StreamKind = 'exec' | 'attach' | 'portforward';

/** Result of asking the backing cluster for a streaming upgrade. */
export type UpgradeOutcome =
  | {
      kind: 'upgraded';
      rawHeaders: string[];
      socket: import('node:stream').Duplex;
      head: Buffer;
      /** How the socket's bytes are read when it emits no 'data' (opened with `onread`). */
      source?: import('./util/splice.js').ByteSource;
    }
  | { kind: 'rejected'; status: number; contentType?: string; body: Buffer };

export interface LogStream {
  status: number;
  contentType?: string;
  /** The body, or with `source` the stream it is read from (its 'close' before the end: truncated). */
  body: import('node:stream').Readable;
  /** How the body's bytes are read when `body` emits no 'data' (a socket opened with `onread`). */
  source?: import('./util/splice.js').ByteSource;
}

/**
 * What the kubelet API serves from the provider (and all it may see of it): logs, streams and stats.
 * Unknown pods throw NotFoundError.
 */
export interface StreamProvider {
  podLogs(namespace: string, name: string, container: string, opts: LogOptions, signal: AbortSignal): Promise<LogStream>;
  /** Kubelet stats/v1alpha1 Summary for the virtual node. */
  statsSummary(): Promise<unknown>;
  /** Prometheus text for /metrics/resource (metrics-server format). */
  resourceMetrics(): Promise<string>;
  /** `protocols`: the X-Stream-Protocol-Version values the client offered, in order. */
  openPodStream(
    kind: StreamKind,
    namespace: string,
    name: string,
    params: StreamParams,
    upgrade: string,
    protocols: string[],
    signal: AbortSignal,
  ): Promise<UpgradeOutcome>;
}

/**
 * One of several virtual nodes a provider backs (node pools): its name, the pool it stands for (the
 * value of fedlet.io/pool) and the provider view that answers for it.
 */
export interface VirtualNodeSpec {
  name: string;
  pool: string;
  provider: NodeProvider;
}
