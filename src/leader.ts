// Leader election on a coordination.k8s.io/v1 Lease in the upper cluster, in the manner of client-go:
// a candidate takes the lease when it is free or has not been renewed for leaseDuration (measured on
// our own clock from when we last saw it change, so clock skew does not matter); the leader renews
// every retryPeriod and gives up when it cannot renew within renewDeadline. Only the leader writes:
// the WriteFence it extends on each renewal closes by itself at the renew deadline.
import type { Logger } from 'pino';
import { isConflict, isNotFound, type KubeClient } from './kube/client.js';
import { microTime } from './node/lease-controller.js';
import { sleep } from './util/backoff.js';
import type { WriteFence } from './kube/fence.js';

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

export interface LeaderClock {
  /** Monotonic milliseconds (keeps running while the process is stopped). */
  now(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}
const realClock: LeaderClock = { now: () => performance.now(), sleep };

export interface LeaderElectionOptions {
  /** A client without a write fence: the elector's own writes are what decides leadership. */
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
  log: Logger;
  /** Opened by the caller after a resync; extended on each renewal; closed at the renew deadline. */
  fence?: WriteFence;
  clock?: LeaderClock;
}

export class LeaderElector {
  private observedRecord = '';
  private observedAt = 0;
  private readonly path: string;
  private readonly clock: LeaderClock;
  private lastRenewStart = -Infinity;
  /** Set by release(): a stopping replica must not take the lease back. */
  private released = false;

  constructor(private readonly o: LeaderElectionOptions) {
    this.path = `/apis/coordination.k8s.io/v1/namespaces/${o.namespace}/leases/${o.name}`;
    this.clock = o.clock ?? realClock;
  }

  /**
   * Until when (monotonic ms) the lease we hold may be relied on: the start of the last successful
   * acquire or renew plus the renew deadline. Measured from the request's start, so it errs early.
   */
  get validUntil(): number {
    return this.lastRenewStart + this.o.renewDeadlineSeconds * 1000;
  }

  /** Resolves once we hold the lease; rejects only when the signal aborts. */
  async acquire(signal: AbortSignal): Promise<void> {
    let standbyLogged = false;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (await this.tryAcquireOrRenew()) {
          this.o.log.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity }, 'became leader');
          return;
        }
        if (!standbyLogged)
          this.o.log.info({ lease: `${this.o.namespace}/${this.o.name}` }, 'standing by: another replica holds the leader lease');
        standbyLogged = true;
        failures = 0;
      } catch (e) {
        // An unreachable API server fails every attempt: say so once, then quietly keep trying.
        if (failures++ === 0) this.o.log.warn({ err: (e as Error).message }, 'leader election attempt failed; retrying');
        else this.o.log.debug({ err: (e as Error).message, failures }, 'leader election attempt failed');
      }
      await this.clock.sleep(this.o.retryPeriodSeconds * 1000, signal);
    }
    throw new Error('stopped before becoming leader');
  }

  /**
   * Renews every retryPeriod; resolves when leadership is lost (another holder, or no successful
   * renewal within the renew deadline) or the signal aborts. Each renewal moves the fence's deadline.
   */
  async holdUntilLost(signal: AbortSignal): Promise<'lost' | 'aborted'> {
    while (!signal.aborted) {
      await this.clock.sleep(this.o.retryPeriodSeconds * 1000, signal);
      if (signal.aborted) break;
      if (this.clock.now() >= this.validUntil) {
        // E.g. the process was stopped: the lease may be someone else's by now.
        this.o.log.error('could not renew the leader lease within the renew deadline');
        return 'lost';
      }
      try {
        if (await this.tryAcquireOrRenew()) this.o.fence?.extend(this.validUntil);
        else {
          this.o.log.error('leader lease was taken by another replica');
          return 'lost';
        }
      } catch (e) {
        this.o.log.warn({ err: (e as Error).message }, 'renewing the leader lease failed');
      }
      if (this.clock.now() >= this.validUntil) {
        this.o.log.error('could not renew the leader lease within the renew deadline');
        return 'lost';
      }
      if (this.o.fence && !this.o.fence.isOpen) {
        // A renewal that landed just after the deadline: the fence closed meanwhile and only a
        // resync may open it again, so go through losing and regaining (immediate: we hold the lease).
        this.o.log.warn('the write fence closed at the renew deadline while a renewal was in flight');
        return 'lost';
      }
    }
    return 'aborted';
  }

  /** Gives the lease up on clean shutdown so a standby takes over at once. */
  async release(): Promise<void> {
    // From here on this replica never takes the lease again (its renew loop may still be running).
    this.released = true;
    try {
      const l = await this.o.client.get<LeaseObj>(this.path, { timeoutMs: 5000 });
      if (l.spec.holderIdentity !== this.o.identity) return;
      l.spec = { ...l.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(new Date()) };
      await this.o.client.replace(this.path, l, { timeoutMs: 5000 });
      this.o.log.info('released the leader lease');
    } catch (e) {
      // Best effort: the lease then expires on its own.
      this.o.log.warn({ err: (e as Error).message }, 'could not release the leader lease');
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    if (this.released) return false;
    const now = new Date();
    const started = this.clock.now();
    // A hung API server must not hold the renew loop past the deadline.
    const timeoutMs = this.o.renewDeadlineSeconds * 500;
    let lease: LeaseObj | undefined;
    try {
      lease = await this.o.client.get<LeaseObj>(this.path, { timeoutMs });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (!lease) {
      try {
        await this.o.client.create(
          `/apis/coordination.k8s.io/v1/namespaces/${this.o.namespace}/leases`,
          {
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
          },
          { timeoutMs },
        );
        this.lastRenewStart = started;
        return true;
      } catch (e) {
        if (isConflict(e)) return false;
        throw e;
      }
    }
    const record = JSON.stringify(lease.spec);
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = this.clock.now();
    }
    const holder = lease.spec.holderIdentity ?? '';
    const duration = (lease.spec.leaseDurationSeconds ?? this.o.leaseDurationSeconds) * 1000;
    const expired = !holder || this.clock.now() > this.observedAt + duration;
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
      const updated = await this.o.client.replace<LeaseObj>(this.path, lease, { timeoutMs });
      this.observedRecord = JSON.stringify(updated.spec);
      this.observedAt = this.clock.now();
      this.lastRenewStart = started;
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }
}
