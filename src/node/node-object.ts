// Pure construction of the virtual Node's desired labels, taints and status from config + provider state.
import type { FedletConfig } from '../config.js';
import type { NodeCondition, NodeStatus, Taint } from '../kube/types.js';
import type { ProviderNodeState } from '../provider.js';
import * as L from '../labels.js';
import { FEDLET_VERSION } from '../version.js';

/**
 * The taints fedlet sets: configured ones, plus fedlet.io/virtual-node=true:NoSchedule unless
 * DaemonSet pods are allowed (DaemonSets then skip the node; the admission webhook tolerates it for
 * every other pod).
 */
export function nodeTaints(cfg: Pick<FedletConfig, 'nodeTaints' | 'virtualNodeTaint' | 'allowDaemonSetPods'>): Taint[] {
  if (!cfg.virtualNodeTaint || cfg.allowDaemonSetPods || cfg.nodeTaints.some((t) => t.key === L.TAINT_VIRTUAL_NODE))
    return cfg.nodeTaints;
  return [...cfg.nodeTaints, { key: L.TAINT_VIRTUAL_NODE, value: 'true', effect: 'NoSchedule' }];
}

export function desiredLabels(cfg: FedletConfig, state: ProviderNodeState): Record<string, string> {
  const labels: Record<string, string> = {
    [L.LABEL_OS]: 'linux',
    [L.LABEL_ARCH]: 'amd64',
    ...state.labels,
    ...cfg.nodeLabels,
    [L.LABEL_TYPE]: L.TYPE_VIRTUAL_KUBELET,
    [L.LABEL_ROLE]: L.ROLE_AGENT,
    [L.LABEL_CLUSTER]: cfg.clusterName,
    [L.LABEL_HOSTNAME]: cfg.nodeName,
  };
  if (cfg.region) labels[L.LABEL_REGION] = cfg.region;
  if (cfg.zone) labels[L.LABEL_ZONE] = cfg.zone;
  return labels;
}

/** Ready condition + the pressure conditions a kubelet reports (always False: the lower cluster owns them). */
export function desiredConditions(state: ProviderNodeState, now: string, previous: NodeCondition[] = []): NodeCondition[] {
  const ready = state.condition;
  const want: NodeCondition[] = [
    { type: 'Ready', status: ready.ready ? 'True' : 'False', reason: ready.reason, message: ready.message },
    {
      type: 'MemoryPressure',
      status: 'False',
      reason: 'LowerClusterManaged',
      message: 'memory pressure is handled by the lower cluster',
    },
    {
      type: 'DiskPressure',
      status: 'False',
      reason: 'LowerClusterManaged',
      message: 'disk pressure is handled by the lower cluster',
    },
    {
      type: 'PIDPressure',
      status: 'False',
      reason: 'LowerClusterManaged',
      message: 'PID pressure is handled by the lower cluster',
    },
  ];
  return want.map((c) => {
    const prev = previous.find((p) => p.type === c.type);
    const transition = prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : now;
    return { ...c, lastHeartbeatTime: now, lastTransitionTime: transition };
  });
}

export function desiredStatus(cfg: FedletConfig, state: ProviderNodeState, now: string, previous?: NodeStatus): NodeStatus {
  return {
    capacity: state.resources,
    allocatable: state.resources,
    conditions: desiredConditions(state, now, previous?.conditions),
    // Only an InternalIP: the API server prefers Hostname when present, and the node name does not resolve.
    addresses: [{ type: 'InternalIP', address: cfg.nodeIP }],
    daemonEndpoints: { kubeletEndpoint: { Port: cfg.kubeletPort } },
    nodeInfo: {
      machineID: cfg.nodeName,
      systemUUID: cfg.nodeName,
      bootID: '',
      kernelVersion: '',
      osImage: `fedlet virtual node for cluster ${cfg.clusterName}`,
      containerRuntimeVersion: `fedlet://${FEDLET_VERSION}`,
      kubeletVersion: `v${FEDLET_VERSION}-fedlet`,
      kubeProxyVersion: '',
      operatingSystem: state.labels[L.LABEL_OS] ?? 'linux',
      architecture: state.labels[L.LABEL_ARCH] ?? 'amd64',
    },
  };
}

function taintId(t: { key: string; effect: string }): string {
  return `${t.key}:${t.effect}`;
}

/** Our taints replace the ones we set before; taints others set (e.g. node lifecycle) are kept. */
export function mergeTaints(current: Taint[] | undefined, previouslyManaged: string[], ours: Taint[]): Taint[] {
  const oursIds = new Set(ours.map(taintId));
  const prev = new Set(previouslyManaged);
  const kept = (current ?? []).filter((t) => !prev.has(taintId(t)) && !oursIds.has(taintId(t)));
  return [...kept, ...ours];
}

export function managedTaintIds(ours: Taint[]): string {
  return ours.map(taintId).sort().join(',');
}

/** Map patch that sets `want` and deletes keys present in `have` that we previously managed. */
export function labelPatch(
  have: Record<string, string> | undefined,
  previouslyManaged: string[],
  want: Record<string, string>,
): Record<string, string | null> {
  const patch: Record<string, string | null> = {};
  for (const k of previouslyManaged) if (!(k in want) && have && k in have) patch[k] = null;
  for (const [k, v] of Object.entries(want)) if (have?.[k] !== v) patch[k] = v;
  return patch;
}

/** Resource keys that vanished (e.g. the last GPU node left) must be removed explicitly in a merge patch. */
export function resourcePatch(
  have: Record<string, string> | undefined,
  want: Record<string, string>,
): Record<string, string | null> {
  const patch: Record<string, string | null> = { ...want };
  for (const k of Object.keys(have ?? {})) if (!(k in want)) patch[k] = null;
  return patch;
}
