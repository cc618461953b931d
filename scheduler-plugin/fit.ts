// Does a pod fit on some single node inside a lower cluster? Pure logic over a ClusterSummary:
// resources (effective requests incl. init containers and overhead), taints vs tolerations, and the
// pod's node selector / required node affinity terms that are not about the virtual node itself.
import type { Pod, Toleration } from '../src/kube/types.js';
import { podRequests } from '../src/util/pod-requests.js';
import type { ClusterSummary } from '../provider/summary.js';
import type { Taint } from '../provider/capacity.js';

interface Requirement {
  key: string;
  operator: string;
  values?: string[];
}
interface Affinity {
  nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: Array<{ matchExpressions?: Requirement[] }> } };
}

export function tolerates(tolerations: Toleration[] | undefined, t: Taint): boolean {
  return (tolerations ?? []).some((tol) => {
    if (tol.effect && tol.effect !== t.effect) return false;
    if (!tol.key) return tol.operator === 'Exists';
    if (tol.key !== t.key) return false;
    return tol.operator === 'Exists' || (tol.value ?? '') === (t.value ?? '');
  });
}

function matches(r: Requirement, labels: Record<string, string>): boolean {
  const v = labels[r.key];
  switch (r.operator) {
    case 'In':
      return v !== undefined && (r.values ?? []).includes(v);
    case 'NotIn':
      return v === undefined || !(r.values ?? []).includes(v);
    case 'Exists':
      return v !== undefined;
    case 'DoesNotExist':
      return v === undefined;
    case 'Gt':
      return v !== undefined && Number(v) > Number(r.values?.[0]);
    case 'Lt':
      return v !== undefined && Number(v) < Number(r.values?.[0]);
    default:
      return false;
  }
}

/** Label constraints of the pod that must hold on the lower node (those about the virtual node are skipped). */
export function labelFilter(pod: Pod, virtualNodeLabels: Record<string, string>): (labels: Record<string, string>) => boolean {
  const selector = Object.entries(pod.spec.nodeSelector ?? {}).filter(([k]) => !(k in virtualNodeLabels));
  const terms = ((pod.spec.affinity as Affinity | undefined)?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []).map((t) =>
    (t.matchExpressions ?? []).filter((r) => !(r.key in virtualNodeLabels)),
  );
  return (labels) => selector.every(([k, v]) => labels[k] === v) && (terms.length === 0 || terms.some((t) => t.every((r) => matches(r, labels))));
}

export interface FitResult {
  fits: boolean;
  /** How many copies of the pod the cluster could take (0 when it does not fit). */
  copies: number;
  reason: string;
}

/** Free resources of each summary row as numbers (milli-units), parsed once per summary object. */
const parsedRows = new WeakMap<ClusterSummary, Array<Map<string, number>>>();
function rowsOf(s: ClusterSummary): Array<Map<string, number>> {
  let rows = parsedRows.get(s);
  if (!rows) {
    rows = s.nodes.map(([, , free]) => new Map(Object.entries(free).map(([k, v]) => [k, Number(v)])));
    parsedRows.set(s, rows);
  }
  return rows;
}

function copiesOn(free: Map<string, number>, req: Array<[string, number]>): number {
  let n = 1000;
  for (const [r, need] of req) {
    const c = Math.floor((free.get(r) ?? 0) / need);
    if (c < n) n = c;
    if (n === 0) return 0;
  }
  return n;
}

export function fitInCluster(pod: Pod, s: ClusterSummary, virtualNodeLabels: Record<string, string>): FitResult {
  const req = [...podRequests(pod.spec)].filter(([, v]) => v > 0n).map(([k, v]) => [k, Number(v)] as [string, number]);
  const labelsOk = labelFilter(pod, virtualNodeLabels);
  // Constraints are evaluated once per distinct label set and taint set, not once per node.
  const labelOk = s.labelSets.map((l) => labelsOk(l));
  const taintOk = s.taintSets.map((ts) => ts.every((t) => tolerates(pod.spec.tolerations, t)));
  const rows = rowsOf(s);
  let copies = 0;
  let total = 0;
  const why = { resources: 0, taints: 0, labels: 0 };
  for (let i = 0; i < s.nodes.length; i++) {
    const [li, ti, , count] = s.nodes[i]!;
    total += count;
    if (!labelOk[li]) {
      why.labels += count;
      continue;
    }
    if (!taintOk[ti]) {
      why.taints += count;
      continue;
    }
    const c = copiesOn(rows[i]!, req);
    if (c < 1) {
      why.resources += count;
      continue;
    }
    copies += c * count;
  }
  if (copies > 0) return { fits: true, copies, reason: '' };
  const parts: string[] = [];
  if (why.resources) parts.push(`${why.resources} too little free ${req.map(([k]) => k).filter((k) => k !== 'pods').join('/') || 'capacity'}`);
  if (why.taints) parts.push(`${why.taints} with untolerated taints`);
  if (why.labels) parts.push(`${why.labels} not matching the pod's node selector/affinity`);
  return { fits: false, copies: 0, reason: `no single node in lower cluster ${s.cluster} fits the pod (${total} Ready nodes: ${parts.join(', ') || 'none'})` };
}

/** Score 0..10: clusters that could take more copies of the pod score higher. */
export function scores(copies: Map<string, number>): Map<string, number> {
  const max = Math.max(0, ...copies.values());
  const out = new Map<string, number>();
  for (const [n, c] of copies) out.set(n, max > 0 ? Math.round((10 * c) / max) : 0);
  return out;
}

export function controllerUid(pod: Pod): string | undefined {
  return pod.metadata.ownerReferences?.find((o) => o.controller)?.uid;
}
