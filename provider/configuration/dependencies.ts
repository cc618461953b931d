// ConfigMap/Secret reflection, the whole behaviour: ConfigMaps and Secrets that pods reference are
// copied into the lower namespace before the pod, kept in sync when the upper object changes (the
// pods using it are synced again), and deleted when no pod of this fedlet references them. Only
// referenced objects are read (GET by name), as the node the pod is bound to (node-reads.ts: the Node
// authorizer allows exactly what pods on that node name); changes are noticed through one metadata-only
// watch per referenced object (fieldSelector metadata.name, as the kubelet's watch-based managers do), so
// no ConfigMap's or Secret's data streams through fedlet unless a pod needs it, and fedlet's account
// holds no right to list or read ConfigMaps or Secrets.
import type { Logger } from 'pino';
import { isAlreadyExists, isNotFound, type KubeApi } from '../../src/kube/client.js';
import type { DataObject, KubeObject, Pod } from '../../src/kube/types.js';
import { ANNOTATION_UPPER_RESOURCE_VERSION, LABEL_ORIGIN, LABEL_SERVICE_ACCOUNT_TOKEN } from '../../src/labels.js';
import { Informer, METADATA_ONLY_LIST } from '../../src/kube/informer.js';
import { getAsNode, type UpperReader } from './node-reads.js';
import { dependencyRefs, ownershipAnnotations, ownershipLabels } from '../workload/translate.js';

export type DependencyKind = 'configmaps' | 'secrets';

/** A ConfigMap/Secret a pod references that does not exist in the upper cluster. */
export interface MissingDependency {
  kind: DependencyKind;
  namespace: string;
  name: string;
  /** Whether the reference is optional (the pod runs without it) or required (it must not be created). */
  optional: boolean;
  message: string;
  /** The virtual-kubelet library's event reason (Mandatory/Optional ConfigMap/Secret NotFound). */
  eventReason: string;
}

/** Event reasons virtual-kubelet tooling expects for a missing ConfigMap/Secret. */
export function missingReason(kind: DependencyKind, optional: boolean): string {
  return `${optional ? 'Optional' : 'Mandatory'}${kind === 'configmaps' ? 'ConfigMap' : 'Secret'}NotFound`;
}

function missing(kind: DependencyKind, namespace: string, name: string, optional: boolean): MissingDependency {
  const what = `${kind === 'configmaps' ? 'ConfigMap' : 'Secret'} ${namespace}/${name}`;
  return {
    kind,
    namespace,
    name,
    optional,
    eventReason: missingReason(kind, optional),
    message: optional
      ? `optional ${what} does not exist; the pod was created without it`
      : `${what} referenced by the pod does not exist in the upper cluster; create it (or mark the reference optional)`,
  };
}

export interface DependencySyncOptions {
  upper: KubeApi;
  /** Reads and watches what pods on a node name: that node's identity (default upper). */
  reader?: UpperReader;
  lower: KubeApi;
  nodeName: string;
  /**
   * The lower namespaces garbage collection looks in: fedlet may list ConfigMaps and Secrets only in
   * namespaces where it holds rights (no cluster-wide right on them).
   */
  lowerNamespaces: () => string[];
  log: Logger;
}

export function depKey(kind: DependencyKind, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

function slimMeta(o: KubeObject): KubeObject {
  return { metadata: { name: o.metadata?.name, namespace: o.metadata?.namespace, resourceVersion: o.metadata?.resourceVersion } };
}

export class DependencySync {
  /** depKey → upper resourceVersion last copied (skips needless GETs). */
  private readonly copied = new Map<string, string>();
  /** dependency key → upper pod keys referencing it */
  private readonly dependents = new Map<string, Set<string>>();
  /** dependency key → the metadata watch of that one object */
  private readonly watches = new Map<string, Informer<KubeObject>>();
  private readonly listeners: Array<(upperKey: string) => void> = [];
  private started = false;

  constructor(private readonly o: DependencySyncOptions) {}

  private readerFor(node: string | undefined): KubeApi {
    return node && this.o.reader ? this.o.reader(node) : this.o.upper;
  }

  /** Watches one referenced object (metadata only, by name) through `client`, unless watched already. */
  private watch(kind: DependencyKind, ns: string, name: string, client: KubeApi): void {
    const key = depKey(kind, ns, name);
    if (this.watches.has(key)) return;
    const inf = new Informer<KubeObject>({
      client,
      path: `/api/v1/namespaces/${encodeURIComponent(ns)}/${kind}`,
      fieldSelector: `metadata.name=${name}`,
      log: this.o.log,
      metadataOnly: true,
      transform: slimMeta,
    });
    const changed = (obj: KubeObject) => {
      const pods = this.dependents.get(key);
      if (!pods || this.copied.get(key) === obj.metadata?.resourceVersion) return;
      this.copied.delete(key);
      for (const p of pods) for (const l of this.listeners) l(p);
    };
    inf.addHandlers({ onAdd: changed, onUpdate: changed, onDelete: changed });
    this.watches.set(key, inf);
    if (this.started) inf.start();
  }

  private unwatch(key: string): void {
    const inf = this.watches.get(key);
    if (!inf) return;
    this.watches.delete(key);
    void inf.stop();
  }

  /** Called with the upper pod key of every pod whose ConfigMap/Secret changed (it must be synced again). */
  onChange(l: (upperKey: string) => void): void {
    this.listeners.push(l);
  }

  /** resourceVersion of an upper ConfigMap/Secret as its watch last saw it (undefined: not watched). */
  version(kind: DependencyKind, namespace: string, name: string): string | undefined {
    return this.watches.get(depKey(kind, namespace, name))?.get(`${namespace}/${name}`)?.metadata?.resourceVersion;
  }

  start(): void {
    this.started = true;
    for (const inf of this.watches.values()) inf.start();
  }
  /** Nothing to wait for: each object is watched from the first pod that names it. */
  async waitForSync(_signal: AbortSignal): Promise<void> {}
  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.watches.values()].map((i) => i.stop()));
  }

  /** Remembers which ConfigMaps/Secrets a pod uses, so a change to one re-syncs exactly those pods. */
  private track(upper: Pod): void {
    const key = `${upper.metadata.namespace}/${upper.metadata.name}`;
    for (const set of this.dependents.values()) set.delete(key);
    const ns = upper.metadata.namespace ?? '';
    const refs = dependencyRefs(upper);
    for (const [kind, names] of [
      ['configmaps', refs.configMaps],
      ['secrets', refs.secrets],
    ] as const)
      for (const name of names.keys()) {
        const k = depKey(kind, ns, name);
        let s = this.dependents.get(k);
        if (!s) this.dependents.set(k, (s = new Set()));
        s.add(key);
        this.watch(kind, ns, name, this.readerFor(upper.spec?.nodeName));
      }
  }

  /** The pod is going: objects no other pod names are no longer watched. */
  forget(upperKey: string): void {
    for (const [key, pods] of this.dependents)
      if (pods.delete(upperKey) && pods.size === 0) {
        this.dependents.delete(key);
        this.copied.delete(key);
        this.unwatch(key);
      }
  }

  /**
   * Copies every dependency of `pod` into `lowerNs` and watches them for the pod from now on. Resolves
   * with the first required one that does not exist, if any (the pod must not be created without it),
   * and the optional ones that do not exist (the pod runs without them; said in an event).
   */
  async ensure(pod: Pod, lowerNs: string): Promise<{ required?: MissingDependency; optional: MissingDependency[] }> {
    this.track(pod);
    const refs = dependencyRefs(pod);
    const ns = pod.metadata.namespace!;
    const jobs: Array<Promise<MissingDependency | undefined>> = [];
    for (const [kind, m] of [
      ['configmaps', refs.configMaps],
      ['secrets', refs.secrets],
    ] as const)
      for (const [name, optional] of m) {
        const knownRv = this.version(kind, ns, name);
        jobs.push(this.ensureOne(kind, ns, name, optional, lowerNs, knownRv, this.readerFor(pod.spec?.nodeName)));
      }
    const results = await Promise.allSettled(jobs);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const all = results.flatMap((r) => (r.status === 'fulfilled' && r.value ? [r.value] : []));
    return { required: all.find((m) => !m.optional), optional: all.filter((m) => m.optional) };
  }

  private async ensureOne(
    kind: DependencyKind,
    ns: string,
    name: string,
    optional: boolean,
    lowerNs: string,
    knownRv: string | undefined,
    reader: KubeApi,
  ): Promise<MissingDependency | undefined> {
    const key = depKey(kind, ns, name);
    if (knownRv !== undefined && this.copied.get(key) === knownRv) return undefined;
    let upper: DataObject;
    try {
      upper = await getAsNode<DataObject>(
        reader,
        `/api/v1/namespaces/${encodeURIComponent(ns)}/${kind}/${encodeURIComponent(name)}`,
      );
    } catch (e) {
      if (!isNotFound(e)) throw e;
      return missing(kind, ns, name, optional);
    }
    const rv = upper.metadata.resourceVersion ?? '';
    const body: DataObject = {
      apiVersion: 'v1',
      kind: kind === 'configmaps' ? 'ConfigMap' : 'Secret',
      metadata: {
        name,
        namespace: lowerNs,
        labels: ownershipLabels({ nodeName: this.o.nodeName }, upper.metadata),
        annotations: { ...ownershipAnnotations(upper.metadata), [ANNOTATION_UPPER_RESOURCE_VERSION]: rv },
      },
      ...(upper.data ? { data: upper.data } : {}),
      ...(upper.binaryData ? { binaryData: upper.binaryData } : {}),
      ...(upper.immutable ? { immutable: true } : {}),
    };
    // A service-account token Secret would be rewritten by the lower token controller; copy its data opaquely.
    if (kind === 'secrets') body.type = upper.type === 'kubernetes.io/service-account-token' ? 'Opaque' : upper.type;
    const path = `/api/v1/namespaces/${lowerNs}/${kind}/${name}`;
    let lower: DataObject | undefined;
    try {
      lower = await this.o.lower.get<DataObject>(path);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (!lower) {
      try {
        await this.o.lower.create(`/api/v1/namespaces/${lowerNs}/${kind}`, body);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        return this.ensureOne(kind, ns, name, optional, lowerNs, undefined, reader);
      }
    } else if (lower.metadata.labels?.[LABEL_ORIGIN] !== this.o.nodeName) {
      // Never overwrite what we do not own (e.g. an object the lower cluster's admins created).
      this.o.log.warn(
        { kind, namespace: lowerNs, name },
        'a lower object with this name exists and is not owned by this fedlet; using it as is',
      );
    } else if (lower.metadata.annotations?.[ANNOTATION_UPPER_RESOURCE_VERSION] !== rv) {
      if (lower.immutable) {
        await this.o.lower.delete(path);
        await this.o.lower.create(`/api/v1/namespaces/${lowerNs}/${kind}`, body);
      } else {
        body.metadata.resourceVersion = lower.metadata.resourceVersion;
        await this.o.lower.replace(path, body);
      }
      this.o.log.debug({ kind, namespace: lowerNs, name, rv }, 'updated lower copy');
    }
    this.copied.set(key, rv);
    return undefined;
  }

  /**
   * Deletes lower copies that no live pod references. `livePods` must be every upper pod bound to this
   * node (so the caller runs this only with synced caches).
   */
  async collectGarbage(livePods: Pod[], lowerNamespaceOf: (upperNs: string) => string): Promise<number> {
    const wanted = new Set<string>();
    const watched = new Set<string>();
    for (const p of livePods) {
      const refs = dependencyRefs(p);
      const lns = lowerNamespaceOf(p.metadata.namespace!);
      for (const n of refs.configMaps.keys()) {
        wanted.add(depKey('configmaps', lns, n));
        watched.add(depKey('configmaps', p.metadata.namespace!, n));
      }
      for (const n of refs.secrets.keys()) {
        wanted.add(depKey('secrets', lns, n));
        watched.add(depKey('secrets', p.metadata.namespace!, n));
      }
    }
    // Objects no live pod names any more are not watched (nor remembered) any more.
    for (const key of [...this.watches.keys()])
      if (!watched.has(key)) {
        this.unwatch(key);
        this.dependents.delete(key);
        this.copied.delete(key);
      }
    let deleted = 0;
    for (const kind of ['configmaps', 'secrets'] as const) {
      const items: DataObject[] = [];
      for (const ns of this.o.lowerNamespaces()) {
        const list = await this.o.lower.get<{ items: DataObject[] }>(`/api/v1/namespaces/${encodeURIComponent(ns)}/${kind}`, {
          // Token Secrets belong to their pods (token-secrets.ts collects them).
          query: { labelSelector: `${LABEL_ORIGIN}=${this.o.nodeName},!${LABEL_SERVICE_ACCOUNT_TOKEN}` },
          headers: METADATA_ONLY_LIST,
        });
        items.push(...(list.items ?? []));
      }
      for (const obj of items) {
        const k = depKey(kind, obj.metadata.namespace!, obj.metadata.name!);
        if (wanted.has(k)) continue;
        try {
          await this.o.lower.delete(`/api/v1/namespaces/${obj.metadata.namespace}/${kind}/${obj.metadata.name}`);
          deleted++;
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
    }
    // The copy cache only saves reads; after deletions, start it afresh rather than guess its keys.
    if (deleted) this.copied.clear();
    return deleted;
  }
}
