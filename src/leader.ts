// Leader election on a coordination.k8s.io/v1 Lease in the upper cluster, in the manner of client-go:
// a candidate takes the lease when it is free or has not been renewed for leaseDuration (measured on
// our own clock from when we last saw it change, so clock skew does not matter); the leader renews
// every retryPeriod and gives up when it cannot renew within renewDeadline. Only the leader writes.
import type { Logger } from 'pino';
import { isConflict, isNotFound, type KubeClient } from './kube/client.js';
import { microTime } from './node/lease-controller.js';
import { sleep } from './util/backoff.js';

interface LeaseObj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
  log: Logger;
}

export class LeaderElector {
  private observedRecord = '';
  private observedAt = 0;
  private readonly path: string;

  constructor(private readonly o: LeaderElectionOptions) {
    this.path = `/apis/coordination.k8s.io/v1/namespaces/${o.namespace}/leases/${o.name}`;
  }

  /** Resolves once we hold the lease. */
  async acquire(signal: AbortSignal): Promise<void> {
    let logged = false;
    while (!signal.aborted) {
      try {
        if (await this.tryAcquireOrRenew()) {
          this.o.log.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity }, 'became leader');
          return;
        }
        if (!logged)
          this.o.log.info({ lease: `${this.o.namespace}/${this.o.name}` }, 'standing by: another replica holds the leader lease');
        logged = true;
      } catch (e) {
        this.o.log.warn({ err: (e as Error).message }, 'leader election attempt failed');
      }
      await sleep(this.o.retryPeriodSeconds * 1000, signal);
    }
    throw new Error('stopped before becoming leader');
  }

  /** Renews until renewal fails for renewDeadline; resolves when leadership is lost (or signal aborts). */
  async holdUntilLost(signal: AbortSignal): Promise<void> {
    let lastOk = Date.now();
    while (!signal.aborted) {
      await sleep(this.o.retryPeriodSeconds * 1000, signal);
      if (signal.aborted) return;
      try {
        if (await this.tryAcquireOrRenew()) lastOk = Date.now();
        else {
          this.o.log.error('leader lease was taken by another replica');
          return;
        }
      } catch (e) {
        this.o.log.warn({ err: (e as Error).message }, 'renewing the leader lease failed');
      }
      if (Date.now() - lastOk > this.o.renewDeadlineSeconds * 1000) {
        this.o.log.error('could not renew the leader lease within the renew deadline');
        return;
      }
    }
  }

  /** Gives the lease up on clean shutdown so a standby takes over at once. */
  async release(): Promise<void> {
    try {
      const l = await this.o.client.get<LeaseObj>(this.path);
      if (l.spec.holderIdentity !== this.o.identity) return;
      l.spec = { ...l.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(new Date()) };
      await this.o.client.replace(this.path, l);
    } catch {
      /* best effort */
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    let lease: LeaseObj | undefined;
    try {
      lease = await this.o.client.get<LeaseObj>(this.path);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (!lease) {
      try {
        await this.o.client.create(`/apis/coordination.k8s.io/v1/namespaces/${this.o.namespace}/leases`, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: {
            holderIdentity: this.o.identity,
            leaseDurationSeconds: this.o.leaseDurationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        });
        return true;
      } catch (e) {
        if (isConflict(e)) return false;
        throw e;
      }
    }
    const record = JSON.stringify(lease.spec);
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = Date.now();
    }
    const holder = lease.spec.holderIdentity ?? '';
    const duration = (lease.spec.leaseDurationSeconds ?? this.o.leaseDurationSeconds) * 1000;
    const expired = !holder || Date.now() > this.observedAt + duration;
    if (holder !== this.o.identity && !expired) return false;
    const takingOver = holder !== this.o.identity;
    lease.spec = {
      ...lease.spec,
      holderIdentity: this.o.identity,
      leaseDurationSeconds: this.o.leaseDurationSeconds,
      renewTime: microTime(now),
      ...(takingOver ? { acquireTime: microTime(now), leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1 } : {}),
    };
    try {
      const updated = await this.o.client.replace<LeaseObj>(this.path, lease);
      this.observedRecord = JSON.stringify(updated.spec);
      this.observedAt = Date.now();
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }
}
