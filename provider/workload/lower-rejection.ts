// The lower API server refused to create a pod (admission, quota, validation, size limits). Pure
// decisions: is an error such a refusal, will it go away by itself, when to try again, and when a
// pod has waited long enough to be failed so that its controller places it elsewhere.
import { KubeApiError } from '../../src/kube/client.js';
import type { PodCondition } from '../../src/kube/types.js';

/** Upper pod status reason (and condition reason) while the lower cluster refuses the pod. */
export const REASON_LOWER_REJECTED = 'LowerRejected';
/** Upper pod condition: False while the lower API server refuses to create the pod. */
export const CONDITION_LOWER_ACCEPTED = 'fedlet.io/LowerAccepted';

export interface LowerRejection {
  /** HTTP status of the lower answer (400, 403, 413, 422). */
  code: number;
  /** The lower API server's own message, without our request line. */
  message: string;
  /**
   * Whether the refusal can clear without anyone changing the pod (a quota frees up, a terminating
   * namespace goes away, an operator fixes RBAC). Permanent refusals fail the pod after a while.
   */
  transient: boolean;
}

/** Refusals that clear by themselves: quota, a namespace being deleted, fedlet's own missing rights. */
const TRANSIENT = [
  /exceeded quota/i,
  /status unknown for quota/i,
  /because it is being terminated/i,
  // A namespace fedlet just created has no "default" ServiceAccount until the lower controller-manager
  // makes it; admission refuses pods meanwhile (a kubelet's pods never meet this: they exist already).
  /error looking up service account [^/\s]+\/default: serviceaccount "default" not found/i,
  /cannot (create|update|patch|get) resource/i, // RBAC of fedlet itself: an operator fixes it
];

/** Classifies an error from a lower create; undefined when it is not a refusal (retry as usual). */
export function classifyRejection(e: unknown): LowerRejection | undefined {
  if (!(e instanceof KubeApiError)) return undefined;
  if (![400, 403, 413, 422].includes(e.code)) return undefined;
  // KubeApiError messages start with "<METHOD> <path>: <code> "; the lower server's text follows.
  const message = e.message.replace(/^[A-Z]+ \S+: \d{3} /, '');
  return { code: e.code, message, transient: TRANSIENT.some((r) => r.test(message)) };
}

export interface RejectionPolicy {
  /** Seconds a permanently refused pod waits before it is failed (as bounce-back does). */
  failAfterSeconds: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export type RejectionDecision =
  { kind: 'retry'; retryAfterMs: number; condition: PodCondition; message: string } | { kind: 'fail'; message: string };

interface Attempts {
  since: number;
  n: number;
}

/**
 * Remembers refusals per upper pod uid (bounded) to back off retries and to find the deadline. The
 * start of a refusal also lives in the upper condition's lastTransitionTime, so a restart keeps it.
 */
export class RejectionTracker {
  private readonly seen = new Map<string, Attempts>();
  /** upper key → the last refusal's text (what `kubectl logs/exec` answer for a pod that never started). */
  private readonly messages = new Map<string, string>();

  constructor(
    private readonly policy: RejectionPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** The lower cluster accepted the pod: forget its refusals. */
  accepted(uid: string | undefined, key: string): void {
    if (uid) this.seen.delete(uid);
    this.messages.delete(key);
  }

  /** The last refusal of the pod with this upper key (namespace/name), unless accepted since. */
  lastMessage(key: string): string | undefined {
    return this.messages.get(key);
  }

  /**
   * Decides what to do with a refused pod. `previous` is the upper pod's current LowerAccepted
   * condition (its lastTransitionTime dates the refusal across restarts); `cluster` names the lower cluster.
   */
  decide(
    pod: { uid: string; key: string },
    r: LowerRejection,
    previous: PodCondition | undefined,
    cluster: string,
  ): RejectionDecision {
    const { uid, key } = pod;
    const now = this.now();
    let a = this.seen.get(uid);
    if (!a) {
      const restored = previous?.status === 'False' ? Date.parse(previous.lastTransitionTime ?? '') : NaN;
      a = { since: Number.isFinite(restored) && restored <= now ? restored : now, n: 0 };
      this.seen.set(uid, a);
      if (this.seen.size > 10_000) this.seen.delete(this.seen.keys().next().value!);
    }
    a.n++;
    const message = `lower cluster ${cluster} refused the pod (${r.code}): ${r.message}`;
    this.messages.set(key, message);
    if (this.messages.size > 10_000) this.messages.delete(this.messages.keys().next().value!);
    const due = a.since + this.policy.failAfterSeconds * 1000;
    if (!r.transient && now >= due) {
      this.seen.delete(uid);
      return {
        kind: 'fail',
        message: `${message}; failing the pod after ${this.policy.failAfterSeconds}s so that its controller places a replacement elsewhere`,
      };
    }
    let retryAfterMs = Math.min(this.policy.maxDelayMs ?? 30_000, (this.policy.baseDelayMs ?? 1000) * 2 ** (a.n - 1));
    if (!r.transient) retryAfterMs = Math.max(50, Math.min(retryAfterMs, due - now + 100));
    const condition: PodCondition = {
      type: CONDITION_LOWER_ACCEPTED,
      status: 'False',
      reason: REASON_LOWER_REJECTED,
      message,
      lastTransitionTime:
        previous?.status === 'False' && previous.lastTransitionTime
          ? previous.lastTransitionTime
          : new Date(a.since).toISOString(),
    };
    return { kind: 'retry', retryAfterMs, condition, message };
  }
}
