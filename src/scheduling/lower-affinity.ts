// Which of a pod's node constraints are about lower nodes. One function for both sides, so that what
// the scheduler extender assumed when it let a pod onto a virtual node also holds below: the
// extender's fit checks exactly these constraints against the lower nodes, and translation keeps
// exactly these on the lower pod (the upper scheduler already checked the rest against the virtual
// node). Keys that are labels of the virtual node are virtual; every other key is a lower key. Pure.
import type { Affinity, Pod } from '../kube/types.js';

export interface Requirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface LowerConstraints {
  /** nodeSelector entries on lower keys. */
  selector: Record<string, string>;
  /** Required node-affinity terms (ORed) reduced to lower keys; undefined: no affinity constraint below. */
  terms?: Requirement[][];
}

export function matches(r: Requirement, labels: Record<string, string>): boolean {
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

/**
 * The pod's constraints on lower nodes, given the virtual node's labels. A required term counts only
 * if its virtual-key expressions hold on the virtual node (only such a term can have let the pod onto
 * it); a counted term with no lower-key expression leaves no constraint below.
 */
export function lowerConstraints(pod: Pod, virtualNodeLabels: Record<string, string>): LowerConstraints {
  const isVirtual = (k: string) => k in virtualNodeLabels;
  const selector = Object.fromEntries(Object.entries(pod.spec.nodeSelector ?? {}).filter(([k]) => !isVirtual(k)));
  const rawTerms =
    (pod.spec.affinity as Affinity | undefined)?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
      ?.nodeSelectorTerms ?? [];
  const terms: Requirement[][] = [];
  let unconstrained = rawTerms.length === 0;
  for (const t of rawTerms) {
    const exprs = t.matchExpressions ?? [];
    if (!exprs.filter((r) => isVirtual(r.key)).every((r) => matches(r, virtualNodeLabels))) continue;
    const lower = exprs.filter((r) => !isVirtual(r.key));
    if (!lower.length) unconstrained = true;
    else terms.push(lower);
  }
  // No term fits the virtual node (a pod bound by hand): invent no constraint.
  if (unconstrained || !terms.length) return { selector };
  return { selector, terms };
}

/** Whether a lower node's labels satisfy the constraints. */
export function satisfies(c: LowerConstraints, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(c.selector)) if (labels[k] !== v) return false;
  return !c.terms || c.terms.some((t) => t.every((r) => matches(r, labels)));
}

/** The constraints as lower pod spec fields (nodeSelector, affinity), only those that constrain. */
export function lowerSchedulingFields(c: LowerConstraints): { nodeSelector?: Record<string, string>; affinity?: unknown } {
  return {
    ...(Object.keys(c.selector).length ? { nodeSelector: c.selector } : {}),
    ...(c.terms
      ? {
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: c.terms.map((matchExpressions) => ({ matchExpressions })),
              },
            },
          },
        }
      : {}),
  };
}

/**
 * Adds a node pool's requirements (ANDed) to the constraints: into every required term, or as the one
 * term when the pod had none, so the lower scheduler cannot place the pod outside the pool.
 */
export function withPool(c: LowerConstraints, pool: Requirement[] | undefined): LowerConstraints {
  if (!pool?.length) return c;
  return { selector: c.selector, terms: c.terms ? c.terms.map((t) => [...t, ...pool]) : [pool] };
}
