// Which upper namespaces this fedlet runs pods in, derived from its lower pods (they carry the upper
// namespace as an annotation). Objects that only matter next to pods (Services, NetworkPolicies) are
// reflected into exactly these namespaces. Rebuilt from the lower pod cache: nothing to persist.
import type { InformerHandlers } from '../../src/kube/informer.js';
import type { KubeObject } from '../../src/kube/types.js';
import { LABEL_UPPER_NAMESPACE } from '../../src/labels.js';

/** The part of an informer this module needs (the provider's lower pod cache). */
export interface PodSource {
  addHandlers(h: InformerHandlers<KubeObject>): void;
  readonly hasSynced: boolean;
  waitForSync(signal?: AbortSignal): Promise<void>;
}

export class PodNamespaces {
  /** upper namespace → keys of lower pods standing for pods in it */
  private readonly byNamespace = new Map<string, Set<string>>();
  private readonly listeners: Array<(upperNamespace: string) => void> = [];

  constructor(private readonly source: PodSource) {
    source.addHandlers({
      onAdd: (p) => this.add(p),
      onUpdate: (p) => this.add(p),
      onDelete: (p) => this.remove(p),
    });
  }

  /** True while at least one pod of this fedlet lives in the upper namespace. */
  has(upperNamespace: string): boolean {
    return (this.byNamespace.get(upperNamespace)?.size ?? 0) > 0;
  }
  namespaces(): string[] {
    return [...this.byNamespace.keys()];
  }
  get hasSynced(): boolean {
    return this.source.hasSynced;
  }
  waitForSync(signal?: AbortSignal): Promise<void> {
    return this.source.waitForSync(signal);
  }
  /** Called when a namespace gains its first pod or loses its last one. */
  onChange(l: (upperNamespace: string) => void): void {
    this.listeners.push(l);
  }

  private add(p: KubeObject): void {
    const ns = p.metadata?.annotations?.[LABEL_UPPER_NAMESPACE];
    if (!ns) return;
    let set = this.byNamespace.get(ns);
    if (!set) this.byNamespace.set(ns, (set = new Set()));
    const before = set.size;
    set.add(`${p.metadata?.namespace}/${p.metadata?.name}`);
    if (before === 0 && set.size === 1) this.emit(ns);
  }

  private remove(p: KubeObject): void {
    const ns = p.metadata?.annotations?.[LABEL_UPPER_NAMESPACE];
    if (!ns) return;
    const set = this.byNamespace.get(ns);
    if (!set?.delete(`${p.metadata?.namespace}/${p.metadata?.name}`) || set.size) return;
    this.byNamespace.delete(ns);
    this.emit(ns);
  }

  private emit(ns: string): void {
    for (const l of this.listeners) l(ns);
  }
}
