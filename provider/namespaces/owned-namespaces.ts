// The lower namespaces where fedlet may read (its rights there are per namespace: namespace-rbac.ts), as a
// set that changes: the namespaces it created (label fedlet.io/origin=<node>) and those a lower admin
// granted it (label fedlet.io/grant=<node or cluster>, or the grantedLowerNamespaces option), followed by
// one watch of namespaces (cluster-wide read on namespaces is all it needs), once their RoleBinding is
// effective; and any other namespace whose rights the write path made effective. Granted namespaces are
// in the set from the start, like owned ones: after a restart their token Secrets are known before any
// pod is synced, so nothing is issued again. Watches of Secrets are opened namespace by namespace from
// this set (token-secrets.ts); garbage collection lists here.
import type { Logger } from 'pino';
import type { KubeApi } from '../../src/kube/client.js';
import { isNotLeader } from '../../src/kube/fence.js';
import { Informer } from '../../src/kube/informer.js';
import type { KubeObject } from '../../src/kube/types.js';
import { LABEL_GRANT, LABEL_ORIGIN } from '../../src/labels.js';
import type { NamespaceRbac } from './namespace-rbac.js';
import { isGranted } from './namespace-access.js';

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
  /** The lower cluster's name: a grant label may name it instead of the node. */
  clusterName?: string;
  /** Lower namespaces granted by option (grantedLowerNamespaces). */
  granted?: ReadonlySet<string>;
  rbac: NamespaceRbac;
  log: Logger;
}

export class OwnedNamespaces implements ReadableNamespaces {
  private readonly owned: Informer<KubeObject>;
  private readonly readable = new Set<string>();
  private readonly listeners: Array<(ns: string, readable: boolean) => void> = [];
  private initial?: Promise<void>;

  constructor(private readonly o: OwnedNamespacesOptions) {
    // Every namespace, slimmed to what says whether it is ours: a label selector cannot say "created by
    // us or granted to us", and namespaces are few and small.
    this.owned = new Informer<KubeObject>({
      client: o.lower,
      path: '/api/v1/namespaces',
      metadataOnly: true,
      transform: (n) => ({
        metadata: {
          name: n.metadata?.name,
          resourceVersion: n.metadata?.resourceVersion,
          deletionTimestamp: n.metadata?.deletionTimestamp,
          labels: ourLabels(n.metadata?.labels),
        },
      }),
      log: o.log,
    });
    o.rbac.onBound((ns) => this.mark(ns, true));
    this.owned.addHandlers({
      onAdd: (n) => {
        if (n.metadata?.deletionTimestamp) return void this.terminating(n.metadata.name);
        // Before the first list is done, start() binds them all and waits; afterwards one by one.
        if (this.initial && this.ours(n)) void this.bind(n.metadata?.name);
      },
      onUpdate: (n, old) => {
        if (n.metadata?.deletionTimestamp) return void this.terminating(n.metadata.name);
        if (this.ours(n) && !this.ours(old)) void this.bind(n.metadata?.name);
        // A lower admin took the grant back: fedlet stops reading there (its pods there are refused
        // from their next write on, by namespace-access.ts).
        else if (!this.ours(n) && this.ours(old)) this.terminating(n.metadata?.name);
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
        Promise.all(
          this.owned
            .list()
            .map((n) => (n.metadata?.deletionTimestamp || !this.ours(n) ? undefined : this.bind(n.metadata?.name))),
        ),
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

  /** Created by this node, or granted to it (by label, naming the node or the cluster, or by option). */
  private ours(n: KubeObject): boolean {
    const labels = n.metadata?.labels;
    return (
      labels?.[LABEL_ORIGIN] === this.o.nodeName ||
      isGranted(n.metadata?.name ?? '', labels, {
        nodeName: this.o.nodeName,
        clusterName: this.o.clusterName ?? this.o.nodeName,
        granted: this.o.granted ?? new Set(),
      })
    );
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
   * A namespace being deleted (or no longer granted) leaves the set at once: the namespace controller removes its RoleBinding
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

/** The two labels that say whose a namespace is; nothing else of a namespace is kept. */
function ourLabels(labels: Record<string, string> | undefined): Record<string, string> | undefined {
  const origin = labels?.[LABEL_ORIGIN];
  const grant = labels?.[LABEL_GRANT];
  if (origin === undefined && grant === undefined) return undefined;
  return {
    ...(origin !== undefined ? { [LABEL_ORIGIN]: origin } : {}),
    ...(grant !== undefined ? { [LABEL_GRANT]: grant } : {}),
  };
}
