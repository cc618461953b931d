// A kubelet's NodeAffinity admission, for the virtual node: a pod bound to a node runs there only if its
// nodeSelector and required node affinity match that node; otherwise it fails (phase Failed, reason
// NodeAffinity) and never starts. The scheduler (with fedlet's extender) checks this for the pods it
// binds; a pod bound by hand (spec.nodeName set at creation) was checked by nobody. For the virtual
// node the constraints are checked as the scheduler and extender would (lower-affinity.ts): keys the
// virtual node carries against its labels, matchFields against its name, the other keys (lower keys)
// against the lower nodes it offers — for hand-bound pods only (the extender checked the others). Pure.
import type { Affinity, Pod } from '../../src/kube/types.js';
import { matches, type Requirement } from '../../src/scheduling/lower-affinity.js';

export const REASON_NODE_AFFINITY = 'NodeAffinity';

export interface AdmissionNode {
  name: string;
  labels: Record<string, string>;
  /** Labels of the lower nodes the virtual node offers (Ready, schedulable, within pool and floor); undefined: not checked. */
  lowerNodes?: Array<Record<string, string>>;
}

/** Whether the upper scheduler bound the pod (binding sets PodScheduled=True; a hand-bound pod has none). */
export function boundByScheduler(pod: Pod): boolean {
  return !!pod.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'True');
}

/** Why the pod may not run on `node` (a kubelet's NodeAffinity admission), or undefined. */
export function nodeAffinityRefusal(pod: Pod, node: AdmissionNode): string | undefined {
  const isVirtual = (k: string) => k in node.labels;
  const offered = node.lowerNodes;
  const checkLower = offered !== undefined && !boundByScheduler(pod);
  const selector = Object.entries(pod.spec.nodeSelector ?? {});
  const lowerSelector: Requirement[] = [];
  for (const [k, v] of selector) {
    if (isVirtual(k)) {
      if (node.labels[k] !== v) return refusal(pod, node, `nodeSelector ${k}=${v} (the node has ${k}=${node.labels[k]})`);
    } else lowerSelector.push({ key: k, operator: 'In', values: [v] });
  }
  const terms = (pod.spec.affinity as Affinity | undefined)?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
    ?.nodeSelectorTerms;
  // Terms are ORed: one whose virtual part holds (and, for a hand-bound pod, whose lower part some
  // offered lower node satisfies together with the selector's lower part) admits the pod.
  const candidates = (terms?.length ? terms : [{}]).filter((t) => {
    const exprs = t.matchExpressions ?? [];
    if (!exprs.filter((r) => isVirtual(r.key)).every((r) => matches(r, node.labels))) return false;
    if (!(t.matchFields ?? []).every((r) => r.key === 'metadata.name' && matches({ ...r, key: 'name' }, { name: node.name })))
      return false;
    if (!checkLower) return true;
    const lower = [...lowerSelector, ...exprs.filter((r) => !isVirtual(r.key))];
    return !lower.length || offered.some((l) => lower.every((r) => matches(r, l)));
  });
  if (candidates.length) return undefined;
  return refusal(
    pod,
    node,
    terms?.length
      ? 'its required node affinity'
      : `nodeSelector ${lowerSelector.map((r) => `${r.key}=${r.values![0]}`).join(',')} (no lower node it offers has these labels)`,
  );
}

function refusal(pod: Pod, node: AdmissionNode, what: string): string {
  return `Pod was rejected: Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector: pod ${pod.metadata.namespace}/${pod.metadata.name} is bound to virtual node ${node.name} but ${what} does not match it`;
}
