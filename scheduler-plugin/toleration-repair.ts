// Level-triggered backstop for the admission webhook (admission-webhook.ts). The webhook runs with
// failurePolicy Ignore, so a pod whose admission call timed out (or hit a restarting extender) is
// created without the virtual-node toleration and, when only virtual nodes can take it, stays Pending
// for good. This controller watches unscheduled upper pods and adds the toleration the webhook would
// have added to each one still lacking it. Adding tolerations is one of the few pod spec changes the
// API server accepts on an existing pod; the patch tests the resourceVersion it was computed from, so
// a concurrent writer's change is never overwritten (the pod is looked at again instead).
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { KubeApiError, isNotFound, type KubeApi } from '../src/kube/client.js';
import { Informer, objectKey } from '../src/kube/informer.js';
import type { Pod } from '../src/kube/types.js';
import { WorkQueue, type SyncOutcome } from '../src/kube/work-queue.js';
import type { EventRecorder } from '../src/events.js';
import { tolerationPatch } from './admission-webhook.js';

export const REPAIR_REASON = 'VirtualNodeTolerationAdded';

type RepairOp = { op: 'test'; path: string; value: unknown } | { op: 'add'; path: string; value: unknown };

/**
 * The JSON patch that gives an existing pod the virtual-node toleration, or undefined when it needs
 * none: DaemonSet pods, pods that tolerate the taint already, pods already bound to a node (their
 * placement is decided) and pods being deleted.
 */
export function repairPatch(pod: Pod): RepairOp[] | undefined {
  if (pod.spec?.nodeName || pod.metadata?.deletionTimestamp) return undefined;
  const rv = pod.metadata?.resourceVersion;
  if (!rv) return undefined;
  const add = tolerationPatch(pod);
  if (!add) return undefined;
  return [{ op: 'test', path: '/metadata/resourceVersion', value: rv }, ...add];
}

/** Only what the decision needs is cached: unscheduled pods can number in the thousands. */
function shrink(p: Pod): Pod {
  return {
    metadata: {
      name: p.metadata?.name,
      namespace: p.metadata?.namespace,
      uid: p.metadata?.uid,
      resourceVersion: p.metadata?.resourceVersion,
      deletionTimestamp: p.metadata?.deletionTimestamp,
      ownerReferences: p.metadata?.ownerReferences,
    },
    spec: { containers: [], nodeName: p.spec?.nodeName, tolerations: p.spec?.tolerations },
  };
}

export interface TolerationRepairOptions {
  upper: KubeApi;
  log: Logger;
  registry?: Registry;
  events?: EventRecorder;
  /** Queue bound: far above the unscheduled pods one upper cluster is expected to hold. */
  maxQueue?: number;
  /** Re-examines every cached pod this often, for keys a full queue refused. */
  resyncMs?: number;
}

export class TolerationRepair {
  readonly pods: Informer<Pod>;
  readonly queue: WorkQueue;
  readonly repaired: Counter;
  private resync?: NodeJS.Timeout;

  constructor(private readonly o: TolerationRepairOptions) {
    this.pods = new Informer<Pod>({
      client: o.upper,
      path: '/api/v1/pods',
      fieldSelector: 'spec.nodeName=',
      log: o.log,
      transform: shrink,
    });
    this.queue = new WorkQueue({
      concurrency: 4,
      maxSize: o.maxQueue ?? 50_000,
      handler: (key) => this.sync(key),
      log: o.log,
      baseDelayMs: 500,
      maxDelayMs: 30_000,
    });
    this.repaired = new Counter({
      name: 'fedlet_extender_tolerations_repaired_total',
      help: 'Unscheduled pods the admission webhook missed that were given the virtual-node toleration afterwards',
      registers: o.registry ? [o.registry] : [],
    });
    const enqueue = (p: Pod) => {
      if (repairPatch(p)) this.queue.add(objectKey(p));
    };
    this.pods.addHandlers({ onAdd: enqueue, onUpdate: enqueue });
  }

  async sync(key: string): Promise<SyncOutcome> {
    const pod = this.pods.get(key);
    const patch = pod ? repairPatch(pod) : undefined;
    if (!pod || !patch) return; // scheduled, deleted, or tolerating by now
    const { namespace, name, uid } = pod.metadata;
    const path = `/api/v1/namespaces/${namespace}/pods/${name}`;
    try {
      await this.o.upper.patch(path, patch, 'json');
    } catch (e) {
      if (isNotFound(e)) return;
      // 409/422: the test op failed (the pod changed since our cache saw it) or the API server refused
      // the change. The watch brings the newer version; look again after a backoff.
      if (e instanceof KubeApiError && (e.code === 409 || e.code === 422)) {
        this.o.log.info({ pod: key, code: e.code, err: e.message }, 'toleration repair not applied; will look again');
        return 'retry';
      }
      throw e;
    }
    this.repaired.inc();
    this.o.log.info({ pod: key }, 'pod was created without the virtual-node toleration (admission webhook missed it); added it');
    void this.o.events?.record(
      { kind: 'Pod', namespace: namespace!, name: name!, uid },
      'Normal',
      REPAIR_REASON,
      'The admission webhook did not add the virtual-node toleration at creation; fedlet-extender added it',
    );
  }

  /** Starts the watch of unscheduled pods and the workers; resolves once the pods are listed. */
  async start(): Promise<void> {
    this.pods.start();
    this.queue.start();
    await this.pods.waitForSync();
    this.resync = setInterval(() => {
      for (const p of this.pods.list()) if (repairPatch(p)) this.queue.add(objectKey(p));
    }, this.o.resyncMs ?? 300_000);
    this.resync.unref();
  }

  async stop(): Promise<void> {
    if (this.resync) clearInterval(this.resync);
    await Promise.all([this.pods.stop(), this.queue.stop()]);
  }
}
