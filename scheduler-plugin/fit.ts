// Does a pod fit on some single node inside a lower cluster? Pure logic over a ClusterSummary:
// resources (effective requests incl. init containers and overhead), taints vs tolerations, and the
// pod's node selector / required node affinity terms that are not about the virtual node itself.
import type { Pod, Taint, Toleration } from '../src/kube/types.js';
import { podRequests } from '../src/util/pod-requests.js';
import type { ClusterSummary } from '../src/scheduling/summary.js';
import { lowerConstraints, satisfies } from '../src/scheduling/lower-affinity.js';

export function tolerates(tolerations: Toleration[] | undefined, t: Taint): boolean {
  return (tolerations ?? []).some((tol) => {
    if (tol.effect && tol.effect !== t.effect) return false;
    if (!tol.key) return tol.operator === 'Exists';
    if (tol.key !== t.key) return false;
    return tol.operator === 'Exists' || (tol.value ?? '') === (t.value ?? '');
  });
}

/**
 * Label constraints of the pod that must hold on the lower node: the same ones translation keeps on
 * the lower pod (src/scheduling/lower-affinity.ts); those about the virtual node are skipped.
 */
export function labelFilter(pod: Pod, virtualNodeLabels: Record<string, string>): (labels: Record<string, string>) => boolean {
  const c = lowerConstraints(pod, virtualNodeLabels);
  return (labels) => satisfies(c, labels);
}

export interface FitResult {
  fits: boolean;
  /** How many copies of the pod the cluster could take (0 when it does not fit). */
  copies: number;
  reason: string;
}

/**
 * A summary by column, parsed once per summary object: resource → free amount (milli-units) per row, and
 * each row's label set, taint set and node count. A filter call then walks typed arrays: no lookups,
 * pointer chasing or allocation per lower node (100 summaries × 1,000 rows per call at 100 virtual nodes).
 */
interface Columns {
  free: Map<string, Float64Array>;
  labelSet: Int32Array;
  taintSet: Int32Array;
  count: Float64Array;
}
const parsedColumns = new WeakMap<ClusterSummary, Columns>();
function columnsOf(s: ClusterSummary): Columns {
  let cols = parsedColumns.get(s);
  if (!cols) {
    const n = s.nodes.length;
    cols = { free: new Map(), labelSet: new Int32Array(n), taintSet: new Int32Array(n), count: new Float64Array(n) };
    for (let i = 0; i < n; i++) {
      const [li, ti, free, count] = s.nodes[i]!;
      cols.labelSet[i] = li;
      cols.taintSet[i] = ti;
      cols.count[i] = count;
      for (const [k, v] of Object.entries(free)) {
        let col = cols.free.get(k);
        if (!col) cols.free.set(k, (col = new Float64Array(n)));
        col[i] = Number(v);
      }
    }
    parsedColumns.set(s, cols);
  }
  return cols;
}

/** Copies of the pod that fit on row i (at most 1000). Missing resources are free 0. */
function copiesOn(i: number, cols: Array<Float64Array | undefined>, needs: number[]): number {
  let n = 1000;
  for (let r = 0; r < needs.length; r++) {
    const c = Math.floor((cols[r]?.[i] ?? 0) / needs[r]!);
    if (c < n) n = c;
    if (n <= 0) return 0;
  }
  return n;
}

/** The pod's non-zero effective requests, computed once per pod object: a filter call checks one pod against every summary. */
const podRequestCache = new WeakMap<Pod, Array<[string, number]>>();
function requestsOf(pod: Pod): Array<[string, number]> {
  let req = podRequestCache.get(pod);
  if (!req) {
    req = [...podRequests(pod.spec)].filter(([, v]) => v > 0n).map(([k, v]) => [k, Number(v)] as [string, number]);
    podRequestCache.set(pod, req);
  }
  return req;
}

export function fitInCluster(pod: Pod, s: ClusterSummary, virtualNodeLabels: Record<string, string>): FitResult {
  const req = requestsOf(pod);
  const labelsOk = labelFilter(pod, virtualNodeLabels);
  // Constraints are evaluated once per distinct label set and taint set, not once per node.
  const labelOk = s.labelSets.map((l) => labelsOk(l));
  const taintOk = s.taintSets.map((ts) => ts.every((t) => tolerates(pod.spec.tolerations, t)));
  const { free, labelSet, taintSet, count: counts } = columnsOf(s);
  const cols = req.map(([k]) => free.get(k));
  const needs = req.map(([, v]) => v);
  let copies = 0;
  let total = 0;
  const why = { resources: 0, taints: 0, labels: 0 };
  for (let i = 0; i < labelSet.length; i++) {
    const count = counts[i]!;
    total += count;
    if (!labelOk[labelSet[i]!]) {
      why.labels += count;
      continue;
    }
    if (!taintOk[taintSet[i]!]) {
      why.taints += count;
      continue;
    }
    const c = copiesOn(i, cols, needs);
    if (c < 1) {
      why.resources += count;
      continue;
    }
    copies += c * count;
  }
  if (copies > 0) return { fits: true, copies, reason: '' };
  const parts: string[] = [];
  if (why.resources)
    parts.push(
      `${why.resources} too little free ${
        req
          .map(([k]) => k)
          .filter((k) => k !== 'pods')
          .join('/') || 'capacity'
      }`,
    );
  if (why.taints) parts.push(`${why.taints} with untolerated taints`);
  if (why.labels) parts.push(`${why.labels} not matching the pod's node selector/affinity`);
  return {
    fits: false,
    copies: 0,
    reason: `no single node in lower cluster ${s.cluster} fits the pod (${total} Ready nodes: ${parts.join(', ') || 'none'})`,
  };
}

/** Score 0..10: clusters that could take more copies of the pod score higher. */
export function scores(copies: Map<string, number>): Map<string, number> {
  const max = Math.max(0, ...copies.values());
  const out = new Map<string, number>();
  for (const [n, c] of copies) out.set(n, max > 0 ? Math.round((10 * c) / max) : 0);
  return out;
}
