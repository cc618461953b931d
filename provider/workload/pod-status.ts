// Upper pod status derived from its lower pod. Pure. The upper scheduler's PodScheduled condition stays; the
// lower scheduler's verdict appears as condition fedlet.io/LowerScheduled (naming the lower node once
// scheduled); IPs are remapped and the
// host IP is the virtual node's address.
import type { Pod, PodCondition, PodStatus } from '../../src/kube/types.js';
import type { IpRemapper } from './remap.js';
import { CONDITION_LOWER_SCHEDULED } from '../../src/labels.js';

export interface StatusContext {
  nodeIP: string;
  remapper: IpRemapper;
}

/**
 * The lower scheduler's verdict as condition fedlet.io/LowerScheduled. Once it is True, its message names
 * the lower node (the lower scheduler's message is empty then): the upper pod shows where it runs in the
 * status it writes anyway, so the lower `Scheduled` event need not be mirrored (lower-events.ts).
 */
export function lowerScheduled(c: PodCondition, lowerNode: string | undefined): PodCondition {
  const out = { ...c, type: CONDITION_LOWER_SCHEDULED };
  if (c.status === 'True' && !c.message && lowerNode) out.message = `scheduled to lower node ${lowerNode}`;
  return out;
}

export function upperStatusFromLower(lower: Pod, upper: Pod, ctx: StatusContext): PodStatus {
  const ls = lower.status ?? {};
  const conditions: PodCondition[] = [];
  const upperScheduled = upper.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (upperScheduled) conditions.push(upperScheduled);
  // Generations count spec changes of each pod separately. A lower kubelet that has observed its pod's
  // current generation has observed what fedlet translated from the upper pod's current one.
  const observed = (g: number | undefined): number | undefined =>
    g !== undefined && g === lower.metadata.generation ? upper.metadata.generation : undefined;
  for (const lc of ls.conditions ?? []) {
    const c = { ...lc };
    if (c.observedGeneration !== undefined) {
      const g = observed(c.observedGeneration);
      if (g === undefined) delete c.observedGeneration;
      else c.observedGeneration = g;
    }
    if (c.type === 'PodScheduled') conditions.push(lowerScheduled(c, lower.spec?.nodeName));
    else conditions.push(c);
  }
  const out: PodStatus = {
    phase: ls.phase ?? 'Pending',
    conditions,
    hostIP: ctx.nodeIP,
    hostIPs: [{ ip: ctx.nodeIP }],
  };
  if (ls.reason) out.reason = ls.reason;
  if (ls.message) out.message = ls.message;
  if (ls.startTime) out.startTime = ls.startTime;
  if (ls.qosClass) out.qosClass = ls.qosClass;
  if (ls.podIP) out.podIP = ctx.remapper.map(ls.podIP);
  if (ls.podIPs?.length) out.podIPs = ls.podIPs.map((p) => ({ ip: ctx.remapper.map(p.ip) }));
  else if (out.podIP) out.podIPs = [{ ip: out.podIP }];
  if (ls.containerStatuses) out.containerStatuses = ls.containerStatuses;
  if (ls.initContainerStatuses) out.initContainerStatuses = ls.initContainerStatuses;
  // What real kubelets report beyond kwok's stages, mirrored as they are.
  for (const f of ['ephemeralContainerStatuses', 'resources', 'resize', 'resourceClaimStatuses'])
    if (ls[f] !== undefined) out[f] = ls[f];
  const gen = observed(typeof ls.observedGeneration === 'number' ? ls.observedGeneration : undefined);
  if (gen !== undefined) out.observedGeneration = gen;
  return out;
}
