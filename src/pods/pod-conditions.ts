// Pod conditions as a kubelet keeps them: fedlet writes only the condition types it owns and keeps
// everyone else's (a readiness gate's condition, DisruptionTarget, PodScheduled from the scheduler);
// Ready holds only when the containers are ready and every readiness gate's condition is True. Pure.
import type { ContainerStatus, Pod, PodCondition, PodStatus } from '../kube/types.js';

/** The condition types a kubelet owns on its pods. */
const KUBELET_TYPES = new Set([
  'Initialized',
  'Ready',
  'ContainersReady',
  'PodReadyToStartContainers',
  // In-place resize: the kubelet's verdict on the pod's requested resources.
  'PodResizePending',
  'PodResizeInProgress',
]);
/** Condition types fedlet adds of its own (e.g. fedlet.io/LowerScheduled) share this prefix. */
export const FEDLET_CONDITION_PREFIX = 'fedlet.io/';

export function ownsCondition(type: string): boolean {
  return KUBELET_TYPES.has(type) || type.startsWith(FEDLET_CONDITION_PREFIX);
}

export const REASON_READINESS_GATES = 'ReadinessGatesNotReady';

/** Ready as the kubelet computes it: `base` (containers ready) gated by the pod's readiness gates. */
export function gatedReady(base: PodCondition | undefined, pod: Pod, current: PodCondition[]): PodCondition | undefined {
  if (!base || base.status !== 'True') return base;
  const unmet: string[] = [];
  for (const g of pod.spec.readinessGates ?? []) {
    const c = current.find((x) => x.type === g.conditionType);
    if (!c) unmet.push(`corresponding condition of pod readiness gate "${g.conditionType}" does not exist.`);
    else if (c.status !== 'True')
      unmet.push(`the status of pod readiness gate "${g.conditionType}" is not "True", but ${c.status}`);
  }
  if (!unmet.length) return base;
  return { type: 'Ready', status: 'False', reason: REASON_READINESS_GATES, message: unmet.join(', ') };
}

/**
 * The upper pod's full condition list after fedlet's write: others' conditions as they are (in
 * place), fedlet's owned ones from `want` (owned types absent from `want` are removed), Ready gated.
 * A condition whose status did not change keeps its lastTransitionTime (no write for nothing).
 */
export function mergeConditions(pod: Pod, want: PodCondition[] | undefined, now = new Date().toISOString()): PodCondition[] {
  const current = pod.status?.conditions ?? [];
  const owned = (want ?? []).filter((c) => ownsCondition(c.type)).map((c) => ({ ...c }));
  const ready = owned.findIndex((c) => c.type === 'Ready');
  if (ready >= 0) {
    const gated = gatedReady(owned[ready], pod, current);
    if (gated && gated !== owned[ready])
      owned[ready] = {
        ...gated,
        lastTransitionTime: owned[ready]!.status === gated.status ? owned[ready]!.lastTransitionTime : now,
      };
  }
  for (const c of owned) {
    const prev = current.find((x) => x.type === c.type);
    if (prev?.status === c.status && prev.lastTransitionTime) c.lastTransitionTime = prev.lastTransitionTime;
    else if (!c.lastTransitionTime) c.lastTransitionTime = now;
  }
  const byType = new Map(owned.map((c) => [c.type, c]));
  const out: PodCondition[] = [];
  for (const c of current) {
    if (!ownsCondition(c.type)) out.push(c);
    else if (byType.has(c.type)) {
      out.push(byType.get(c.type)!);
      byType.delete(c.type);
    }
  }
  out.push(...byType.values());
  return out;
}

/**
 * Containers of a pod fedlet failed (its backing pod is gone or never existed) are not ready; those
 * that were running are reported terminated, as a kubelet reports containers it cannot find.
 */
export function failedContainerStatuses(
  statuses: ContainerStatus[] | undefined,
  now = new Date().toISOString(),
): ContainerStatus[] | undefined {
  if (!statuses) return statuses;
  return statuses.map((s) => {
    if (s.state?.terminated) return { ...s, ready: false, started: false };
    return {
      ...s,
      ready: false,
      started: false,
      state: {
        terminated: {
          exitCode: 137,
          reason: 'ContainerStatusUnknown',
          message: 'The container could not be located when the pod was terminated',
          ...(s.state?.running?.startedAt ? { startedAt: s.state.running.startedAt } : {}),
          finishedAt: now,
        },
      },
    };
  });
}

/** The status of a pod fedlet fails: phase Failed, owned readiness False, containers not ready. */
export function failedStatus(pod: Pod, reason: string, message: string): PodStatus {
  const st = pod.status ?? {};
  const conditions = (st.conditions ?? []).map((c) =>
    c.type === 'Ready' || c.type === 'ContainersReady' ? { ...c, status: 'False', reason, message } : c,
  );
  for (const type of ['Ready', 'ContainersReady'])
    if (!conditions.some((c) => c.type === type)) conditions.push({ type, status: 'False', reason, message });
  const out: PodStatus = { ...st, phase: 'Failed', reason, message, conditions };
  if (st.containerStatuses) out.containerStatuses = failedContainerStatuses(st.containerStatuses);
  if (st.initContainerStatuses) out.initContainerStatuses = failedContainerStatuses(st.initContainerStatuses);
  return out;
}
