// Bounce-back, the whole behaviour in one place. A lower pod that the lower scheduler keeps
// Unschedulable for bounceAfterSeconds is given back: fedlet deletes it and fails the upper pod, so its
// controller makes a replacement that the upper scheduler places elsewhere. So that the replacement
// does not land here again, the controller is recorded as avoiding this cluster for a while; the record
// is published in the scheduling summary (the extender enforces it) and, since the published summary is
// the record, taken back from it after a restart.
import type { Logger } from 'pino';
import type { Pod } from '../../src/kube/types.js';
import { controllerUid, mergeAvoid } from '../../src/scheduling/avoid.js';
import type { ClusterSummary } from '../../src/scheduling/summary.js';
import { realClock, type Clock } from '../../src/util/clock.js';

/** What to do about a lower pod, as far as bounce-back is concerned. */
export type BounceDecision =
  | { kind: 'none' }
  /** Unschedulable, but not for long enough yet: look again after retryAfterMs. */
  | { kind: 'recheck'; retryAfterMs: number }
  /** Give the pod back: delete the lower pod, fail the upper one with this reason and message. */
  | { kind: 'bounce'; reason: string; message: string };

const BOUNCE_REASON = 'LowerUnschedulable';

/** Pure decision over the lower pod's PodScheduled condition. */
export function bounceDecision(lower: Pod, o: { bounceAfterSeconds: number; clusterName: string }, now: number): BounceDecision {
  const unschedulable = lower.status?.conditions?.find(
    (c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable',
  );
  if (!unschedulable || lower.spec.nodeName || lower.metadata.deletionTimestamp) return { kind: 'none' };
  const since = Date.parse(unschedulable.lastTransitionTime ?? '') || now;
  const due = since + o.bounceAfterSeconds * 1000;
  // A little past the deadline, so the recheck does not land just before it.
  if (now < due) return { kind: 'recheck', retryAfterMs: due - now + 200 };
  return {
    kind: 'bounce',
    reason: BOUNCE_REASON,
    message: `lower cluster ${o.clusterName} could not schedule the pod for ${o.bounceAfterSeconds}s (${unschedulable.message ?? 'unschedulable'}); failing it so that its controller places a replacement elsewhere`,
  };
}

export interface BounceBackOptions {
  bounceAfterSeconds: number;
  /** After a bounce, the controller's pods avoid this cluster for this long. */
  avoidAfterBounceSeconds: number;
  clusterName: string;
  /** Called when the avoid record changed (the scheduling summary must be published again). */
  onChange: () => void;
  log: Logger;
  clock?: Clock;
}

/**
 * How long a pod about to be failed waits for the summary that keeps its controller away to be published.
 * Failing it first would let the controller's replacement be scheduled here again before the extender
 * knows; the bound keeps a publisher that cannot write (too large, API errors) from holding the pod forever.
 */
const PUBLISH_WAIT_MS = 15_000;
/** A decision repeated within this long does not move the expiry (no summary rewrite per retry). */
const REFRESH_SLACK_MS = 10_000;

export class BounceBack {
  /** controller owner uid → ISO time until which its pods should avoid this cluster. */
  private readonly avoid: Record<string, string> = {};
  /** controller owner uid → when its current entry was recorded (ms), until the extender has it. */
  private readonly unpublished = new Map<string, number>();
  private readonly clock: Clock;

  constructor(private readonly o: BounceBackOptions) {
    this.clock = o.clock ?? realClock;
  }

  /**
   * Decides about the lower pod of `upper`; a bounce is recorded (and logged) before it is returned.
   * `pinnedBy` names what keeps the pod in this cluster whatever happens (its claims' data lives here):
   * such a pod is never bounced. Its replacement could only come back here (the upper volume's node
   * affinity), and avoiding the cluster would leave it unschedulable everywhere; it waits in the lower
   * cluster instead, the lower scheduler's reason showing on the upper pod.
   */
  check(upper: Pod, lower: Pod, pinnedBy?: string): BounceDecision {
    const now = this.clock.now();
    const d = bounceDecision(lower, this.o, now);
    if (d.kind !== 'bounce') return d;
    if (pinnedBy) {
      this.o.log.debug({ pod: `${upper.metadata.namespace}/${upper.metadata.name}`, pinnedBy }, 'not bouncing a pinned pod');
      return { kind: 'none' };
    }
    this.avoidController(upper, 'bouncing a pod the lower cluster cannot schedule');
    return d;
  }

  /**
   * Keeps the pod's controller away from this cluster for avoidAfterBounceSeconds (published to the
   * extender), so its replacement is placed elsewhere: after a bounce, or when the lower cluster keeps
   * refusing the pod (lower-rejection.ts).
   */
  avoidController(upper: Pod, why: string): void {
    const now = this.clock.now();
    const owner = controllerUid(upper);
    if (owner) {
      const until = now + this.o.avoidAfterBounceSeconds * 1000;
      const current = Date.parse(this.avoid[owner] ?? '');
      // The same decision repeated while the pod waits for publication: nothing new to record or say.
      if (current >= until - REFRESH_SLACK_MS) return;
      this.avoid[owner] = new Date(until).toISOString();
      if (!this.unpublished.has(owner)) this.unpublished.set(owner, now);
      this.prune(now);
      this.o.onChange();
    }
    this.o.log.info(
      {
        pod: `${upper.metadata.namespace}/${upper.metadata.name}`,
        controller: owner,
        avoidUntil: owner ? this.avoid[owner] : undefined,
      },
      why,
    );
  }

  /**
   * Whether the extender can already keep `upper`'s controller away: its entry is in a published summary
   * (or it has none, or the wait for publication ran out). A pod is failed only then.
   */
  publishedFor(upper: Pod): boolean {
    const owner = controllerUid(upper);
    const since = owner ? this.unpublished.get(owner) : undefined;
    if (since === undefined) return true;
    if (this.clock.now() - since < PUBLISH_WAIT_MS) return false;
    this.o.log.warn(
      { pod: `${upper.metadata.namespace}/${upper.metadata.name}`, controller: owner },
      'the summary that keeps this controller away is not published yet; failing the pod anyway',
    );
    this.unpublished.delete(owner!);
    return true;
  }

  /** Told what a published summary carries: its entries are now enforced by the extender. */
  markPublished(published: Pick<ClusterSummary, 'avoid'>): void {
    for (const [owner, until] of Object.entries(published.avoid))
      if (this.unpublished.has(owner) && until === this.avoid[owner]) this.unpublished.delete(owner);
  }

  /** The unexpired record, for publication in the scheduling summary. */
  live(): Record<string, string> {
    const now = this.clock.now();
    return Object.fromEntries(Object.entries(this.avoid).filter(([, until]) => Date.parse(until) > now));
  }

  /** Takes back the record of the summary published before a restart. */
  restore(published: Pick<ClusterSummary, 'avoid'>): void {
    if (mergeAvoid(this.avoid, published.avoid, this.clock.now())) this.o.onChange();
  }

  private prune(now: number): void {
    for (const [k, until] of Object.entries(this.avoid))
      if (Date.parse(until) < now) {
        delete this.avoid[k];
        this.unpublished.delete(k);
      }
  }
}
