// The lower namespaces where fedlet may read (its rights there are per namespace: namespace-rbac.ts), as a
// set that changes: the namespaces it created (label fedlet.io/origin=<node>, followed by a watch that
// needs only cluster-wide read on namespaces) once their RoleBinding is effective, and any other namespace
// whose rights the write path made effective (e.g. one a lower admin granted). Watches of Secrets are
// opened namespace by namespace from this set (token-secrets.ts); garbage collection lists here.
import type { Logger } from 'pino';
import type { KubeApi } from '../../src/kube/client.js';
import { isNotLeader } from '../../src/kube/fence.js';
import { Informer } from '../../src/kube/informer.js';
import type { KubeObject } from '../../src/kube/types.js';
import { LABEL_ORIGIN } from '../../src/labels.js';
import type { NamespaceRbac } from './namespace-rbac.js';

/** What consumers of the set need: the namespaces now, their arrivals and departures, and the first fill. */
export interface ReadableNamespaces {
  current(): string[];
  onChange(l: (namespace: string, readable: boolean) => void): void;
  /** Resolves once the namespaces fedlet owned at start are readable (or failed to become so, logged). */
  ready(signal?: AbortSignal): Promise<void>;
  /**
   * After a read in `ns` was refused: whether `ns` is still readable. A namespace where fedlet's rights
   * are gone leaves the set (its listeners hear it); a later write there brings it back.
   */
  refused(ns: string): Promise<boolean>;
}

export interface OwnedNamespacesOptions {
  lower: KubeApi;
  nodeName: string;
  rbac: NamespaceRbac;
  log: Logger;
}

export class OwnedNamespaces implements ReadableNamespaces {
  private readonly owned: Informer<KubeObject>;
  private readonly readable = new Set<string>();
  private readonly listeners: Array<(ns: string, readable: boolean) => void> = [];
  private initial?: Promise<void>;

  constructor(private readonly o: OwnedNamespacesOptions) {
    this.owned = new Informer<KubeObject>({
      client: o.lower,
      path: '/api/v1/namespaces',
      labelSelector: `${LABEL_ORIGIN}=${o.nodeName}`,
      metadataOnly: true,
      transform: (n) => ({
        metadata: {
          name: n.metadata?.name,
          resourceVersion: n.metadata?.resourceVersion,
          deletionTimestamp: n.metadata?.deletionTimestamp,
        },
      }),
      log: o.log,
    });
    o.rbac.onBound((ns) => this.mark(ns, true));
    this.owned.addHandlers({
      onAdd: (n) => {
        if (n.metadata?.deletionTimestamp) return void this.terminating(n.metadata.name);
        // Before the first list is done, start() binds them all and waits; afterwards one by one.
        if (this.initial) void this.bind(n.metadata?.name);
      },
      onUpdate: (n) => {
        if (n.metadata?.deletionTimestamp) this.terminating(n.metadata.name);
      },
      onDelete: (n) => {
        const ns = n.metadata?.name;
        if (!ns) return;
        o.rbac.forget(ns);
        this.mark(ns, false);
      },
    });
  }

  current(): string[] {
    return [...this.readable];
  }

  onChange(l: (ns: string, readable: boolean) => void): void {
    this.listeners.push(l);
  }

  start(signal?: AbortSignal): void {
    this.owned.start();
    this.initial = this.owned
      .waitForSync(signal)
      .then(() =>
        Promise.all(this.owned.list().map((n) => (n.metadata?.deletionTimestamp ? undefined : this.bind(n.metadata?.name)))),
      )
      .then(() => undefined);
  }

  async ready(signal?: AbortSignal): Promise<void> {
    if (!this.initial) return;
    let onAbort: (() => void) | undefined;
    await Promise.race([
      this.initial,
      new Promise<void>((resolve) => {
        onAbort = resolve;
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }

  async stop(): Promise<void> {
    await this.owned.stop();
  }

  async refused(ns: string): Promise<boolean> {
    if (!this.readable.has(ns)) return false;
    // Namespaces fedlet created leave by the watch above; one a lower admin granted can be deleted,
    // un-granted or lose its RoleBinding with no event fedlet watches, so the authorizer is asked.
    if (await this.o.rbac.stillEffective(ns)) return true;
    this.o.log.info(
      { namespace: ns },
      "fedlet's rights in this lower namespace are gone (namespace deleted, grant revoked or RoleBinding removed); it stops reading there until its next write",
    );
    this.mark(ns, false);
    return false;
  }

  private async bind(ns: string | undefined): Promise<void> {
    if (!ns || this.o.rbac.isBound(ns)) return;
    try {
      await this.o.rbac.ensure(ns);
    } catch (e) {
      if (isNotLeader(e)) return; // a standby: the leader binds it, this replica's next write looks again
      this.o.log.warn(
        { namespace: ns, err: (e as Error).message },
        "fedlet's rights in its lower namespace are not in effect yet; its next write there tries again",
      );
    }
  }

  /**
   * A namespace being deleted leaves the set at once: the namespace controller removes its RoleBinding
   * among its other contents, so reads there are refused long before the namespace itself is gone, and
   * whatever fedlet left in it goes with it anyway.
   */
  private terminating(ns: string | undefined): void {
    if (!ns) return;
    this.o.rbac.forget(ns);
    this.mark(ns, false);
  }

  private mark(ns: string, readable: boolean): void {
    if (this.readable.has(ns) === readable) return;
    if (readable) this.readable.add(ns);
    else this.readable.delete(ns);
    for (const l of this.listeners) l(ns, readable);
  }
}
