// serviceEndpoints: global. For every Service fedlet reflected into this lower cluster, one or more
// fedlet-managed EndpointSlices below list the endpoints of the same upper Service that run elsewhere
// (other virtual nodes, the upper cluster's own nodes), taken from the upper cluster's EndpointSlices:
// the upper cluster is the shared truth, no fedlet talks to another. Addresses are the upper ones,
// i.e. as remapped by the other fedlet (podIPRemap): the network must route them from here. An
// endpoint is ready only while the upper endpoint is ready and its node is Ready. Local endpoints are
// never listed (the lower EndpointSlice controller publishes them).
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { isAlreadyExists, isNotFound, KubeApiError, type KubeClient } from '../../src/kube/client.js';
import { Informer, objectKey } from '../../src/kube/informer.js';
import type { EndpointSlice, KubeObject, ServiceSpec, SliceEndpoint, SlicePort } from '../../src/kube/types.js';
import {
  ENDPOINTSLICE_MANAGED_BY_FEDLET as MANAGED_BY_FEDLET,
  LABEL_ENDPOINTSLICE_MANAGED_BY as LABEL_MANAGED_BY,
  LABEL_ORIGIN,
  LABEL_SERVICE_NAME,
  LABEL_UPPER_NAME,
  LABEL_UPPER_NAMESPACE,
} from '../../src/labels.js';
import { WorkQueue } from '../../src/kube/work-queue.js';
import { shortenName } from '../namespaces/namespace-map.js';
import { stableJson } from './reflected-meta.js';
import type { Reflected, Reflector } from '../reflector.js';
import { byCodeUnit } from '../../src/util/order.js';

/** What one lower slice should hold: endpoints of one address type and one port set. */
export interface RemoteSlice {
  name: string;
  addressType: string;
  ports: SlicePort[];
  endpoints: SliceEndpoint[];
}

/**
 * The remote endpoints of one Service, grouped into slices. Pure. `nodeReady` answers for upper node
 * names; endpoints on `localNode` (this fedlet's virtual node) are left out.
 */
export function remoteSlices(
  serviceName: string,
  upperSlices: EndpointSlice[],
  localNode: string,
  nodeReady: (node: string) => boolean,
): RemoteSlice[] {
  const groups = new Map<string, RemoteSlice>();
  for (const s of upperSlices) {
    if (s.addressType === 'FQDN') continue;
    const ports = [...(s.ports ?? [])].sort((a, b) => byCodeUnit(a.name ?? '', b.name ?? ''));
    const sig = stableJson([s.addressType, ports]);
    for (const e of s.endpoints ?? []) {
      if (e.nodeName === localNode || !e.addresses?.length) continue;
      let g = groups.get(sig);
      if (!g) {
        const hash = createHash('sha256').update(sig).digest('hex').slice(0, 8);
        g = { name: shortenName(`${serviceName}-fedlet-${hash}`), addressType: s.addressType, ports, endpoints: [] };
        groups.set(sig, g);
      }
      const upReady = e.conditions?.ready !== false;
      const healthy = e.nodeName === undefined || nodeReady(e.nodeName);
      g.endpoints.push({
        addresses: e.addresses,
        conditions: {
          ready: upReady && healthy,
          serving: (e.conditions?.serving ?? upReady) && healthy,
          terminating: e.conditions?.terminating ?? false,
        },
        ...(e.hostname ? { hostname: e.hostname } : {}),
      });
    }
  }
  for (const g of groups.values()) g.endpoints.sort((a, b) => byCodeUnit(a.addresses[0]!, b.addresses[0]!));
  return [...groups.values()];
}

export interface GlobalEndpointsOptions {
  upper: KubeClient;
  lower: KubeClient;
  nodeName: string;
  clusterName: string;
  lowerNamespaceOf(upperNamespace: string): string;
  /** The Service reflector: its lower cache says which Services have a copy here. */
  services: Reflector<ServiceSpec>;
  log: Logger;
}

interface UpperNode extends KubeObject {
  ready: boolean;
}

function upperKeyOf(o: KubeObject): string | undefined {
  const ns = o.metadata?.annotations?.[LABEL_UPPER_NAMESPACE];
  const name = o.metadata?.annotations?.[LABEL_UPPER_NAME];
  return ns && name ? `${ns}/${name}` : undefined;
}

export class GlobalEndpoints {
  readonly upperSlices: Informer<EndpointSlice>;
  readonly upperNodes: Informer<KubeObject, UpperNode>;
  readonly lowerSlices: Informer<EndpointSlice>;
  readonly queue: WorkQueue;
  readonly writes = new Map<string, number>();
  /** upper Service key → keys of upper slices */
  private readonly slicesByService = new Map<string, Set<string>>();
  private readonly log: Logger;
  private started?: Promise<void>;

  constructor(private readonly o: GlobalEndpointsOptions) {
    this.log = o.log.child({ component: 'global-endpoints' });
    this.upperSlices = new Informer<EndpointSlice>({
      client: o.upper,
      path: '/apis/discovery.k8s.io/v1/endpointslices',
      labelSelector: LABEL_SERVICE_NAME,
      log: this.log,
    });
    this.upperNodes = new Informer<KubeObject, UpperNode>({
      client: o.upper,
      path: '/api/v1/nodes',
      log: this.log,
      transform: (n) => ({
        metadata: { name: n.metadata?.name, resourceVersion: n.metadata?.resourceVersion },
        ready:
          (n as { status?: { conditions?: Array<{ type: string; status: string }> } }).status?.conditions?.some(
            (c) => c.type === 'Ready' && c.status === 'True',
          ) ?? false,
      }),
    });
    this.lowerSlices = new Informer<EndpointSlice>({
      client: o.lower,
      path: '/apis/discovery.k8s.io/v1/endpointslices',
      labelSelector: `${LABEL_ORIGIN}=${o.nodeName},${LABEL_MANAGED_BY}=${MANAGED_BY_FEDLET}`,
      log: this.log,
    });
    this.queue = new WorkQueue({ concurrency: 2, maxSize: 100_000, handler: (k) => this.sync(k), log: this.log });
    const serviceKey = (s: EndpointSlice) => `${s.metadata.namespace}/${s.metadata.labels?.[LABEL_SERVICE_NAME]}`;
    const onSlice = (s: EndpointSlice, present: boolean) => {
      const key = serviceKey(s);
      let set = this.slicesByService.get(key);
      if (present) {
        if (!set) this.slicesByService.set(key, (set = new Set()));
        set.add(objectKey(s));
      } else if (set) {
        set.delete(objectKey(s));
        if (!set.size) this.slicesByService.delete(key);
      }
      this.queue.add(key);
    };
    this.upperSlices.addHandlers({
      onAdd: (s) => onSlice(s, true),
      onUpdate: (s) => onSlice(s, true),
      onDelete: (s) => onSlice(s, false),
    });
    // A node's readiness changes the readiness of every remote endpoint on it.
    this.upperNodes.addHandlers({
      onUpdate: (n, old) => {
        if (n.ready !== old.ready) for (const key of this.slicesByService.keys()) this.queue.add(key);
      },
      onDelete: () => {
        for (const key of this.slicesByService.keys()) this.queue.add(key);
      },
    });
    const onLower = (s: EndpointSlice) => {
      const key = upperKeyOf(s);
      if (key) this.queue.add(key);
    };
    this.lowerSlices.addHandlers({ onAdd: onLower, onUpdate: onLower, onDelete: onLower });
    // A Service copy appearing or going changes where remote endpoints are wanted.
    o.services.lowerObjects.addHandlers({ onAdd: onLower, onUpdate: onLower, onDelete: onLower });
  }

  start(signal: AbortSignal): void {
    this.upperSlices.start();
    this.upperNodes.start();
    this.lowerSlices.start();
    this.started ??= Promise.all([
      this.upperSlices.waitForSync(signal),
      this.upperNodes.waitForSync(signal),
      this.lowerSlices.waitForSync(signal),
      this.o.services.whenStarted(),
      this.o.services.lowerObjects.waitForSync(signal),
    ]).then(
      () => {
        this.queue.start();
        this.log.info({ services: this.slicesByService.size }, 'global endpoints caches synced');
      },
      () => undefined,
    );
  }

  async stop(): Promise<void> {
    await Promise.all([this.upperSlices.stop(), this.upperNodes.stop(), this.lowerSlices.stop(), this.queue.stop()]);
  }

  private path(ns: string, name?: string): string {
    return `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices${name ? `/${name}` : ''}`;
  }

  private count(verb: string, key: string, name: string): void {
    this.writes.set(verb, (this.writes.get(verb) ?? 0) + 1);
    this.log.info({ upper: key, slice: name, verb }, 'reflected remote endpoints');
  }

  async sync(key: string): Promise<void> {
    const slash = key.indexOf('/');
    const ns = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const lowerNs = this.o.lowerNamespaceOf(ns);
    const copy = this.o.services.lowerObjects.get(`${lowerNs}/${name}`) as Reflected<ServiceSpec> | undefined;
    const existing = this.lowerSlices.list().filter((s) => upperKeyOf(s) === key);
    const wanted =
      copy && !copy.metadata.deletionTimestamp && copy.spec?.type !== 'ExternalName' && upperKeyOf(copy) === key
        ? remoteSlices(
            name,
            [...(this.slicesByService.get(key) ?? [])].map((k) => this.upperSlices.get(k)!).filter(Boolean),
            this.o.nodeName,
            (node) => this.upperNodes.get(node)?.ready ?? false,
          )
        : [];
    for (const s of existing)
      if (!wanted.some((w) => w.name === s.metadata.name && s.metadata.namespace === lowerNs)) {
        try {
          this.count('delete', key, s.metadata.name!);
          await this.o.lower.delete(this.path(s.metadata.namespace!, s.metadata.name));
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
    if (!copy) return;
    for (const w of wanted) {
      const body: EndpointSlice = {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: w.name,
          namespace: lowerNs,
          labels: { [LABEL_SERVICE_NAME]: name, [LABEL_MANAGED_BY]: MANAGED_BY_FEDLET, [LABEL_ORIGIN]: this.o.nodeName },
          annotations: { [LABEL_UPPER_NAMESPACE]: ns, [LABEL_UPPER_NAME]: name },
          // Garbage-collected with the lower Service copy.
          ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name, uid: copy.metadata.uid! }],
        },
        addressType: w.addressType,
        ports: w.ports,
        endpoints: w.endpoints,
      };
      const cur = existing.find((s) => s.metadata.name === w.name && s.metadata.namespace === lowerNs);
      if (!cur) {
        try {
          this.count('create', key, w.name);
          await this.o.lower.create(this.path(lowerNs), body);
        } catch (e) {
          if (!isAlreadyExists(e)) throw e;
        }
        continue;
      }
      const same =
        stableJson([cur.addressType, cur.ports ?? [], cur.endpoints ?? []]) ===
          stableJson([w.addressType, w.ports, w.endpoints]) && cur.metadata.ownerReferences?.[0]?.uid === copy.metadata.uid;
      if (same) continue;
      body.metadata.resourceVersion = cur.metadata.resourceVersion;
      try {
        this.count('update', key, w.name);
        await this.o.lower.replace(this.path(lowerNs, w.name), body);
      } catch (e) {
        if (!(e instanceof KubeApiError && e.code === 422)) throw e;
        await this.o.lower.delete(this.path(lowerNs, w.name)); // addressType is immutable
      }
    }
  }
}

/**
 * serviceEndpoints: local. Slices that an earlier run in global mode left below would go on listing
 * remote endpoints that nothing updates any more (ready forever, even when their cluster is gone):
 * delete them. Returns how many were deleted; one list, usually empty, when there are none.
 */
export async function removeRemoteSlices(lower: KubeClient, nodeName: string, log: Logger): Promise<number> {
  const list = await lower.get<{ items: EndpointSlice[] }>('/apis/discovery.k8s.io/v1/endpointslices', {
    query: { labelSelector: `${LABEL_ORIGIN}=${nodeName},${LABEL_MANAGED_BY}=${MANAGED_BY_FEDLET}` },
  });
  let deleted = 0;
  for (const s of list.items ?? []) {
    try {
      await lower.delete(`/apis/discovery.k8s.io/v1/namespaces/${s.metadata.namespace}/endpointslices/${s.metadata.name}`);
      deleted++;
      log.info({ upper: upperKeyOf(s), slice: s.metadata.name, verb: 'delete' }, 'reflected remote endpoints');
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  return deleted;
}
