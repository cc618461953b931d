// The lower namespaces fedlet puts objects into (pods, claims): created on first need with fedlet's
// origin label, remembered so that each is checked once, and forgotten again whenever a write into it
// fails (its namespace GC, or someone else, may have deleted it meanwhile) or the GC removed it. The one
// place that knows how a lower namespace is ensured.
import type { Logger } from 'pino';
import { isAlreadyExists, isNotFound, type KubeClient } from '../../src/kube/client.js';
import { LABEL_ORIGIN, LABEL_UPPER_NAMESPACE } from '../../src/labels.js';
import type { NamespaceRbac } from './namespace-rbac.js';

export interface LowerNamespacesOptions {
  lower: KubeClient;
  nodeName: string;
  /** fedlet's rights inside each namespace it uses (a RoleBinding it makes): ensured with the namespace. */
  rbac?: Pick<NamespaceRbac, 'ensure' | 'forget'>;
  log: Logger;
}

export class LowerNamespaces {
  private readonly ensured = new Set<string>();

  constructor(private readonly o: LowerNamespacesOptions) {}

  /** Creates lower namespace `ns` (standing for upper `upperNs`) unless it exists. */
  async ensure(ns: string, upperNs: string): Promise<void> {
    if (this.ensured.has(ns)) return;
    try {
      await this.o.lower.get(`/api/v1/namespaces/${ns}`);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      try {
        await this.o.lower.create('/api/v1/namespaces', {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: ns, labels: { [LABEL_ORIGIN]: this.o.nodeName }, annotations: { [LABEL_UPPER_NAMESPACE]: upperNs } },
        });
        this.o.log.info({ namespace: ns }, 'created lower namespace');
      } catch (e2) {
        if (!isAlreadyExists(e2)) throw e2;
      }
    }
    await this.o.rbac?.ensure(ns);
    this.ensured.add(ns);
  }

  /**
   * Ensures the namespace, then writes into it. A failing write forgets the namespace, so the next
   * attempt checks it again instead of trusting a namespace that may be gone or terminating.
   */
  async write<T>(ns: string, upperNs: string, fn: () => Promise<T>): Promise<T> {
    try {
      await this.ensure(ns, upperNs);
      return await fn();
    } catch (e) {
      this.ensured.delete(ns);
      throw e;
    }
  }

  /** The namespace was deleted (namespace GC): create it again when something needs it. */
  forget(ns: string): void {
    this.ensured.delete(ns);
    this.o.rbac?.forget(ns);
  }
}
