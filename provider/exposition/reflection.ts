// Wires the reflection of the namespace-scoped upper objects pods need next to them (Services,
// NetworkPolicies) into the lower cluster, for the namespaces where this fedlet runs pods.
import type { Logger } from 'pino';
import type { KubeClient } from '../../src/kube/client.js';
import type { EventRecorder } from '../../src/events.js';
import { PodNamespaces, type PodSource } from '../namespaces/pod-namespaces.js';
import { Reflector, type Reflected, type ReflectedKind, type ReflectorOptions } from '../reflector.js';
import { Backoff } from '../../src/util/backoff.js';
import { GlobalEndpoints, removeRemoteSlices } from './global-endpoints.js';
import { networkPolicyKind } from './network-policies.js';
import { serviceKind, type ServiceTypeMode } from './services.js';
import type { NetworkPolicySpec, ServiceSpec } from '../../src/kube/types.js';

export interface ReflectionOptions {
  upper: KubeClient;
  lower: KubeClient;
  nodeName: string;
  clusterName: string;
  namespaceTemplate: string;
  lowerNamespaceOf(upperNamespace: string): string;
  /** The provider's cache of this fedlet's lower pods. */
  lowerPods: PodSource;
  serviceTypes: ServiceTypeMode;
  /** global: also list the Service's endpoints in other clusters below (see global-endpoints.ts). */
  serviceEndpoints: 'local' | 'global';
  /** The process's event recorder. */
  events: EventRecorder;
  log: Logger;
}

export function serviceRemapNotice(clusterName: string) {
  return (upper: Reflected<ServiceSpec>, lowerNs: string): string => {
    const name = upper.metadata.name ?? '';
    return `Service ${upper.metadata.namespace}/${name} lives in namespace ${lowerNs} of lower cluster ${clusterName} (namespaceTemplate): pods there reach it as ${name}, ${name}.${lowerNs} or ${name}.${lowerNs}.svc.cluster.local; ${name}.${upper.metadata.namespace}.svc names do not resolve there`;
  };
}

export class Reflection {
  readonly presence: PodNamespaces;
  readonly services: Reflector<ServiceSpec>;
  readonly networkPolicies: Reflector<NetworkPolicySpec>;
  readonly globalEndpoints?: GlobalEndpoints;
  private cleanup?: Promise<void>;

  constructor(private readonly o: ReflectionOptions) {
    this.presence = new PodNamespaces(o.lowerPods);
    const events = o.events;
    // Everything but the kind is shared: same clusters, namespaces, pod presence and event recorder.
    const reflectorFor = <S>(
      kind: ReflectedKind<S>,
      extra: Pick<ReflectorOptions<S>, 'remapNotice' | 'workers'> = {},
    ): Reflector<S> =>
      new Reflector<S>({
        kind,
        upper: o.upper,
        lower: o.lower,
        nodeName: o.nodeName,
        clusterName: o.clusterName,
        lowerNamespaceOf: o.lowerNamespaceOf,
        presence: this.presence,
        events,
        log: o.log,
        ...extra,
      });
    this.services = reflectorFor(serviceKind(o.serviceTypes), { remapNotice: serviceRemapNotice(o.clusterName) });
    this.networkPolicies = reflectorFor(networkPolicyKind(o.lowerNamespaceOf), { workers: 2 });
    if (o.serviceEndpoints === 'global')
      this.globalEndpoints = new GlobalEndpoints({
        upper: o.upper,
        lower: o.lower,
        nodeName: o.nodeName,
        clusterName: o.clusterName,
        lowerNamespaceOf: o.lowerNamespaceOf,
        services: this.services,
        log: o.log,
      });
  }

  start(signal: AbortSignal): void {
    if (this.o.namespaceTemplate !== '{{namespace}}')
      this.o.log.info(
        { namespaceTemplate: this.o.namespaceTemplate },
        'namespaceTemplate renames namespaces in the lower cluster: there, reflected Services resolve by short name and as <service>.<lower namespace>, not as <service>.<upper namespace>.svc',
      );
    this.services.start(signal);
    this.networkPolicies.start(signal);
    if (this.globalEndpoints) this.globalEndpoints.start(signal);
    else this.cleanup = this.removeRemoteSlices(signal);
  }

  /** Local mode: what a run in global mode left below goes, retried until the lower cluster answers. */
  private async removeRemoteSlices(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(1000, 30_000);
    while (!signal.aborted) {
      try {
        const n = await removeRemoteSlices(this.o.lower, this.o.nodeName, this.o.log);
        if (n) this.o.log.info({ deleted: n }, 'serviceEndpoints is local: removed the remote endpoints of a global run');
        return;
      } catch (e) {
        this.o.log.warn({ err: (e as Error).message }, 'could not remove remote endpoint slices; retrying');
        await backoff.wait(signal);
      }
    }
  }

  async stop(): Promise<void> {
    await Promise.all([this.services.stop(), this.networkPolicies.stop(), this.globalEndpoints?.stop(), this.cleanup]);
  }
}
