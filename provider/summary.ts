// A compact summary of the lower cluster for the scheduler extender: per-node free resources, label
// sets and taint sets (deduplicated, identical nodes folded with a count), plus owners that were
// recently bounced from this cluster. Bounded in size for thousands of lower nodes.
import type { MilliList } from '../src/util/quantity.js';
import type { LowerNode, Taint } from './capacity.js';

export interface ClusterSummary {
  v: 1;
  node: string;
  cluster: string;
  generated: string;
  labelSets: Array<Record<string, string>>;
  taintSets: Taint[][];
  /** [labelSet index, taintSet index, free resources (milli-units as decimal strings), count] */
  nodes: Array<[number, number, Record<string, string>, number]>;
  /** controller owner uid → ISO time until which its pods should avoid this cluster */
  avoid: Record<string, string>;
  /** Upper fedlet storage class → the lower class serving it in this cluster, or why none does (claims.ts). */
  storage?: Record<string, { lower: string } | { reason: string }>;
}

export const SUMMARY_MAX_BYTES = 900 * 1024;

/**
 * Merges avoid entries (controller uid → ISO expiry) into `into`: unexpired ones only, the later expiry
 * winning. Returns whether anything changed.
 */
export function mergeAvoid(into: Record<string, string>, from: Record<string, unknown>, now = Date.now()): boolean {
  let changed = false;
  for (const [uid, until] of Object.entries(from)) {
    if (typeof until !== 'string') continue;
    const t = Date.parse(until);
    if (!(t > now) || (into[uid] && Date.parse(into[uid]) >= t)) continue;
    into[uid] = until;
    changed = true;
  }
  return changed;
}

export function buildSummary(
  node: string,
  cluster: string,
  nodes: LowerNode[],
  free: Map<string, MilliList>,
  avoid: Record<string, string>,
  now = new Date(),
): ClusterSummary {
  const labelIdx = new Map<string, number>();
  const taintIdx = new Map<string, number>();
  const labelSets: ClusterSummary['labelSets'] = [];
  const taintSets: ClusterSummary['taintSets'] = [];
  const rows = new Map<string, [number, number, Record<string, string>, number]>();
  for (const n of nodes) {
    const f = free.get(n.name);
    if (!f) continue; // not Ready or cordoned
    // The per-node hostname would make every label set unique; selectors on it address the virtual
    // node (which has its own kubernetes.io/hostname), so it is left out and identical nodes fold.
    const labels = Object.fromEntries(Object.entries(n.labels).filter(([k]) => k !== 'kubernetes.io/hostname'));
    const lk = JSON.stringify(Object.entries(labels).sort());
    if (!labelIdx.has(lk)) {
      labelIdx.set(lk, labelSets.length);
      labelSets.push(labels);
    }
    const taints = n.taints.filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
    const tk = JSON.stringify(taints.map((t) => [t.key, t.value ?? '', t.effect]).sort());
    if (!taintIdx.has(tk)) {
      taintIdx.set(tk, taintSets.length);
      taintSets.push(taints);
    }
    const res = Object.fromEntries([...f.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, v.toString()]));
    const key = `${labelIdx.get(lk)}|${taintIdx.get(tk)}|${JSON.stringify(res)}`;
    const row = rows.get(key);
    if (row) row[3]++;
    else rows.set(key, [labelIdx.get(lk)!, taintIdx.get(tk)!, res, 1]);
  }
  const live = Object.fromEntries(Object.entries(avoid).filter(([, until]) => Date.parse(until) > now.getTime()));
  return { v: 1, node, cluster, generated: now.toISOString(), labelSets, taintSets, nodes: [...rows.values()], avoid: live };
}
