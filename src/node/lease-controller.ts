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
    let lease: Lease | undefined;
    try {
      lease = await this.o.client.get<Lease>(this.path);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    const spec = { holderIdentity: this.o.nodeName, leaseDurationSeconds: this.o.durationSeconds, renewTime: microTime(now) };
    if (!lease) {
      await this.o.client.create('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.o.nodeName, namespace: 'kube-node-lease', ...(owner ? { ownerReferences: owner } : {}) },
        spec,
      } satisfies Lease);
    } else {
      lease.spec = { ...lease.spec, ...spec };
      if (owner && !lease.metadata.ownerReferences?.length) lease.metadata.ownerReferences = owner;
      try {
        await this.o.client.replace(this.path, lease);
      } catch (e) {
        if (isConflict(e)) return this.renew();
        throw e;
      }
    }
  }
}
