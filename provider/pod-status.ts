// Upper pod status derived from its lower pod. Pure. The upper scheduler's PodScheduled condition stays; the
// lower scheduler's verdict appears as condition fedlet.io/LowerScheduled; IPs are remapped and the
// host IP is the virtual node's address.
import type { Pod, PodCondition, PodStatus } from '../src/kube/types.js';
import type { IpRemapper } from './remap.js';
import { CONDITION_LOWER_SCHEDULED } from '../src/labels.js';

export interface StatusContext {
  nodeIP: string;
  remapper: IpRemapper;
}

export function upperStatusFromLower(lower: Pod, upper: Pod, ctx: StatusContext): PodStatus {
  const ls = lower.status ?? {};
  const conditions: PodCondition[] = [];
  const upperScheduled = upper.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (upperScheduled) conditions.push(upperScheduled);
  for (const c of ls.conditions ?? []) {
    if (c.type === 'PodScheduled') conditions.push({ ...c, type: CONDITION_LOWER_SCHEDULED });
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
  return out;
}
