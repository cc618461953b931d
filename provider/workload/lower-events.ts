// Which lower events about a pod are mirrored onto the upper pod. Each mirrored event is an upper write,
// so only those that tell the upper user something the pod's mirrored status does not: every Warning,
// and the Normal ones that say what happened below (an image pull and its duration, a container
// killed, …). The lower scheduler's Scheduled event and a kubelet's routine Created and Started events
// repeat what the status says (the lower node, the containers' states); "image already present" says
// nothing happened.

export interface LowerEventLike {
  type?: string;
  reason?: string;
  message?: string;
}

/**
 * Normal reasons whose content the upper pod's status already carries: the lower node a pod was scheduled
 * to (condition fedlet.io/LowerScheduled, pod-status.ts), its containers' states.
 */
const SHOWN_BY_STATUS = new Set(['Scheduled', 'Created', 'Started']);

/** Whether a lower event about one of our pods is worth an upper write. */
export function worthMirroring(e: LowerEventLike): boolean {
  if (e.type === 'Warning') return true;
  if (SHOWN_BY_STATUS.has(e.reason ?? '')) return false;
  if (e.reason === 'Pulled' && /already present on machine/.test(e.message ?? '')) return false;
  return true;
}
