// ConfigMaps and Secrets that pods reference are copied into the lower namespace before the pod, kept
// in sync when the upper object changes, and deleted when no pod of this fedlet references them. Only
// referenced objects are read (GET by name); changes are noticed through a metadata-only watch.
import type { Logger } from 'pino';
import { isAlreadyExists, isNotFound, type KubeClient } from '../src/kube/client.js';
import type { DataObject, Pod } from '../src/kube/types.js';
import { LABEL_ORIGIN } from '../src/labels.js';
import { METADATA_ONLY_LIST } from '../src/kube/informer.js';
import { dependencyRefs, ownershipAnnotations, ownershipLabels } from './translate.js';

export const ANNOTATION_UPPER_RV = 'fedlet.io/upper-resource-version';

export type DependencyKind = 'configmaps' | 'secrets';

/** A required ConfigMap/Secret does not exist in the upper cluster. */
export class MissingDependencyError extends Error {
  constructor(
    readonly kind: DependencyKind,
    readonly namespace: string,
    readonly objectName: string,
  ) {
    super(
      `${kind === 'configmaps' ? 'ConfigMap' : 'Secret'} ${namespace}/${objectName} referenced by the pod does not exist in the upper cluster; create it (or mark the reference optional)`,
    );
    this.name = 'MissingDependencyError';
    this.eventReason = missingReason(kind, false);
  }
  /** The virtual-kubelet library's event reason (MandatoryConfigMapNotFound / MandatorySecretNotFound). */
  readonly eventReason: string;
}

/** Event reasons virtual-kubelet tooling expects for a missing ConfigMap/Secret. */
export function missingReason(kind: DependencyKind, optional: boolean): string {
  return `${optional ? 'Optional' : 'Mandatory'}${kind === 'configmaps' ? 'ConfigMap' : 'Secret'}NotFound`;
}

/** An optional reference whose object does not exist: the pod runs without it (said in an event). */
export interface MissingOptional {
  kind: DependencyKind;
  namespace: string;
  name: string;
}

export interface DependencySyncOptions {
  upper: KubeClient;
  lower: KubeClient;
  nodeName: string;
  log: Logger;
}

export function depKey(kind: DependencyKind, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

export class DependencySync {
  /** depKey → upper resourceVersion last copied (skips needless GETs). */
  private readonly copied = new Map<string, string>();

  constructor(private readonly o: DependencySyncOptions) {}

  /** Forget a copy (its upper object changed or was deleted). */
  invalidate(key: string): void {
    this.copied.delete(key);
  }

  /**
   * Copies every dependency of `pod` into `lowerNs`; throws MissingDependencyError for required ones
   * and returns the optional ones that do not exist.
   */
  async ensure(pod: Pod, lowerNs: string, currentRv: (key: string) => string | undefined): Promise<MissingOptional[]> {
    const refs = dependencyRefs(pod);
    const ns = pod.metadata.namespace!;
    const jobs: Array<Promise<MissingOptional | undefined>> = [];
    for (const [kind, m] of [
      ['configmaps', refs.configMaps],
      ['secrets', refs.secrets],
    ] as const)
      for (const [name, optional] of m)
        jobs.push(this.ensureOne(kind, ns, name, optional, lowerNs, currentRv(depKey(kind, ns, name))));
    const results = await Promise.allSettled(jobs);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return results.flatMap((r) => (r.status === 'fulfilled' && r.value ? [r.value] : []));
  }

  private async ensureOne(
    kind: DependencyKind,
    ns: string,
    name: string,
    optional: boolean,
    lowerNs: string,
    knownRv: string | undefined,
  ): Promise<MissingOptional | undefined> {
    const key = depKey(kind, ns, name);
    if (knownRv !== undefined && this.copied.get(key) === knownRv) return undefined;
    let upper: DataObject;
    try {
      upper = await this.o.upper.get<DataObject>(`/api/v1/namespaces/${ns}/${kind}/${name}`);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      if (optional) return { kind, namespace: ns, name };
      throw new MissingDependencyError(kind, ns, name);
    }
    const rv = upper.metadata.resourceVersion ?? '';
    const body: DataObject = {
      apiVersion: 'v1',
      kind: kind === 'configmaps' ? 'ConfigMap' : 'Secret',
      metadata: {
        name,
        namespace: lowerNs,
        labels: ownershipLabels({ nodeName: this.o.nodeName }, upper.metadata),
        annotations: { ...ownershipAnnotations(upper.metadata), [ANNOTATION_UPPER_RV]: rv },
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
        return this.ensureOne(kind, ns, name, optional, lowerNs, undefined);
      }
    } else if (lower.metadata.labels?.[LABEL_ORIGIN] !== this.o.nodeName) {
      // Never overwrite what we do not own (e.g. an object the lower cluster's admins created).
      this.o.log.warn(
        { kind, namespace: lowerNs, name },
        'a lower object with this name exists and is not owned by this fedlet; using it as is',
      );
    } else if (lower.metadata.annotations?.[ANNOTATION_UPPER_RV] !== rv) {
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
    for (const p of livePods) {
      const refs = dependencyRefs(p);
      const lns = lowerNamespaceOf(p.metadata.namespace!);
      for (const n of refs.configMaps.keys()) wanted.add(depKey('configmaps', lns, n));
      for (const n of refs.secrets.keys()) wanted.add(depKey('secrets', lns, n));
    }
    let deleted = 0;
    for (const kind of ['configmaps', 'secrets'] as const) {
      const list = await this.o.lower.get<{ items: DataObject[] }>(`/api/v1/${kind}`, {
        query: { labelSelector: `${LABEL_ORIGIN}=${this.o.nodeName}` },
        headers: METADATA_ONLY_LIST,
      });
      for (const obj of list.items ?? []) {
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
