// Upper NetworkPolicy → lower NetworkPolicy, so isolation meant in the upper cluster holds next to the
// pods below. Pure. Pod selectors, ports and ipBlocks are copied as they are. A namespaceSelector on
// the well-known name label (kubernetes.io/metadata.name) names an upper namespace: it is rewritten to
// the lower namespace fedlet maps it to; other namespace labels are matched against the lower
// namespaces' own labels (fedlet does not copy namespace labels). Peers that run in other clusters
// cannot be enforced below (the lower CNI sees only remapped or NATed addresses).
import { LABEL_NAMESPACE_NAME as NAMESPACE_NAME_LABEL } from '../../src/labels.js';
import type { ReflectedKind } from '../reflector.js';
import { stableJson as stable } from './reflected-meta.js';
import type { LabelSelector, NetworkPolicyPeer, NetworkPolicySpec } from '../../src/kube/types.js';

function mapNamespaceSelector(sel: LabelSelector, lowerNamespaceOf: (ns: string) => string): LabelSelector {
  const out: LabelSelector = structuredClone(sel);
  const name = out.matchLabels?.[NAMESPACE_NAME_LABEL];
  if (out.matchLabels && name !== undefined) out.matchLabels[NAMESPACE_NAME_LABEL] = lowerNamespaceOf(name);
  for (const e of out.matchExpressions ?? [])
    if (e.key === NAMESPACE_NAME_LABEL && e.values) e.values = e.values.map(lowerNamespaceOf);
  return out;
}

function mapPeers(
  peers: NetworkPolicyPeer[] | undefined,
  lowerNamespaceOf: (ns: string) => string,
): NetworkPolicyPeer[] | undefined {
  return peers?.map((p) =>
    p.namespaceSelector ? { ...p, namespaceSelector: mapNamespaceSelector(p.namespaceSelector, lowerNamespaceOf) } : p,
  );
}

export function desiredNetworkPolicySpec(
  upper: NetworkPolicySpec | undefined,
  lowerNamespaceOf: (ns: string) => string,
): NetworkPolicySpec {
  const spec: NetworkPolicySpec = structuredClone(upper ?? {});
  spec.podSelector ??= {};
  if (spec.ingress)
    spec.ingress = spec.ingress.map((r) => ({ ...r, ...(r.from ? { from: mapPeers(r.from, lowerNamespaceOf) } : {}) }));
  if (spec.egress) spec.egress = spec.egress.map((r) => ({ ...r, ...(r.to ? { to: mapPeers(r.to, lowerNamespaceOf) } : {}) }));
  return spec;
}

/** The whole spec is fedlet's: both sides are defaulted by API servers of the same rules. */
export function networkPolicySpecDiffers(desired: NetworkPolicySpec, lower: NetworkPolicySpec | undefined): boolean {
  return stable(desired) !== stable(lower ?? {});
}

export function networkPolicyKind(lowerNamespaceOf: (ns: string) => string): ReflectedKind<NetworkPolicySpec> {
  return {
    kind: 'NetworkPolicy',
    apiVersion: 'networking.k8s.io/v1',
    apiPrefix: '/apis/networking.k8s.io/v1',
    resource: 'networkpolicies',
    reflectable: () => true,
    desiredSpec: (upper) => desiredNetworkPolicySpec(upper, lowerNamespaceOf),
    specDiffers: networkPolicySpecDiffers,
    updateSpec: (desired) => desired,
  };
}
