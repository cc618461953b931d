// Leadership of one fedlet process. With leader election on, one fence guards every write of every
// controller to both clusters (src/kube/fence.ts): it opens while this replica holds the leader Lease and
// closes the moment it is lost; the replica then stands by, campaigns again, and on regaining the lease
// tells its controllers to resync from their caches (level-triggered, nothing remembered is trusted).
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { FedletConfig } from '../src/config.js';
import { WriteFence } from '../src/kube/fence.js';
import type { HealthState } from '../src/health.js';
import { LeaderElector } from '../src/leader.js';
import { clientFor } from './startup.js';

export class Leadership {
  readonly fence: WriteFence;
  role: HealthState['role'] = 'starting';
  private elector?: LeaderElector;
  private readonly onRegain: Array<() => void> = [];
  /** Ends when the process stops leading for good (aborted); undefined without leader election. */
  private campaign?: Promise<void>;

  constructor(
    private readonly cfg: FedletConfig,
    private readonly log: Logger,
  ) {
    this.fence = cfg.leaderElect ? new WriteFence() : WriteFence.alwaysOpen();
  }

  /** Resolves once this replica leads (at once without leader election). */
  async acquire(signal: AbortSignal): Promise<void> {
    const cfg = this.cfg;
    if (!cfg.leaderElect) return;
    const elector = new LeaderElector({
      // The elector's own writes decide leadership, so they do not pass the fence.
      client: clientFor('upper', cfg.upperKubeconfig, cfg),
      fence: this.fence,
      namespace: cfg.leaderElectionNamespace,
      name: `${cfg.nodeName}-leader`,
      identity: cfg.leaderElectionIdentity ?? process.env.POD_NAME ?? `${hostname()}_${process.pid}`,
      leaseDurationSeconds: cfg.leaderElectionLeaseSeconds,
      renewDeadlineSeconds: Math.max(2, Math.floor((cfg.leaderElectionLeaseSeconds * 2) / 3)),
      retryPeriodSeconds: 2,
      log: this.log.child({ component: 'leader' }),
    });
    this.elector = elector;
    this.role = 'standby';
    await elector.acquire(signal);
    this.fence.open(elector.validUntil);
    this.role = 'starting';
    this.campaign = this.keepLeading(elector, signal);
  }

  /** Called each time leadership is regained, once the fence is open again. */
  onRegained(h: () => void): void {
    this.onRegain.push(h);
  }

  /** Settles when leading has ended for good; undefined when there is no election. */
  get ended(): Promise<void> | undefined {
    return this.campaign;
  }

  /** Start-up is over: this replica now leads (unless it already lost the lease meanwhile). */
  started(): void {
    if (this.fence.isOpen) this.role = 'leader';
  }

  /**
   * Hands the lease over at once, so a standby takes over without waiting for it to expire. The fence
   * stops every further write first; a renewal still in flight cannot take the lease back (renewal and
   * release both replace the Lease at the resourceVersion they read).
   */
  async release(): Promise<void> {
    this.role = 'stopping';
    this.fence.close('this replica is stopping');
    await this.elector?.release();
  }

  private async keepLeading(el: LeaderElector, signal: AbortSignal): Promise<void> {
    for (;;) {
      if ((await el.holdUntilLost(signal)) === 'aborted') return;
      this.fence.close('this replica lost the leader lease');
      this.role = 'standby';
      this.log.warn('lost the leader lease: no writes to either cluster; standing by and campaigning again');
      try {
        await el.acquire(signal);
      } catch {
        return; // stopping
      }
      // Writes resume at once (node Lease and status first); controllers resync level-triggered.
      this.fence.open(el.validUntil);
      this.role = 'leader';
      this.log.info('leading again: resynchronising from caches');
      for (const h of this.onRegain) h();
    }
  }
}
