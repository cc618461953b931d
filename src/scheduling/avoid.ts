// Avoid records, the rule both sides share: after a bounce-back (provider/workload/bounce-back.ts) a
// controller's pods avoid the cluster that bounced them for a while. The provider records and publishes
// the record in the scheduling summary (summary.ts); the scheduler extender enforces it with avoidReason.
import type { Pod } from '../kube/types.js';
import type { ClusterSummary } from './summary.js';

/** The controller (ReplicaSet, StatefulSet, Job...) that owns a pod, by uid. */
export function controllerUid(pod: Pod): string | undefined {
  return pod.metadata.ownerReferences?.find((o) => o.controller)?.uid;
}

/**
 * Merges avoid entries (controller uid → ISO expiry) into `into`: unexpired ones only, the later expiry
 * winning. Returns whether anything changed.
 */
export function mergeAvoid(into: Record<string, string>, from: Record<string, unknown>, now: number): boolean {
  let changed = false;
  for (const [uid, until] of Object.entries(from)) {
    if (typeof until !== 'string') continue;
    const t = Date.parse(until);
    if (!(t > now) || (into[uid] && Date.parse(into[uid]) >= t)) continue;
    into[uid] = until;
    changed = true;
  }
  return changed;
}

/** Enforcement (in the scheduler extender): why this cluster must not take the pod now, if it must not. */
export function avoidReason(s: ClusterSummary, pod: Pod, now: number): string | undefined {
  const owner = controllerUid(pod);
  const until = owner ? s.avoid[owner] : undefined;
  if (!until || !(Date.parse(until) > now)) return undefined;
  return `pods of this controller were bounced from lower cluster ${s.cluster} (unschedulable there); avoiding it until ${until}`;
}
