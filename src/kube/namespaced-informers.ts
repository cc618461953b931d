// One informer per namespace, over a set of namespaces that changes: for credentials that may read a
// collection only namespace by namespace (a RoleBinding per namespace, no cluster-wide list/watch).
// Reads as one cache: get(key) finds the namespace's informer, list() joins them, handlers registered
// once see every namespace's events. A namespace taken out of the set stops its informer and reports its
// objects deleted (they are no longer visible, as after a relist).
import type { Informer, InformerHandlers } from './informer.js';
import type { KubeObject } from './types.js';

export class NamespacedInformers<T extends KubeObject> {
  private readonly byNamespace = new Map<string, Informer<KubeObject, T>>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private started = false;

  /** `make(ns)` builds the (not yet started) informer of one namespace. */
  constructor(private readonly make: (namespace: string) => Informer<KubeObject, T>) {}

  addHandlers(h: InformerHandlers<T>): void {
    this.handlers.push(h);
    for (const inf of this.byNamespace.values()) inf.addHandlers(h);
  }

  /** Watches exactly these namespaces from now on. */
  setNamespaces(namespaces: Iterable<string>): void {
    const want = new Set(namespaces);
    for (const ns of want) this.add(ns);
    for (const ns of [...this.byNamespace.keys()]) if (!want.has(ns)) void this.remove(ns);
  }

  /** Watches one more namespace (no-op when watched). */
  add(namespace: string): void {
    if (this.byNamespace.has(namespace)) return;
    const inf = this.make(namespace);
    for (const h of this.handlers) inf.addHandlers(h);
    this.byNamespace.set(namespace, inf);
    if (this.started) inf.start();
  }

  /** Stops watching a namespace; its cached objects are reported deleted. */
  async remove(namespace: string): Promise<void> {
    const inf = this.byNamespace.get(namespace);
    if (!inf) return;
    this.byNamespace.delete(namespace);
    await inf.stop();
    for (const obj of inf.list()) for (const h of this.handlers) h.onDelete?.(obj);
  }

  namespaces(): string[] {
    return [...this.byNamespace.keys()];
  }

  get(key: string): T | undefined {
    const ns = key.slice(0, key.indexOf('/'));
    return this.byNamespace.get(ns)?.get(key);
  }

  list(): T[] {
    return [...this.byNamespace.values()].flatMap((i) => i.list());
  }

  get hasSynced(): boolean {
    return [...this.byNamespace.values()].every((i) => i.hasSynced);
  }

  start(): void {
    this.started = true;
    for (const inf of this.byNamespace.values()) inf.start();
  }

  /** Resolves once `namespace`'s informer has listed (at once if it has, or the namespace is not watched). */
  async waitForNamespace(namespace: string, signal?: AbortSignal): Promise<void> {
    const inf = this.byNamespace.get(namespace);
    if (inf && !inf.hasSynced) await inf.waitForSync(signal);
  }

  /** Resolves once every namespace watched now has listed. */
  async waitForSync(signal?: AbortSignal): Promise<void> {
    await Promise.all([...this.byNamespace.values()].map((i) => i.waitForSync(signal)));
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.byNamespace.values()].map((i) => i.stop()));
  }
}
