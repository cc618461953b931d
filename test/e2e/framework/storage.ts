// Storage tests look at the lower side of a virtual node: its lower cluster's kubeconfig, the lower
// namespace an upper namespace maps to there, and the cluster's name.
import type { SandboxState } from '../../../sandbox/sandbox.js';
import { lowerNamespaceFor } from './namespaces.js';

export interface LowerSide {
  kubeconfig: string;
  /** The lower namespace of upper namespace `ns` (as the fedlet maps it). */
  ns: string;
  cluster: string;
}

/** The lower side of virtual node `node` of sandbox `s`, for upper namespace `ns`. */
export function lowerOf(s: SandboxState, node: string, ns: string): LowerSide {
  const i = s.fedlets.findIndex((f) => f.nodeName === node);
  if (i < 0) throw new Error(`${node} is not a virtual node of the sandbox`);
  return { kubeconfig: s.lowerKubeconfigs[i]!, ns: lowerNamespaceFor(s.fedlets[i]!, ns), cluster: s.fedlets[i]!.cluster };
}
