// ConfigMap/Secret reflection, the whole behaviour: ConfigMaps and Secrets that pods reference are
// copied into the lower namespace before the pod, kept in sync when the upper object changes (the
// pods using it are synced again), and deleted when no pod of this fedlet references them. Only
// referenced objects are read (GET by name), as the node the pod is bound to (node-reads.ts: the Node
// authorizer allows exactly what pods on that node name); changes are noticed through one metadata-only
// watch per referenced object (fieldSelector metadata.name, as the kubelet's watch-based managers do), so
// no ConfigMap's or Secret's data streams through fedlet unless a pod needs it, and fedlet's account
// holds no right to list or read ConfigMaps or Secrets. A pod is given only
// what its own upper namespace holds: a lower object of the same name that fedlet did not copy from
// that upper object is never used (the pod is refused, LowerDependencyConflict), and what does not
// exist upstairs is reported so translation leaves it out of the lower pod.
import type { Logger } from 'pino';
import { isAlreadyExists, isForbidden, isNotFound, type KubeApi } from '../../src/kube/client.js';
import type { ReadableNamespaces } from '../namespaces/owned-namespaces.js';
import { apiPath } from '../../src/kube/api-path.js';
import type { DataObject, KubeObject, Pod } from '../../src/kube/types.js';
import {
  ANNOTATION_UPPER_RESOURCE_VERSION,
  LABEL_ORIGIN,
  LABEL_SERVICE_ACCOUNT_TOKEN,
  LABEL_UPPER_NAME,
  LABEL_UPPER_NAMESPACE,
} from '../../src/labels.js';
import { Informer, METADATA_ONLY_LIST } from '../../src/kube/informer.js';
import { dependencyRefs, ownershipAnnotations, ownershipLabels, type AbsentReferences } from '../workload/translate.js';
import { ROOT_CA_CONFIGMAP } from './service-account.js';
import { getAsNode, type UpperReader } from './node-reads.js';

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

/** Status/event reason of a pod whose ConfigMap/Secret name is taken below by an object fedlet did not copy. */
export const REASON_DEPENDENCY_CONFLICT = 'LowerDependencyConflict';

/** A lower object of the referenced name that fedlet did not copy from the pod's upper object. */
export interface DependencyConflict {
  kind: DependencyKind;
  name: string;
  message: string;
}

/** What ensure() found: a required object missing, optional ones missing, a name taken below. */
export interface DependencyResult {
  required?: MissingDependency;
  optional: MissingDependency[];
  conflict?: DependencyConflict;
}

/** The optional references translation leaves out of the lower pod. */
export function absentReferences(optional: MissingDependency[]): AbsentReferences {
  return {
    configMaps: new Set(optional.filter((m) => m.kind === 'configmaps').map((m) => m.name)),
    secrets: new Set(optional.filter((m) => m.kind === 'secrets').map((m) => m.name)),
  };
}

function conflict(
  kind: DependencyKind,
  ns: string,
  name: string,
  lowerNs: string,
  clusterName: string,
  nodeName: string,
): DependencyConflict {
  const what = kind === 'configmaps' ? 'ConfigMap' : 'Secret';
  const hint =
    kind === 'configmaps' && name === ROOT_CA_CONFIGMAP
      ? `${ROOT_CA_CONFIGMAP} below is the lower cluster's own CA; mount the upper CA through the service-account token volume, or copy it under another name`
      : `rename the upper ${what}, or have the lower admin remove theirs`;
  return {
    kind,
    name,
    message: `lower ${what} ${lowerNs}/${name} in cluster ${clusterName} exists and is not fedlet's copy of upper ${what} ${ns}/${name} (no label ${LABEL_ORIGIN}=${nodeName} for it); the pod is not run with someone else's ${what}: ${hint}`,
  };
}

export interface DependencySyncOptions {
  upper: KubeApi;
  lower: KubeApi;
  nodeName: string;
  /** Name of the lower cluster, for messages. */
  clusterName?: string;
  /** Reads and watches what pods on a node name: that node's identity (default upper). */
  reader?: UpperReader;
  /**
   * The lower namespaces garbage collection looks in: fedlet may list ConfigMaps and Secrets only in
   * namespaces where it holds rights (no cluster-wide right on them).
   */
  readable: Pick<ReadableNamespaces, 'current' | 'refused'>;
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
  /** upper pod key → dependency keys it references (so forgetting a pod costs its own references only) */
  private readonly usedBy = new Map<string, Set<string>>();
  /** dependency key → the metadata watch of that one object */
  private readonly watches = new Map<string, Informer<KubeObject>>();
  private started = false;
  private readonly listeners: Array<(upperKey: string) => void> = [];

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
      path: apiPath`/api/v1/namespaces/${ns}/${kind}`,
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
    this.forget(key);
    const ns = upper.metadata.namespace ?? '';
    const refs = dependencyRefs(upper);
    const used = new Set<string>();
    for (const [kind, names] of [
      ['configmaps', refs.configMaps],
      ['secrets', refs.secrets],
    ] as const)
      for (const name of names.keys()) used.add(depKey(kind, ns, name));
    if (!used.size) return;
    this.usedBy.set(key, used);
    const reader = this.readerFor(upper.spec?.nodeName);
    for (const k of used) {
      let s = this.dependents.get(k);
      if (!s) this.dependents.set(k, (s = new Set()));
      s.add(key);
      const [kind, , name] = k.split('/') as [DependencyKind, string, string];
      this.watch(kind, ns, name, reader);
    }
  }

  /** The pod is gone: it no longer holds its references (nor their copy-cache entries, once unused). */
  forget(upperKey: string): void {
    const used = this.usedBy.get(upperKey);
    if (!used) return;
    this.usedBy.delete(upperKey);
    for (const k of used) {
      const s = this.dependents.get(k);
      s?.delete(upperKey);
      if (s && !s.size) {
        // No pod names it any more: no longer watched nor remembered.
        this.dependents.delete(k);
        this.copied.delete(k);
        this.unwatch(k);
      }
    }
  }

  /** Sizes of the tracking maps (tests: they shrink when pods go). */
  trackedSizes(): { dependents: number; usedBy: number; copied: number; watches: number } {
    return { dependents: this.dependents.size, usedBy: this.usedBy.size, copied: this.copied.size, watches: this.watches.size };
  }

  /**
   * Copies every dependency of `pod` into `lowerNs` and watches them for the pod from now on. Resolves
   * with the first required one that does not exist, if any (the pod must not be created without it),
   * and the optional ones that do not exist (the pod runs without them; said in an event).
   */
  async ensure(pod: Pod, lowerNs: string): Promise<DependencyResult> {
    this.track(pod);
    const refs = dependencyRefs(pod);
    const ns = pod.metadata.namespace!;
    const jobs: Array<Promise<MissingDependency | DependencyConflict | undefined>> = [];
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
    const missing = all.filter((m): m is MissingDependency => 'optional' in m);
    return {
      required: missing.find((m) => !m.optional),
      optional: missing.filter((m) => m.optional),
      conflict: all.find((m): m is DependencyConflict => !('optional' in m)),
    };
  }

  private async ensureOne(
    kind: DependencyKind,
    ns: string,
    name: string,
    optional: boolean,
    lowerNs: string,
    knownRv: string | undefined,
    reader: KubeApi,
    again = true,
  ): Promise<MissingDependency | DependencyConflict | undefined> {
    const key = depKey(kind, ns, name);
    if (knownRv !== undefined && this.copied.get(key) === knownRv) return undefined;
    let upper: DataObject;
    try {
      upper = await getAsNode<DataObject>(reader, apiPath`/api/v1/namespaces/${ns}/${kind}/${name}`);
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
    const path = apiPath`/api/v1/namespaces/${lowerNs}/${kind}/${name}`;
    const collection = apiPath`/api/v1/namespaces/${lowerNs}/${kind}`;
    let lower: DataObject | undefined;
    try {
      lower = await this.o.lower.get<DataObject>(path);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (!lower) {
      try {
        await this.o.lower.create(collection, body);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        if (again) return this.ensureOne(kind, ns, name, optional, lowerNs, undefined, reader, false);
        throw e;
      }
    } else if (!this.copiedFrom(lower, ns, name)) {
      // Never overwrite, and never let a pod use, what fedlet did not copy from this upper object (an
      // object the lower cluster's people made, or a copy for another upper namespace).
      this.copied.delete(key);
      this.o.log.warn(
        { kind, namespace: lowerNs, name },
        'a lower object with this name exists and is not a copy of the upper one',
      );
      return conflict(kind, ns, name, lowerNs, this.o.clusterName ?? 'the lower cluster', this.o.nodeName);
    } else if (lower.metadata.annotations?.[ANNOTATION_UPPER_RESOURCE_VERSION] !== rv) {
      if (lower.immutable) {
        await this.o.lower.delete(path);
        await this.o.lower.create(collection, body);
      } else {
        body.metadata.resourceVersion = lower.metadata.resourceVersion;
        await this.o.lower.replace(path, body);
      }
      this.o.log.debug({ kind, namespace: lowerNs, name, rv }, 'updated lower copy');
    }
    this.copied.set(key, rv);
    return undefined;
  }

  /** Whether a lower object is fedlet's copy of upper `ns`/`name` (copies older than the annotation count by label). */
  private copiedFrom(lower: DataObject, ns: string, name: string): boolean {
    if (lower.metadata.labels?.[LABEL_ORIGIN] !== this.o.nodeName) return false;
    if (lower.metadata.labels?.[LABEL_SERVICE_ACCOUNT_TOKEN]) return false;
    const a = lower.metadata.annotations ?? {};
    return (a[LABEL_UPPER_NAMESPACE] ?? ns) === ns && (a[LABEL_UPPER_NAME] ?? name) === name;
  }

  /**
   * Deletes lower copies that no live pod references. `livePods` must be every upper pod bound to this
   * node (so the caller runs this only with synced caches).
   */
  async collectGarbage(livePods: Pod[], lowerNamespaceOf: (upperNs: string) => string): Promise<number> {
    const wanted = new Set<string>();
    // Pods that are gone no longer hold references (the tracking maps stay as large as the live pods).
    const live = new Set(livePods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`));
    for (const k of [...this.usedBy.keys()]) if (!live.has(k)) this.forget(k);
    for (const p of livePods) {
      const refs = dependencyRefs(p);
      const lns = lowerNamespaceOf(p.metadata.namespace!);
      for (const n of refs.configMaps.keys()) wanted.add(depKey('configmaps', lns, n));
      for (const n of refs.secrets.keys()) wanted.add(depKey('secrets', lns, n));
    }
    let deleted = 0;
    for (const kind of ['configmaps', 'secrets'] as const) {
      const items: DataObject[] = [];
      for (const ns of this.o.readable.current()) {
        try {
          const list = await this.o.lower.get<{ items: DataObject[] }>(apiPath`/api/v1/namespaces/${ns}/${kind}`, {
            // Token Secrets belong to their pods (token-secrets.ts collects them).
            query: { labelSelector: `${LABEL_ORIGIN}=${this.o.nodeName},!${LABEL_SERVICE_ACCOUNT_TOKEN}` },
            headers: METADATA_ONLY_LIST,
          });
          items.push(...(list.items ?? []));
        } catch (e) {
          // A namespace that is being deleted lost fedlet's RoleBinding first (its contents go with it),
          // and a lower admin can revoke a grant: where fedlet's rights are gone there is nothing of
          // its own to collect. A refusal where they still hold is real and retried.
          if (isForbidden(e) && !(await this.o.readable.refused(ns))) continue;
          throw e;
        }
      }
      for (const obj of items) {
        const k = depKey(kind, obj.metadata.namespace!, obj.metadata.name!);
        if (wanted.has(k)) continue;
        try {
          await this.o.lower.delete(apiPath`/api/v1/namespaces/${obj.metadata.namespace!}/${kind}/${obj.metadata.name!}`);
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
