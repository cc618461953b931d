// Minimal merge patches for upper pod status: steady state writes nothing.
import type { PodStatus } from '../kube/types.js';

/** The status fields fedlet owns on upper pods (everything else is left alone). */
const ownedStatusFields = [
  'phase',
  'reason',
  'message',
  'conditions',
  'hostIP',
  'hostIPs',
  'podIP',
  'podIPs',
  'startTime',
  'qosClass',
  'containerStatuses',
  'initContainerStatuses',
  'ephemeralContainerStatuses',
  'observedGeneration',
  'resources',
  'resize',
  'resourceClaimStatuses',
] as const;

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) => {
    if (val && typeof val === 'object' && !Array.isArray(val))
      return Object.fromEntries(
        Object.entries(val as Record<string, unknown>)
          .filter(([, x]) => x !== undefined && x !== null)
          .sort(([a], [b]) => a.localeCompare(b)),
      );
    return val;
  });
}

/**
 * Merge patch for the upper pod's status that makes the owned fields equal `want`, or undefined when
 * they already are (so steady state writes nothing).
 */
export function statusPatch(current: PodStatus | undefined, want: PodStatus): { status: Record<string, unknown> } | undefined {
  const patch: Record<string, unknown> = {};
  for (const f of ownedStatusFields) {
    const have = current?.[f];
    const next = want[f];
    if (canonical(have) === canonical(next)) continue;
    patch[f] = next === undefined ? null : next;
  }
  return Object.keys(patch).length ? { status: patch } : undefined;
}
