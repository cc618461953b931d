// The contract between the generic virtual-kubelet core (src/) and a provider (provider/). The core knows
// the upper cluster, HTTP and leases; a provider knows where pods really run. Nothing else crosses.
import type { ResourceList } from './util/quantity.js';

export interface NodeCondition {
  ready: boolean;
  /** CamelCase reason, e.g. LowerClusterReady / LowerClusterUnreachable. */
  reason: string;
  message: string;
}

export interface ProviderNodeState {
  /** Whether the backing capacity is usable right now. */
  condition: NodeCondition;
  /** What the node can still take (capacity = allocatable). */
  resources: ResourceList;
  /** Labels derived from the backing capacity (os, arch, region, zone...). */
  labels: Record<string, string>;
  /** Informational: the count of backing machines, shown in nodeInfo/annotations. */
  backingNodes: number;
}

export interface Provider {
  /** Starts watches; resolves once the provider can answer nodeState() truthfully. */
  start(signal: AbortSignal): Promise<void>;
  stop(): Promise<void>;
  nodeState(): ProviderNodeState;
  /** Called (debounced by the provider) whenever nodeState() may have changed. */
  onNodeStateChange(listener: () => void): void;
}
