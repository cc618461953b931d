// The pod controller: upper pods bound to our node → provider calls; provider state → upper status.
// Level-triggered: every sync reads the current upper pod (cache) and the provider's view of the
// lower world, and makes them agree. Nothing destructive happens before both caches are synced.
import type { Logger } from 'pino';
import { isConflict, isNotFound, type KubeApi } from '../kube/client.js';
import { Informer } from '../kube/informer.js';
import type { Pod, PodCondition, PodStatus } from '../kube/types.js';
import type { EventRecorder } from '../events.js';
import type { NodeProvider } from '../provider.js';
import { WorkQueue, type SyncOutcome } from '../kube/work-queue.js';
import { realClock, type Clock, type Timer } from '../util/clock.js';
import { isNotLeader } from '../kube/fence.js';
import { STATUS_COALESCE_MS, statusPatch, urgentStatusChange } from './status-patch.js';
import { failedStatus, mergeConditions } from './pod-conditions.js';
import { ANNOTATION_LAST_APPLIED } from '../labels.js';
import { apiPath } from '../kube/api-path.js';
import { shareRepeats } from '../util/intern.js';

/** Garbage collection runs at least this often, whatever triggers it meanwhile (level-triggered resync). */
export const GC_RESYNC_MS = 300_000;
export interface PodControllerOptions {
  /** Watches the node's pods. */
  upper: KubeApi;
  /**
   * Writes what a kubelet writes about its pods: status, and the final deletion once the lower pod is
   * gone (the node's own identity, so the Node authorizer limits it to pods bound here). Default upper.
   */
  nodeClient?: KubeApi;
  nodeName: string;
  provider: NodeProvider;
  events: EventRecorder;
  workers: number;
  /**
   * Seconds after a pod's deletion deadline (deletionTimestamp) at which its upper deletion is
   * completed without the backing cluster's confirmation, while that cluster is unreachable.
   */
  unreachableDeleteAfterSeconds: number;
  log: Logger;
  /** Called after each sync (metrics). */
  observe?: (ms: number, ok: boolean) => void;
  clock?: Clock;
}

const terminal = (p: Pod) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

export class PodController {
  readonly pods: Informer<Pod>;
  readonly queue: WorkQueue;
  private gcTimer?: Timer;
  /** When the scheduled garbage collection runs (clock ms). */
  private gcDue = 0;
  /**
   * One collection at a time: a run deletes at the write rate and reads a snapshot of the caches, so runs
   * started while one was deleting thousands of token Secrets each deleted the same ones again (404s),
   * and together they took the whole lower write budget from pod creation. A run asked for meanwhile
   * happens once, right after (with the caches as they are then).
   */
  private gcRunning = false;
  private gcAgain = false;
  private readonly clock: Clock;
  /**
   * uids of pods this controller failed itself (bounced or lost). The upper cache may still show them
   * as running for a moment; they must never get a backing pod again. Bounded.
   */
  private readonly failedByUs = new Map<string, { reason: string; message: string }>();
  private ready = false;
  /** Pod key → when a status change that may wait was first held back (clock ms); see writeStatus. */
  private readonly heldSince = new Map<string, number>();

  constructor(private readonly o: PodControllerOptions) {
    this.clock = o.clock ?? realClock;
    this.pods = new Informer<Pod>({
      client: o.upper,
      path: '/api/v1/pods',
      fieldSelector: `spec.nodeName=${o.nodeName}`,
      log: o.log,
      transform: trimPod,
    });
    this.queue = new WorkQueue({
      concurrency: o.workers,
      maxSize: 1_000_000,
      handler: (k) => this.sync(k),
      log: o.log,
      observe: o.observe,
      clock: this.clock,
    });
    const enqueue = (p: Pod) => this.queue.add(`${p.metadata.namespace}/${p.metadata.name}`);
    this.pods.addHandlers({
      onAdd: enqueue,
      onUpdate: enqueue,
      onDelete: (p) => {
        enqueue(p);
        this.scheduleGc();
      },
    });
    o.provider.onPodChange((key) => this.queue.add(key));
    o.provider.onPodEvent((e) => {
      const p = this.pods.get(e.upperKey);
      if (p)
        void o.events.record(
          { kind: 'Pod', namespace: p.metadata.namespace!, name: p.metadata.name!, uid: p.metadata.uid },
          e.type,
          e.reason,
          e.message,
          e.count,
          e.id,
        );
    });
  }

  /** Starts watching; workers begin once the upper and provider caches are synced. */
  async start(signal: AbortSignal): Promise<void> {
    this.pods.start();
    await Promise.all([this.pods.waitForSync(signal), this.o.provider.podCachesSynced(signal)]);
    this.ready = true;
    this.queue.start();
    // Level-triggered start: every upper pod and every backing pod (orphans included) gets a sync.
    for (const p of this.pods.list()) this.queue.add(`${p.metadata.namespace}/${p.metadata.name}`);
    for (const k of this.o.provider.knownPodKeys()) this.queue.add(k);
    this.scheduleGc(0);
    this.o.log.info({ pods: this.pods.size }, 'pod controller started');
  }

  /** Whether the upper and provider caches were synced and the workers started. */
  get synced(): boolean {
    return this.ready;
  }

  /** Upper pods bound to this node, as cached (the kubelet API's /pods). */
  boundPods(): Pod[] {
    return this.pods.list();
  }

  /** Pod keys waiting to be synced (for metrics, read at scrape time). */
  queueDepth(): number {
    return this.queue.length;
  }

  /** Upper pods on this node by phase (for metrics, read at scrape time). */
  podsByPhase(): Map<string, number> {
    const byPhase = new Map<string, number>();
    for (const p of this.pods.list()) {
      const phase = p.status?.phase ?? 'Unknown';
      byPhase.set(phase, (byPhase.get(phase) ?? 0) + 1);
    }
    return byPhase;
  }

  /**
   * After leadership was regained: once the upper caches are fresh again (bounded wait), every upper
   * pod and every backing pod gets a sync, and garbage collection runs. Level-triggered, idempotent.
   */
  async resync(signal: AbortSignal): Promise<void> {
    if (!this.ready) return; // start() syncs everything anyway
    const caches = this.o.upper.caches;
    const fresh = caches ? await caches.waitFresh(30_000, signal) : true;
    if (signal.aborted) return;
    if (!fresh) this.o.log.warn({ stale: caches?.staleCaches() }, 'resyncing although some caches are still stale');
    for (const p of this.pods.list()) this.queue.add(`${p.metadata.namespace}/${p.metadata.name}`);
    for (const k of this.o.provider.knownPodKeys()) this.queue.add(k);
    this.scheduleGc(0);
    this.o.log.info({ pods: this.pods.size }, 'resynced after regaining leadership');
  }

  async stop(): Promise<void> {
    this.gcTimer?.cancel();
    await this.queue.stop();
    await this.pods.stop();
  }

  /**
   * Runs garbage collection after `delayMs`, unless a run is already due sooner. A run due later (e.g. a
   * namespace's grace period) is brought forward: a pod that just went must not wait for it.
   */
  private scheduleGc(delayMs = 2000): void {
    if (!this.ready) return;
    const due = this.clock.now() + delayMs;
    if (this.gcTimer && this.gcDue <= due) return;
    this.gcTimer?.cancel();
    this.gcDue = due;
    this.gcTimer = this.clock.setTimer(
      () => {
        this.gcTimer = undefined;
        this.collectGarbage();
      },
      delayMs,
      { unref: true },
    );
  }

  private collectGarbage(): void {
    if (this.gcRunning) {
      this.gcAgain = true;
      return;
    }
    this.gcRunning = true;
    this.gcAgain = false;
    this.o.provider.collectGarbage(this.pods.list()).then(
      (outcome) => {
        this.gcRunning = false;
        if (this.gcAgain) return this.collectGarbage();
        // Something is kept for a while (a grace period): look again with the pods as they are then.
        // Otherwise look again in GC_RESYNC_MS all the same: a run sees only what the caches held when
        // it started (level-triggered resync). A run with nothing to collect costs a few lists.
        this.scheduleGc(outcome?.againAfterMs ?? GC_RESYNC_MS);
      },
      (e: Error) => {
        this.gcRunning = false;
        if (isNotLeader(e)) return; // regaining the lease runs it again (resync)
        this.o.log.warn({ err: e.message }, 'garbage collection of lower objects failed; will retry');
        this.scheduleGc(10_000);
      },
    );
  }

  private podPath(p: Pod): string {
    return apiPath`/api/v1/namespaces/${p.metadata.namespace ?? ''}/pods/${p.metadata.name ?? ''}`;
  }

  async sync(key: string): Promise<SyncOutcome> {
    const pod = this.pods.get(key);
    if (!pod) {
      this.heldSince.delete(key);
      // Upper pod gone (possibly while we were down): remove its backing pod; once it is gone, what
      // only it needed (dependencies, a namespace) can be collected.
      if (await this.o.provider.deletePod(key, 0)) this.scheduleGc();
      return;
    }
    if (pod.metadata.deletionTimestamp) {
      if (!this.o.provider.nodeState().condition.ready) {
        // The backing cluster cannot confirm the deletion. Once the pod's grace period plus our
        // allowance has passed, finish it in the upper cluster so its controller can replace it
        // elsewhere; the orphaned lower pod is removed when the cluster is reachable again.
        const deadline = Date.parse(pod.metadata.deletionTimestamp) + this.o.unreachableDeleteAfterSeconds * 1000;
        const now = this.clock.now();
        if (now < deadline) {
          this.queue.addAfter(key, Math.max(200, deadline - now + 100));
          return;
        }
        const cond = this.o.provider.nodeState().condition;
        void this.o.events.record(
          { kind: 'Pod', namespace: pod.metadata.namespace!, name: pod.metadata.name!, uid: pod.metadata.uid },
          'Warning',
          cond.reason,
          `deleted without confirmation: ${cond.message}; the backing pod will be removed when it is reachable again`,
        );
        await this.forceDelete(pod);
        return;
      }
      const gone = await this.o.provider.deletePod(key, pod.metadata.deletionGracePeriodSeconds);
      // As a kubelet does once the containers stopped: remove the pod object for good.
      if (gone) await this.forceDelete(pod);
      return;
    }
    const failed = pod.metadata.uid ? this.failedByUs.get(pod.metadata.uid) : undefined;
    if (failed) {
      // Failed by us: make sure no backing pod is left or re-created from a stale cache, and that the
      // Failed status is written (a first write may have met a conflict).
      await this.o.provider.deletePod(key, 0);
      if (!terminal(pod)) await this.writeStatus(pod, failedStatus(pod, failed.reason, failed.message));
      return;
    }
    if (terminal(pod)) {
      // A pod that ended in the upper cluster runs nowhere (kubelet semantics): a backing pod that is
      // still active (e.g. the pod was failed by this controller) is removed. Level-triggered.
      const st = this.o.provider.podStatus(pod);
      if (st && !terminal({ ...pod, status: st })) await this.o.provider.deletePod(key, 0);
      else if (st) await this.writeStatus(pod, st);
      return;
    }
    const result = await this.o.provider.ensurePod(pod);
    if (result.kind === 'fail') {
      this.rememberFailed(pod, result.reason, result.message);
      void this.o.events.record(
        { kind: 'Pod', namespace: pod.metadata.namespace!, name: pod.metadata.name!, uid: pod.metadata.uid },
        'Warning',
        result.reason,
        result.message,
      );
      await this.writeStatus(pod, failedStatus(pod, result.reason, result.message));
      return;
    }
    if (result.kind === 'rejected') {
      await this.reject(pod, result.reason, result.message, result.condition ? [result.condition] : [], result.eventReason);
      if (result.retryAfterMs !== undefined) {
        this.queue.addAfter(key, result.retryAfterMs);
        return;
      }
      return result.retry ? 'retry' : undefined;
    }
    if (result.kind === 'waiting') {
      this.queue.addAfter(key, 1000);
      return;
    }
    if (result.kind === 'recheck') this.queue.addAfter(key, result.retryAfterMs);
    const st = this.o.provider.podStatus(pod);
    if (st) await this.writeStatus(pod, st, true);
  }

  private rememberFailed(pod: Pod, reason: string, message: string): void {
    if (!pod.metadata.uid) return;
    this.failedByUs.set(pod.metadata.uid, { reason, message });
    if (this.failedByUs.size > 10_000) this.failedByUs.delete(this.failedByUs.keys().next().value!);
  }

  private async forceDelete(pod: Pod): Promise<void> {
    try {
      await (this.o.nodeClient ?? this.o.upper).delete(this.podPath(pod), {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        gracePeriodSeconds: 0,
        preconditions: { uid: pod.metadata.uid },
      });
    } catch (e) {
      if (!isNotFound(e) && !/Precondition failed/i.test((e as Error).message)) throw e;
    }
  }

  private async reject(
    pod: Pod,
    reason: string,
    message: string,
    extra: PodCondition[] = [],
    eventReason = reason,
  ): Promise<void> {
    void this.o.events.record(
      { kind: 'Pod', namespace: pod.metadata.namespace!, name: pod.metadata.name!, uid: pod.metadata.uid },
      'Warning',
      eventReason,
      message,
    );
    await this.writeStatus(pod, pendingStatus(pod, reason, message, new Date(this.clock.now()).toISOString(), extra));
  }

  /**
   * Patches the upper pod's status to `want`. With `coalesce` (the status mirrored from the backing pod),
   * a change that is not urgent (urgentStatusChange) is held back up to STATUS_COALESCE_MS so that the
   * states a starting pod passes through cost one write, not one each; the sync comes back in time.
   */
  private async writeStatus(pod: Pod, want: PodStatus, coalesce = false): Promise<void> {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const next = { ...want, conditions: mergeConditions(pod, want.conditions) };
    const patch = statusPatch(pod.status, next);
    if (!patch) {
      this.heldSince.delete(key);
      return;
    }
    if (coalesce && !urgentStatusChange(pod.status, next)) {
      const now = this.clock.now();
      const since = this.heldSince.get(key) ?? now;
      if (now - since < STATUS_COALESCE_MS) {
        this.heldSince.set(key, since);
        this.queue.addWithin(key, since + STATUS_COALESCE_MS - now);
        return;
      }
    }
    this.heldSince.delete(key);
    // The condition list is written whole with others' conditions kept: the resourceVersion makes
    // the write fail (and the sync retry) rather than drop a condition someone added meanwhile.
    const metadata = {
      uid: pod.metadata.uid,
      ...(patch.status.conditions ? { resourceVersion: pod.metadata.resourceVersion } : {}),
    };
    try {
      await (this.o.nodeClient ?? this.o.upper).patch(`${this.podPath(pod)}/status`, { metadata, ...patch }, 'merge');
    } catch (e) {
      if (isNotFound(e)) return; // deleted meanwhile; the delete event brings us back
      // Our cache was behind (often our own previous write): the pod's update event syncs it again; a
      // short requeue covers a missed one. Not a failure worth a warning or a backoff.
      if (isConflict(e)) {
        this.queue.addAfter(`${pod.metadata.namespace}/${pod.metadata.name}`, 500);
        return;
      }
      throw e;
    }
  }
}

/**
 * Drops what fedlet never reads from cached upper pods (managedFields dominate their size) and shares
 * the strings that repeat from pod to pod.
 */
function trimPod(p: Pod): Pod {
  if (p.metadata.managedFields === undefined && !p.metadata.annotations?.[ANNOTATION_LAST_APPLIED]) return shareRepeats(p);
  // Copies without the fields rather than `delete`: a deleted property turns a V8 object into a hash
  // table, and every cached pod's metadata was one (830 of its 2,400 bytes at 10,000 pods).
  const { managedFields: _managed, ...metadata } = p.metadata;
  if (metadata.annotations?.[ANNOTATION_LAST_APPLIED]) {
    const { [ANNOTATION_LAST_APPLIED]: _applied, ...annotations } = metadata.annotations;
    metadata.annotations = annotations;
  }
  return shareRepeats({ ...p, metadata });
}

/** Pending status that explains why the pod cannot start (shown by kubectl get/describe). */
function pendingStatus(pod: Pod, reason: string, message: string, now: string, extra: PodCondition[] = []): PodStatus {
  const prev = pod.status?.conditions?.find((c) => c.type === 'Ready');
  const since = prev?.status === 'False' && prev.reason === reason && prev.lastTransitionTime ? prev.lastTransitionTime : now;
  const replaced = new Set(['Ready', ...extra.map((c) => c.type)]);
  const conditions = (pod.status?.conditions ?? []).filter((c) => !replaced.has(c.type));
  conditions.push({ type: 'Ready', status: 'False', reason, message, lastTransitionTime: since }, ...extra);
  return { ...(pod.status ?? {}), phase: 'Pending', reason, message, conditions };
}
