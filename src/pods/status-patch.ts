// Minimal merge patches for upper pod status: steady state writes nothing.
import type { PodStatus } from '../kube/types.js';
import { byCodeUnit } from '../util/order.js';

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
          .sort(([a], [b]) => byCodeUnit(a, b)),
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

/**
 * How long a status change that is not urgent may wait to be written together with the next ones. A pod
 * passes through several Pending states within moments of its creation (created below, scheduled below,
 * containers created); written one by one they cost a patch each, while the next urgent change (Running,
 * Ready) carries them all.
 */
export const STATUS_COALESCE_MS = 1000;

/**
 * Whether the change from `current` to `want` must be written at once: the phase, the reason or message
 * (why a pod waits or failed), or readiness (Ready turning True or leaving True; Services and rollouts
 * wait on it). Everything else — conditions on the way, container states while Pending, the host IP —
 * may wait up to STATUS_COALESCE_MS.
 */
export function urgentStatusChange(current: PodStatus | undefined, want: PodStatus): boolean {
  if ((current?.phase ?? 'Pending') !== (want.phase ?? 'Pending')) return true;
  if ((current?.reason ?? '') !== (want.reason ?? '') || (current?.message ?? '') !== (want.message ?? '')) return true;
  const ready = (s: PodStatus | undefined) => s?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  return ready(current) !== ready(want);
}
