// Renews the node's coordination.k8s.io/v1 Lease in kube-node-lease, like a kubelet: the upper
// kube-controller-manager's node lifecycle controller reads it as the heartbeat.
import type { Logger } from 'pino';
import { isConflict, isNotFound, type KubeApi } from '../kube/client.js';
import { Backoff } from '../util/backoff.js';
import { realClock, sleepOn, type Clock } from '../util/clock.js';
import type { Lease } from '../kube/types.js';
import { isNotLeader, type WriteFence } from '../kube/fence.js';

export interface LeaseControllerOptions {
  client: KubeApi;
  nodeName: string;
  durationSeconds: number;
  renewIntervalSeconds: number;
  /** uid of the Node, so the Lease is garbage-collected with it. */
  nodeUid: () => string | undefined;
  log: Logger;
  clock?: Clock;
  /** Renewals wait while the fence is closed (this replica is not the leader). */
  fence?: WriteFence;
  /** Called after the first successful renewal following failures (an outage ended). */
  onRecovered?: () => void;
}

/** MicroTime as the API expects it: RFC3339 with microseconds. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaseController {
  private readonly path: string;
  private readonly clock: Clock;
  /**
   * The Lease as the API server returned it from this controller's last successful write: the next
   * renewal PUTs it without reading it first, as the kubelet does (one request per interval, not two;
   * at 100 pool nodes that is 600 reads a minute fewer). Dropped before every write, so that any failure
   * (a conflict with another writer, the Lease deleted with its Node, an outage) makes the next renewal
   * read the current one.
   */
  private latest?: Lease;

  constructor(private readonly o: LeaseControllerOptions) {
    this.clock = o.clock ?? realClock;
    this.path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${o.nodeName}`;
  }

  async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(200, (this.o.renewIntervalSeconds * 1000) / 2);
    let failing = false;
    while (!signal.aborted) {
      await this.o.fence?.whenOpen(signal);
      if (signal.aborted) break;
      try {
        await this.renew();
        backoff.reset();
        if (failing) this.o.onRecovered?.();
        failing = false;
        await sleepOn(this.clock, this.o.renewIntervalSeconds * 1000, signal);
      } catch (e) {
        failing = true;
        if (isNotLeader(e)) continue; // waits for the fence above
        this.o.log.warn({ err: (e as Error).message }, 'renewing node lease failed; retrying');
        // Capped at half the renew interval: the lease is renewed within one interval after an outage.
        await backoff.wait(signal, this.clock);
      }
    }
  }

  async renew(): Promise<void> {
    const now = new Date(this.clock.now());
    const uid = this.o.nodeUid();
    const owner = uid ? [{ apiVersion: 'v1', kind: 'Node', name: this.o.nodeName, uid }] : undefined;
    let lease = this.latest;
    this.latest = undefined;
    if (!lease) {
      try {
        lease = await this.o.client.get<Lease>(this.path);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    const spec = { holderIdentity: this.o.nodeName, leaseDurationSeconds: this.o.durationSeconds, renewTime: microTime(now) };
    if (!lease) {
      this.latest = await this.o.client.create<Lease>('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.o.nodeName, namespace: 'kube-node-lease', ...(owner ? { ownerReferences: owner } : {}) },
        spec,
      } satisfies Lease);
    } else {
      lease.spec = { ...lease.spec, ...spec };
      if (owner && !lease.metadata.ownerReferences?.length) lease.metadata.ownerReferences = owner;
      try {
        this.latest = await this.o.client.replace<Lease>(this.path, lease);
      } catch (e) {
        // Another writer, or a cached Lease gone with its Node: read the current one (or create it).
        if (isConflict(e) || isNotFound(e)) return this.renew();
        throw e;
      }
    }
  }
}
