// What a lower cluster can still take: for every Ready, schedulable lower node, its allocatable minus
// the requests of the non-terminal pods on it that this fedlet does not manage (clamped at zero per node,
// so one over-committed node never hides another's free room), summed over nodes.
import { addInto, type MilliList } from '../../src/util/quantity.js';
import type { Taint } from '../../src/kube/types.js';
import { matches, type Requirement } from '../../src/scheduling/lower-affinity.js';

export interface LowerNode {
  name: string;
  ready: boolean;
  unschedulable: boolean;
  allocatable: MilliList;
  labels: Record<string, string>;
  taints: Taint[];
  /** Where the node's kubelet serves resource metrics, when it says (metrics.k8s.io/resource-metrics-path). */
  resourceMetricsPath?: string;
}

export interface LowerPod {
  nodeName?: string;
  requests: MilliList;
  /** True for pods this fedlet created (they are accounted for in the upper cluster already). */
  managed: boolean;
}

const baseResources = ['cpu', 'memory', 'ephemeral-storage', 'pods'] as const;

/** The lower nodes a virtual node offers: those meeting the lower-node floor (lowerNodeSelector); all without one. */
export function withinFloor(nodes: LowerNode[], floor: readonly Requirement[]): LowerNode[] {
  return floor.length ? nodes.filter((n) => floor.every((r) => matches(r, n.labels))) : nodes;
}

export function schedulable(n: LowerNode): boolean {
  return n.ready && !n.unschedulable;
}

/** Free resources per counted lower node (name → free list). */
export function freePerNode(nodes: Iterable<LowerNode>, pods: Iterable<LowerPod>): Map<string, MilliList> {
  const used = new Map<string, MilliList>();
  for (const p of pods) {
    if (p.managed || !p.nodeName) continue;
    let u = used.get(p.nodeName);
    if (!u) used.set(p.nodeName, (u = new Map()));
    addInto(u, p.requests);
  }
  const out = new Map<string, MilliList>();
  for (const n of nodes) {
    if (!schedulable(n)) continue;
    const free: MilliList = new Map();
    const u = used.get(n.name);
    for (const [res, alloc] of n.allocatable) {
      const left = alloc - (u?.get(res) ?? 0n);
      free.set(res, left > 0n ? left : 0n);
    }
    out.set(n.name, free);
  }
  return out;
}

/** Sum of free resources over counted nodes; the base resources are always present (0 when none). */
export function freeCapacity(nodes: Iterable<LowerNode>, pods: Iterable<LowerPod>): MilliList {
  const total: MilliList = new Map(baseResources.map((r) => [r, 0n]));
  for (const free of freePerNode(nodes, pods).values()) addInto(total, free);
  return total;
}

/** The value every counted node agrees on for a label, or undefined when they differ or none exist. */
export function agreedLabel(nodes: Iterable<LowerNode>, key: string): string | undefined {
  let value: string | undefined;
  let seen = false;
  for (const n of nodes) {
    if (!schedulable(n)) continue;
    const v = n.labels[key];
    if (v === undefined) return undefined;
    if (seen && v !== value) return undefined;
    value = v;
    seen = true;
  }
  return value;
}
