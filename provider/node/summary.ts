// Builds the scheduling summary of a lower cluster (format: src/scheduling/summary.ts): per-node free
// resources, label sets and taint sets (deduplicated, identical nodes folded with a count), plus the
// bounce-back record. Bounded in size for thousands of lower nodes.
import type { MilliList } from '../../src/util/quantity.js';
import type { LowerNode } from './capacity.js';
import { SUMMARY_FORMAT_VERSION, type ClusterSummary, type SummaryRow } from '../../src/scheduling/summary.js';
import { LABEL_HOSTNAME } from '../../src/labels.js';
import { byCodeUnit } from '../../src/util/order.js';

export function buildSummary(
  node: string,
  cluster: string,
  nodes: LowerNode[],
  free: Map<string, MilliList>,
  /** The live bounce-back record (BounceBack.live()). */
  avoid: Record<string, string>,
  now = new Date(),
): ClusterSummary {
  const labelIdx = new Map<string, number>();
  const taintIdx = new Map<string, number>();
  const labelSets: ClusterSummary['labelSets'] = [];
  const taintSets: ClusterSummary['taintSets'] = [];
  const rows = new Map<string, SummaryRow>();
  for (const n of nodes) {
    const f = free.get(n.name);
    if (!f) continue; // not Ready or cordoned
    // The per-node hostname would make every label set unique; selectors on it address the virtual
    // node (which has its own kubernetes.io/hostname), so it is left out and identical nodes fold.
    const labels = Object.fromEntries(Object.entries(n.labels).filter(([k]) => k !== LABEL_HOSTNAME));
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
    const res = Object.fromEntries([...f.entries()].sort(([a], [b]) => byCodeUnit(a, b)).map(([k, v]) => [k, v.toString()]));
    const key = `${labelIdx.get(lk)}|${taintIdx.get(tk)}|${JSON.stringify(res)}`;
    const row = rows.get(key);
    if (row) row[3]++;
    else rows.set(key, [labelIdx.get(lk)!, taintIdx.get(tk)!, res, 1]);
  }
  return {
    v: SUMMARY_FORMAT_VERSION,
    node,
    cluster,
    generated: now.toISOString(),
    labelSets,
    taintSets,
    nodes: [...rows.values()],
    avoid: { ...avoid },
  };
}
