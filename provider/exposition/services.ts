// Upper Service → lower Service. Pure: what the lower copy's spec should be, which fields fedlet owns
// (compared before any write), and the update body that keeps what the lower cluster allocated
// (ClusterIPs, NodePorts). Wired into the generic Reflector (reflector.ts).
import type { Service, ServicePort, ServiceSpec } from '../../src/kube/types.js';
import type { ReflectedKind } from '../reflector.js';
import { stableJson as stable } from './reflected-meta.js';

/**
 * How upper Service types map below. `clusterip`: NodePort and LoadBalancer become ClusterIP (the
 * upper cluster's node ports and load balancers are its own business; below, only in-cluster traffic
 * needs the Service). `preserve`: the type is kept and the lower cluster allocates its own node ports
 * and load balancer. ExternalName is copied as is in both modes.
 */
export type ServiceTypeMode = 'clusterip' | 'preserve';

/** Upper Services that must never be reflected: the upper API server's own. */
export function isReflectable(upper: Service): boolean {
  return !(upper.metadata.namespace === 'default' && upper.metadata.name === 'kubernetes');
}

const isHeadless = (s: ServiceSpec | undefined) => s?.clusterIP === 'None';
const typeOf = (s: ServiceSpec | undefined) => s?.type ?? 'ClusterIP';
const needsClusterIP = (s: ServiceSpec | undefined) => typeOf(s) !== 'ExternalName' && !isHeadless(s);
const hasNodePorts = (s: ServiceSpec | undefined) => typeOf(s) === 'NodePort' || typeOf(s) === 'LoadBalancer';

function copyPort(p: ServicePort): ServicePort {
  const out: ServicePort = { port: p.port };
  if (p.name !== undefined) out.name = p.name;
  if (p.protocol !== undefined) out.protocol = p.protocol;
  if (p.targetPort !== undefined) out.targetPort = p.targetPort;
  if (p.appProtocol !== undefined) out.appProtocol = p.appProtocol;
  return out;
}

function pick<K extends keyof ServiceSpec>(from: ServiceSpec, to: ServiceSpec, keys: readonly K[]): void {
  for (const k of keys) if (from[k] !== undefined) to[k] = structuredClone(from[k]);
}

/**
 * The spec of the lower copy. Never carries clusterIP(s), nodePorts, healthCheckNodePort or
 * externalIPs (addresses of the upper cluster); headless stays headless.
 */
export function desiredServiceSpec(upper: ServiceSpec | undefined, mode: ServiceTypeMode): ServiceSpec {
  const s = upper ?? {};
  const upperType = typeOf(s);
  const type = upperType === 'ExternalName' || mode === 'preserve' ? upperType : 'ClusterIP';
  const spec: ServiceSpec = { type };
  if (s.ports) spec.ports = s.ports.map(copyPort);
  if (type === 'ExternalName') {
    pick(s, spec, ['externalName']);
    return spec;
  }
  if (isHeadless(s)) spec.clusterIP = 'None';
  pick(s, spec, [
    'selector',
    'publishNotReadyAddresses',
    'sessionAffinity',
    'sessionAffinityConfig',
    'ipFamilies',
    'ipFamilyPolicy',
    'internalTrafficPolicy',
    'trafficDistribution',
  ]);
  if (hasNodePorts(spec)) pick(s, spec, ['externalTrafficPolicy']);
  if (type === 'LoadBalancer') pick(s, spec, ['loadBalancerClass', 'loadBalancerSourceRanges', 'allocateLoadBalancerNodePorts']);
  return spec;
}

/**
 * The fields fedlet owns, normalised with the API server's defaults so that a freshly defaulted lower
 * object and the desired spec compare equal. Lower-allocated values are not part of it.
 */
export function ownedServiceView(s: ServiceSpec | undefined): Record<string, unknown> {
  const spec = s ?? {};
  const type = typeOf(spec);
  const view: Record<string, unknown> = {
    type,
    ports: (spec.ports ?? []).map((p) => ({
      name: p.name ?? '',
      protocol: p.protocol ?? 'TCP',
      port: p.port,
      targetPort: type === 'ExternalName' ? (p.targetPort ?? null) : (p.targetPort ?? p.port),
      appProtocol: p.appProtocol ?? '',
    })),
  };
  if (type === 'ExternalName') return { ...view, externalName: spec.externalName ?? '' };
  return {
    ...view,
    headless: isHeadless(spec),
    selector: spec.selector ?? {},
    publishNotReadyAddresses: spec.publishNotReadyAddresses ?? false,
    sessionAffinity: spec.sessionAffinity ?? 'None',
    sessionAffinityConfig: spec.sessionAffinity === 'ClientIP' ? (spec.sessionAffinityConfig ?? null) : null,
    ipFamilies: spec.ipFamilies,
    ipFamilyPolicy: spec.ipFamilyPolicy,
    internalTrafficPolicy: spec.internalTrafficPolicy,
    trafficDistribution: spec.trafficDistribution ?? null,
    ...(hasNodePorts(spec) ? { externalTrafficPolicy: spec.externalTrafficPolicy } : {}),
    ...(type === 'LoadBalancer'
      ? {
          loadBalancerClass: spec.loadBalancerClass ?? null,
          loadBalancerSourceRanges: spec.loadBalancerSourceRanges ?? [],
          allocateLoadBalancerNodePorts: spec.allocateLoadBalancerNodePorts,
        }
      : {}),
  };
}

/**
 * True when the lower spec differs from the desired one in a field fedlet owns. A field the desired
 * spec leaves to the server's defaulting (undefined) is not compared.
 */
export function serviceSpecDiffers(desired: ServiceSpec | undefined, lower: ServiceSpec | undefined): boolean {
  const d = ownedServiceView(desired);
  const l = ownedServiceView(lower);
  for (const [k, v] of Object.entries(d)) if (v !== undefined && stable(v) !== stable(l[k])) return true;
  return Object.keys(l).some((k) => !(k in d) && l[k] !== undefined);
}

/**
 * The spec to PUT over the lower copy: the desired one plus what the lower cluster allocated and may
 * keep (ClusterIPs, node ports of ports that stay). 'recreate' when an immutable choice changed
 * (headless ↔ not headless).
 */
export function serviceUpdateSpec(desired: ServiceSpec, lower: ServiceSpec | undefined): ServiceSpec | 'recreate' {
  const l = lower ?? {};
  if (typeOf(desired) !== 'ExternalName' && typeOf(l) !== 'ExternalName' && isHeadless(desired) !== isHeadless(l))
    return 'recreate';
  const spec: ServiceSpec = structuredClone(desired);
  if (needsClusterIP(spec) && needsClusterIP(l)) {
    if (l.clusterIP) spec.clusterIP = l.clusterIP;
    if (l.clusterIPs) spec.clusterIPs = l.clusterIPs;
  }
  if (hasNodePorts(spec) && hasNodePorts(l)) {
    for (const p of spec.ports ?? []) {
      const old = l.ports?.find((o) => o.port === p.port && (o.protocol ?? 'TCP') === (p.protocol ?? 'TCP'));
      if (old?.nodePort) p.nodePort = old.nodePort;
    }
    if (spec.externalTrafficPolicy === 'Local' && l.healthCheckNodePort) spec.healthCheckNodePort = l.healthCheckNodePort;
  }
  return spec;
}

export function serviceKind(mode: ServiceTypeMode): ReflectedKind<ServiceSpec> {
  return {
    kind: 'Service',
    apiVersion: 'v1',
    apiPrefix: '/api/v1',
    resource: 'services',
    reflectable: (upper) => isReflectable(upper as Service),
    desiredSpec: (upper) => desiredServiceSpec(upper, mode),
    specDiffers: serviceSpecDiffers,
    updateSpec: serviceUpdateSpec,
  };
}
