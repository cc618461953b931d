// Storage truth for the extender: a pod whose unbound claims use a fedlet storage class fits a virtual
// node only if that node's lower cluster has a lower class for it (published in the summary's `storage`).
// Bound claims are left to the upper scheduler: their volume's node affinity already pins the pod.
import type { Pod } from '../src/kube/types.js';
import type { ClusterSummary } from '../src/scheduling/summary.js';

export interface ClaimView {
  storageClassName?: string;
  volumeName?: string;
}

/** Storage classes of the pod's claims that still need provisioning. */
export function unboundClaimClasses(pod: Pod, claimOf: (namespace: string, name: string) => ClaimView | undefined): string[] {
  const out = new Set<string>();
  for (const v of pod.spec.volumes ?? []) {
    if (v.persistentVolumeClaim) {
      const c = claimOf(pod.metadata.namespace ?? '', v.persistentVolumeClaim.claimName);
      if (c?.storageClassName && !c.volumeName) out.add(c.storageClassName);
    } else if (v.ephemeral) {
      const c = claimOf(pod.metadata.namespace ?? '', `${pod.metadata.name}-${v.name}`);
      if (c?.volumeName) continue;
      const cls =
        c?.storageClassName ??
        (v.ephemeral as { volumeClaimTemplate?: { spec?: { storageClassName?: string } } }).volumeClaimTemplate?.spec
          ?.storageClassName;
      if (cls) out.add(cls);
    }
  }
  return [...out];
}

/** Why the cluster cannot provision the pod's claims, or undefined when it can (or they are not fedlet's). */
export function storageRefusal(classes: string[], s: ClusterSummary): string | undefined {
  for (const cls of classes) {
    const t = s.storage?.[cls];
    if (t && 'reason' in t) return `no storage for claims of class ${cls} in lower cluster ${s.cluster}: ${t.reason}`;
  }
  return undefined;
}
