// Keeps lower copies of namespaced upper objects (Services, NetworkPolicies) next to this fedlet's pods.
// Level-triggered: an upper informer, a lower informer (only objects labelled fedlet.io/origin=<node>)
// and the pod-namespace tracker feed one bounded work queue of upper keys; sync(key) reads the caches
// and creates, updates (only when a field fedlet owns differs) or deletes the lower copy. A lower
// object of the same name that fedlet does not own is never touched: a Warning event names it.
import type { Logger } from 'pino';
import { isAlreadyExists, isNotFound, KubeApiError, type KubeClient } from '../src/kube/client.js';
import { Informer, objectKey } from '../src/kube/informer.js';
import type { KubeObject, ObjectMeta } from '../src/kube/types.js';
import type { EventRecorder } from '../src/events.js';
import { LABEL_ORIGIN, LABEL_UPPER_NAME, LABEL_UPPER_NAMESPACE } from '../src/labels.js';
import { WorkQueue } from '../src/kube/work-queue.js';
import type { PodNamespaces } from './namespaces/pod-namespaces.js';
import { desiredMeta, mergeMeta, metaDiffers } from './exposition/reflected-meta.js';

/** The kind-specific, pure part of a reflection. `S` is the spec type. */
export interface ReflectedKind<S> {
  kind: string;
  apiVersion: string;
  /** /api/v1 or /apis/<group>/<version> */
  apiPrefix: string;
  resource: string;
  /** False for upper objects that must never be reflected. */
  reflectable(upper: { metadata: ObjectMeta }): boolean;
  desiredSpec(upper: S | undefined): S;
  /** True when the lower spec differs from the desired one in a field fedlet owns. */
  specDiffers(desired: S, lower: S | undefined): boolean;
  /** The spec to PUT over the lower copy, or 'recreate' when an immutable field must change. */
  updateSpec(desired: S, lower: S | undefined): S | 'recreate';
}

export interface Reflected<S> extends KubeObject {
  metadata: ObjectMeta;
  spec?: S;
}

export interface ReflectorOptions<S> {
  kind: ReflectedKind<S>;
  upper: KubeClient;
  lower: KubeClient;
  nodeName: string;
  clusterName: string;
  lowerNamespaceOf(upperNamespace: string): string;
  presence: PodNamespaces;
  events: EventRecorder;
  log: Logger;
  /** Extra text for a Warning event on the upper object when its lower namespace has another name. */
  remapNotice?(upper: Reflected<S>, lowerNamespace: string): string | undefined;
  workers?: number;
}

export type ReflectVerb = 'create' | 'update' | 'delete';

/** Upper key (namespace/name) a lower copy stands for. */
function upperKeyOf(o: KubeObject): string | undefined {
  const ns = o.metadata?.annotations?.[LABEL_UPPER_NAMESPACE];
  const name = o.metadata?.annotations?.[LABEL_UPPER_NAME];
  return ns && name ? `${ns}/${name}` : undefined;
}

function slim<S>(o: Reflected<S>): Reflected<S> {
  const m = o.metadata;
  return {
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      labels: m.labels,
      annotations: m.annotations,
      deletionTimestamp: m.deletionTimestamp,
      finalizers: m.finalizers,
    },
    ...(o.spec !== undefined ? { spec: o.spec } : {}),
  };
}

export class Reflector<S> {
  readonly upperObjects: Informer<Reflected<S>>;
  readonly lowerObjects: Informer<Reflected<S>>;
  readonly queue: WorkQueue;
  /** Writes to the lower cluster, by verb (measured by tests and the benchmark). */
  readonly writes = new Map<ReflectVerb, number>();
  /** upper key → lower keys of owned copies (normally one) */
  private readonly lowerByUpper = new Map<string, Set<string>>();
  /** Upper keys whose lower name is taken by an object fedlet does not own. */
  private readonly conflicts = new Set<string>();
  private readonly log: Logger;
  private started?: Promise<void>;

  constructor(private readonly o: ReflectorOptions<S>) {
    const k = o.kind;
    this.log = o.log.child({ component: `reflect-${k.resource}` });
    this.upperObjects = new Informer<Reflected<S>>({
      client: o.upper,
      path: `${k.apiPrefix}/${k.resource}`,
      log: this.log,
      transform: slim,
    });
    this.lowerObjects = new Informer<Reflected<S>>({
      client: o.lower,
      path: `${k.apiPrefix}/${k.resource}`,
      labelSelector: `${LABEL_ORIGIN}=${o.nodeName}`,
      log: this.log,
      transform: slim,
    });
    this.queue = new WorkQueue({
      concurrency: o.workers ?? 4,
      maxSize: 100_000,
      handler: (key) => this.sync(key),
      log: this.log,
    });
    const onUpper = (obj: Reflected<S>) => {
      const key = objectKey(obj);
      if (o.presence.has(obj.metadata.namespace ?? '') || this.lowerByUpper.has(key)) this.queue.add(key);
    };
    this.upperObjects.addHandlers({ onAdd: onUpper, onUpdate: onUpper, onDelete: onUpper });
    const track = (obj: Reflected<S>, present: boolean) => {
      const key = upperKeyOf(obj);
      if (!key) return;
      let set = this.lowerByUpper.get(key);
      if (present) {
        if (!set) this.lowerByUpper.set(key, (set = new Set()));
        set.add(objectKey(obj));
      } else if (set) {
        set.delete(objectKey(obj));
        if (!set.size) this.lowerByUpper.delete(key);
      }
      this.queue.add(key); // out-of-band edits and deletions below are repaired
    };
    this.lowerObjects.addHandlers({
      onAdd: (obj) => track(obj, true),
      onUpdate: (obj) => track(obj, true),
      onDelete: (obj) => track(obj, false),
    });
    o.presence.onChange((ns) => this.enqueueNamespace(ns));
  }

  /** Starts the watches; the workers start once every cache (upper, lower, pods) is synced. */
  start(signal: AbortSignal): void {
    this.upperObjects.start();
    this.lowerObjects.start();
    this.started ??= Promise.all([
      this.upperObjects.waitForSync(signal),
      this.lowerObjects.waitForSync(signal),
      this.o.presence.waitForSync(signal),
    ]).then(
      () => {
        for (const ns of this.o.presence.namespaces()) this.enqueueNamespace(ns);
        for (const key of this.lowerByUpper.keys()) this.queue.add(key);
        this.queue.start();
        this.log.info(
          { kind: this.o.kind.kind, lowerCopies: this.lowerObjects.size, namespaces: this.o.presence.namespaces().length },
          'reflector caches synced',
        );
      },
      () => undefined,
    );
  }

  async stop(): Promise<void> {
    await Promise.all([this.upperObjects.stop(), this.lowerObjects.stop(), this.queue.stop()]);
  }

  /** Resolves once the initial caches are synced and the workers run. */
  whenStarted(): Promise<void> {
    return this.started ?? Promise.resolve();
  }

  private enqueueNamespace(ns: string): void {
    for (const obj of this.upperObjects.list()) if (obj.metadata.namespace === ns) this.queue.add(objectKey(obj));
    for (const key of this.lowerByUpper.keys()) if (key.startsWith(`${ns}/`)) this.queue.add(key);
  }

  private path(ns: string, name?: string): string {
    const k = this.o.kind;
    return `${k.apiPrefix}/namespaces/${ns}/${k.resource}${name ? `/${name}` : ''}`;
  }

  private count(verb: ReflectVerb, upperKey: string, lowerKey: string): void {
    this.writes.set(verb, (this.writes.get(verb) ?? 0) + 1);
    this.log.info({ kind: this.o.kind.kind, upper: upperKey, lower: lowerKey, verb }, 'reflected');
  }

  async sync(key: string): Promise<void> {
    const slash = key.indexOf('/');
    const ns = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const upper = this.upperObjects.get(key);
    const lowerNs = this.o.lowerNamespaceOf(ns);
    const lowerKey = `${lowerNs}/${name}`;
    // Copies made under an earlier namespace mapping (the template changed) are removed.
    for (const other of this.lowerByUpper.get(key) ?? [])
      if (other !== lowerKey) {
        const obj = this.lowerObjects.get(other);
        if (obj) await this.remove(obj, key);
      }
    const lower = this.lowerObjects.get(lowerKey);
    if (!upper || upper.metadata.deletionTimestamp || !this.o.presence.has(ns) || !this.o.kind.reflectable(upper)) {
      this.conflicts.delete(key);
      if (lower && upperKeyOf(lower) === key) await this.remove(lower, key);
      return;
    }
    const meta = desiredMeta(upper.metadata, this.o.nodeName);
    const spec = this.o.kind.desiredSpec(upper.spec);
    if (!lower) return this.create(upper, key, lowerNs, meta, spec);
    if (!metaDiffers(meta, lower.metadata) && !this.o.kind.specDiffers(spec, lower.spec)) return;
    const next = this.o.kind.updateSpec(spec, lower.spec);
    if (next === 'recreate') {
      await this.remove(lower, key);
      return; // the lower DELETED event brings the key back, and the copy is created afresh
    }
    const merged = mergeMeta(meta, lower.metadata);
    const body: Reflected<S> = {
      apiVersion: this.o.kind.apiVersion,
      kind: this.o.kind.kind,
      metadata: {
        name,
        namespace: lowerNs,
        resourceVersion: lower.metadata.resourceVersion,
        labels: merged.labels,
        annotations: merged.annotations,
        ...(lower.metadata.finalizers ? { finalizers: lower.metadata.finalizers } : {}),
      },
      spec: next,
    };
    try {
      this.count('update', key, lowerKey);
      await this.o.lower.replace(this.path(lowerNs, name), body);
    } catch (e) {
      // The API server refuses some changes in place (e.g. the first IP family): start afresh.
      if (e instanceof KubeApiError && e.code === 422) {
        this.log.info({ upper: key, err: e.message }, 'lower copy cannot be updated in place; recreating it');
        await this.remove(lower, key);
        return;
      }
      throw e;
    }
  }

  private async create(
    upper: Reflected<S>,
    key: string,
    lowerNs: string,
    meta: { labels: Record<string, string>; annotations: Record<string, string> },
    spec: S,
  ): Promise<void> {
    const name = upper.metadata.name!;
    // Read before writing: a name taken by an object fedlet does not own (found again after every
    // restart) costs no failing write, and a copy the cache has not seen yet is not created twice.
    const owner = await this.lowerOwner(lowerNs, name);
    if (owner === 'theirs') return this.conflict(upper, key, lowerNs);
    if (owner === 'ours') return; // its watch event syncs the key again
    const body: Reflected<S> = {
      apiVersion: this.o.kind.apiVersion,
      kind: this.o.kind.kind,
      metadata: { name, namespace: lowerNs, labels: meta.labels, annotations: meta.annotations },
      spec,
    };
    try {
      this.count('create', key, `${lowerNs}/${name}`);
      await this.o.lower.create(this.path(lowerNs), body);
    } catch (e) {
      if (e instanceof KubeApiError && e.code === 422)
        // e.g. an IP family the lower cluster does not have: say so where the user looks; retried with backoff.
        void this.o.events.record(
          this.target(upper),
          'Warning',
          'LowerObjectRejected',
          `lower cluster ${this.o.clusterName} refused the copy of ${this.o.kind.kind} ${key}: ${e.message}`,
        );
      if (!isAlreadyExists(e)) throw e;
      // Ours but not yet in the cache: its watch event syncs the key again. Not ours: leave it alone.
      if ((await this.lowerOwner(lowerNs, name)) === 'theirs') return this.conflict(upper, key, lowerNs);
      return;
    }
    this.conflicts.delete(key);
    const notice = lowerNs !== upper.metadata.namespace ? this.o.remapNotice?.(upper, lowerNs) : undefined;
    if (notice) void this.o.events.record(this.target(upper), 'Warning', 'NamespaceRemapped', notice);
  }

  /** Whether a lower object of that name exists, and whether this fedlet owns it. */
  private async lowerOwner(lowerNs: string, name: string): Promise<'absent' | 'ours' | 'theirs'> {
    try {
      const obj = await this.o.lower.get<KubeObject>(this.path(lowerNs, name));
      return obj.metadata?.labels?.[LABEL_ORIGIN] === this.o.nodeName ? 'ours' : 'theirs';
    } catch (e) {
      if (isNotFound(e)) return 'absent';
      throw e;
    }
  }

  private conflict(upper: Reflected<S>, key: string, lowerNs: string): void {
    const first = !this.conflicts.has(key);
    this.conflicts.add(key);
    const k = this.o.kind.kind;
    const message = `lower cluster ${this.o.clusterName} already has ${k} ${lowerNs}/${upper.metadata.name} that fedlet does not own (no label ${LABEL_ORIGIN}=${this.o.nodeName}); it is left untouched and this ${k} is not reflected there`;
    if (first) {
      this.log.warn({ upper: key, lower: `${lowerNs}/${upper.metadata.name}` }, message);
      void this.o.events.record(this.target(upper), 'Warning', 'LowerObjectConflict', message);
    }
    // The unowned object may go away without any event fedlet sees: look again later.
    this.queue.addAfter(key, 60_000);
  }

  private target(upper: Reflected<S>) {
    return {
      kind: this.o.kind.kind,
      apiVersion: this.o.kind.apiVersion,
      namespace: upper.metadata.namespace!,
      name: upper.metadata.name!,
      uid: upper.metadata.uid,
    };
  }

  private async remove(lower: Reflected<S>, key: string): Promise<void> {
    if (lower.metadata.deletionTimestamp) return;
    try {
      this.count('delete', key, objectKey(lower));
      await this.o.lower.delete(this.path(lower.metadata.namespace!, lower.metadata.name!), {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        preconditions: { uid: lower.metadata.uid },
      });
    } catch (e) {
      if (!isNotFound(e) && !(e instanceof KubeApiError && e.code === 409)) throw e;
    }
  }
}
