// RuntimeClasses and PriorityClasses below: which ones the lower cluster has (metadata-only watches),
// and what a pod's class names become on its lower pod. A class the lower cluster has (under its
// mapped name) is kept; one it lacks is dropped with an event, since the lower admission would refuse
// the pod for it. The fields the upper admission derived from the upper class (overhead from the
// RuntimeClass; priority and preemptionPolicy from the PriorityClass) never go down: the lower
// admission derives them again from the lower class, and refuses values that differ from its own.
import type { Logger } from 'pino';
import type { KubeApi } from '../../src/kube/client.js';
import { Informer } from '../../src/kube/informer.js';
import type { KubeObject, Pod } from '../../src/kube/types.js';
import type { PodEvent } from '../../src/provider.js';

export const REASON_RUNTIME_CLASS_NOT_FOUND = 'RuntimeClassNotFound';
export const REASON_PRIORITY_CLASS_NOT_FOUND = 'PriorityClassNotFound';

export type ClassField = 'runtimeClassName' | 'priorityClassName';

interface ClassKind {
  field: ClassField;
  what: string;
  option: string;
  /** Fields set from the class that go with it (the lower admission sets them again when it is kept). */
  dependents: string;
  reason: string;
}
const KINDS: Record<ClassField, ClassKind> = {
  runtimeClassName: {
    field: 'runtimeClassName',
    what: 'RuntimeClass',
    option: 'runtimeClassMap',
    dependents: 'runtimeClassName and overhead',
    reason: REASON_RUNTIME_CLASS_NOT_FOUND,
  },
  priorityClassName: {
    field: 'priorityClassName',
    what: 'PriorityClass',
    option: 'priorityClassMap',
    dependents: "priorityClassName, priority and preemptionPolicy (the lower cluster's default priority applies)",
    reason: REASON_PRIORITY_CLASS_NOT_FOUND,
  },
};

export interface ClassMaps {
  runtimeClassName: Record<string, string>;
  priorityClassName: Record<string, string>;
}

/** The class names a lower pod carries, and the events for those dropped. */
export interface PodClasses {
  runtimeClassName?: string;
  priorityClassName?: string;
  dropped: Array<Omit<PodEvent, 'upperKey'>>;
}

/** Pure: the lower class names for a pod, given the name maps and what the lower cluster has. */
export function decidePodClasses(
  spec: Pick<Pod['spec'], ClassField>,
  maps: ClassMaps,
  lowerHas: (field: ClassField, name: string) => boolean,
  clusterName: string,
): PodClasses {
  const out: PodClasses = { dropped: [] };
  for (const k of Object.values(KINDS)) {
    const upperName = spec[k.field];
    if (!upperName) continue;
    const lowerName = maps[k.field][upperName] ?? upperName;
    if (lowerHas(k.field, lowerName)) {
      out[k.field] = lowerName;
      continue;
    }
    const named = lowerName === upperName ? `"${upperName}"` : `"${lowerName}" (${k.option} for "${upperName}")`;
    out.dropped.push({
      type: 'Warning',
      reason: k.reason,
      message: `lower cluster ${clusterName} has no ${k.what} ${named}: the pod runs there without ${k.dependents}`,
    });
  }
  return out;
}

const PATHS: Record<ClassField, string> = {
  runtimeClassName: '/apis/node.k8s.io/v1/runtimeclasses',
  priorityClassName: '/apis/scheduling.k8s.io/v1/priorityclasses',
};

export interface LowerClassesOptions {
  lower: KubeApi;
  clusterName: string;
  maps: ClassMaps;
  log: Logger;
}

/** Watches the lower cluster's RuntimeClasses and PriorityClasses (names only). */
export class LowerClasses {
  private readonly informers: Record<ClassField, Informer<KubeObject>>;

  constructor(private readonly o: LowerClassesOptions) {
    const watch = (field: ClassField) =>
      new Informer<KubeObject>({
        client: o.lower,
        path: PATHS[field],
        log: o.log,
        metadataOnly: true,
        transform: (c) => ({ metadata: { name: c.metadata?.name, resourceVersion: c.metadata?.resourceVersion } }),
      });
    this.informers = { runtimeClassName: watch('runtimeClassName'), priorityClassName: watch('priorityClassName') };
  }

  start(): void {
    for (const i of Object.values(this.informers)) i.start();
  }
  async stop(): Promise<void> {
    await Promise.all(Object.values(this.informers).map((i) => i.stop()));
  }

  /**
   * The lower class names for a pod; undefined while a class it names cannot be looked up yet (the
   * watch has not listed), so that a class is never dropped for want of a cache.
   */
  forPod(pod: Pod): PodClasses | undefined {
    for (const f of Object.keys(KINDS) as ClassField[]) if (pod.spec[f] && !this.informers[f].hasSynced) return undefined;
    return decidePodClasses(pod.spec, this.o.maps, (f, name) => this.informers[f].get(name) !== undefined, this.o.clusterName);
  }
}
