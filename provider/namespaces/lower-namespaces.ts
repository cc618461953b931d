// The lower namespaces fedlet puts objects into (pods, claims): used only when fedlet created them or a
// lower admin granted them (namespace-access.ts), created on first need with fedlet's origin label and
// Pod Security labels no weaker than the upper namespace's, and checked again at most every
// RECHECK_MS when used (a grant withdrawn, a lower identity label removed or a Pod Security label
// lowered is seen by the next pod within that time). A namespace is forgotten whenever a write into it
// fails (its namespace GC, or someone else, may have deleted it meanwhile) or the GC removed it. The one
// place that knows how a lower namespace is ensured.
import type { Logger } from 'pino';
import { isAlreadyExists, isNotFound, KubeApiError, type KubeApi } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/kube/types.js';
import { apiPath } from '../../src/kube/api-path.js';
import { LABEL_ORIGIN, LABEL_UPPER_NAMESPACE } from '../../src/labels.js';
import {
  lowerIdentityAllowed,
  namespaceAccess,
  podSecurityLabels,
  podSecurityPatch,
  REASON_NAMESPACE_NOT_OWNED,
  type NamespacePolicy,
  type PodSecurityLevel,
} from './namespace-access.js';

/** How long a namespace's check is trusted before the next use reads it again. */
export const RECHECK_MS = 30_000;
/** At most this many namespaces are remembered (the oldest check is dropped first). */
const MAX_REMEMBERED = 10_000;
import type { NamespaceRbac } from './namespace-rbac.js';

export interface LowerNamespacesOptions {
  lower: KubeApi;
  /** Reads the upper namespace's Pod Security labels; without it only the floor applies. */
  upper?: KubeApi;
  nodeName: string;
  clusterName: string;
  /** Lower namespaces granted by option (grantedLowerNamespaces). */
  granted?: ReadonlySet<string>;
  /** Lowest enforce level of the namespaces fedlet creates (podSecurityFloor); default baseline. */
  podSecurityFloor?: PodSecurityLevel;
  /** fedlet's rights inside each namespace it uses (a RoleBinding it makes): ensured with the namespace. */
  rbac?: Pick<NamespaceRbac, 'ensure' | 'forget'>;
  log: Logger;
  now?: () => number;
}

/** The lower namespace is not fedlet's to use: the pod (or claim) waits with this reason. */
export class LowerNamespaceRefusedError extends Error {
  readonly reason = REASON_NAMESPACE_NOT_OWNED;
  constructor(message: string) {
    super(message);
    this.name = 'LowerNamespaceRefusedError';
  }
}

/** What fedlet may do in a lower namespace it may use. */
export interface LowerNamespaceUse {
  how: 'owned' | 'granted';
  /** A lower admin lets pods run as the namespace's service accounts (label fedlet.io/lower-identity). */
  lowerIdentity: boolean;
}

export class LowerNamespaces {
  private readonly checked = new Map<string, { at: number; use: LowerNamespaceUse }>();
  private readonly policy: NamespacePolicy;
  private readonly now: () => number;

  constructor(private readonly o: LowerNamespacesOptions) {
    this.policy = { nodeName: o.nodeName, clusterName: o.clusterName, granted: o.granted ?? new Set() };
    this.now = o.now ?? Date.now;
  }

  /**
   * Makes sure fedlet may use lower namespace `ns` (standing for upper `upperNs`), creating it if it does
   * not exist. Throws LowerNamespaceRefusedError when the namespace is someone else's.
   */
  async ensure(ns: string, upperNs: string, again = true): Promise<LowerNamespaceUse> {
    const known = this.checked.get(ns);
    if (known && this.now() - known.at < RECHECK_MS) return known.use;
    const existing = await this.read(ns);
    if (existing?.metadata?.deletionTimestamp) {
      // Being deleted (its grace ended, or someone deleted it): nothing may be written there, and the
      // namespace controller removes fedlet's RoleBinding before the namespace is gone, so even asking
      // for rights now would pass and then fail. The pod waits, as the lower API server would make it
      // (a transient refusal), and the namespace is created again once it is gone.
      this.checked.delete(ns);
      this.o.rbac?.forget(ns);
      const path = apiPath`/api/v1/namespaces/${ns}`;
      throw new KubeApiError(
        403,
        'Forbidden',
        `GET ${path}: 403 lower namespace ${ns} of cluster ${this.o.clusterName} is being deleted: unable to create new content in it because it is being terminated; fedlet creates it again once it is gone`,
        'GET',
        path,
      );
    }
    const access = namespaceAccess(ns, existing, upperNs, this.policy);
    if (access.kind === 'refuse') {
      this.checked.delete(ns);
      throw new LowerNamespaceRefusedError(access.message);
    }
    let use: LowerNamespaceUse;
    if (access.kind === 'create') {
      if (!(await this.create(ns, upperNs))) {
        // Created meanwhile (by another writer, or ours behind a stale read): look at what it is.
        if (again) return this.ensure(ns, upperNs, false);
        throw new Error(`lower namespace ${ns} of cluster ${this.o.clusterName} exists but cannot be read; will retry`);
      }
      use = { how: 'owned', lowerIdentity: false };
    } else {
      if (access.how === 'owned') await this.raisePodSecurity(ns, upperNs, existing!);
      use = { how: access.how, lowerIdentity: lowerIdentityAllowed(existing, this.policy) };
    }
    // fedlet's rights in the namespace come with it (a RoleBinding it makes there).
    await this.o.rbac?.ensure(ns);
    this.checked.delete(ns);
    this.checked.set(ns, { at: this.now(), use });
    if (this.checked.size > MAX_REMEMBERED) this.checked.delete(this.checked.keys().next().value!);
    return use;
  }

  /**
   * Ensures the namespace, then writes into it. A failing write forgets the namespace, so the next
   * attempt checks it again instead of trusting a namespace that may be gone or terminating.
   */
  async write<T>(ns: string, upperNs: string, fn: (use: LowerNamespaceUse) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.ensure(ns, upperNs));
    } catch (e) {
      this.checked.delete(ns);
      throw e;
    }
  }

  /** The namespace was deleted (namespace GC): create it again when something needs it. */
  forget(ns: string): void {
    this.checked.delete(ns);
    this.o.rbac?.forget(ns);
  }

  private async read(ns: string): Promise<KubeObject | undefined> {
    try {
      return await this.o.lower.get<KubeObject>(apiPath`/api/v1/namespaces/${ns}`);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** True when fedlet created it; false when it existed by then. */
  private async create(ns: string, upperNs: string): Promise<boolean> {
    const labels = { [LABEL_ORIGIN]: this.o.nodeName, ...(await this.podSecurity(upperNs)) };
    try {
      await this.o.lower.create('/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ns, labels, annotations: { [LABEL_UPPER_NAMESPACE]: upperNs } },
      });
    } catch (e) {
      if (isAlreadyExists(e)) return false;
      throw e;
    }
    this.o.log.info({ namespace: ns, labels }, 'created lower namespace');
    return true;
  }

  /** A namespace fedlet created enforces at least what the upper namespace (and the floor) asks now. */
  private async raisePodSecurity(ns: string, upperNs: string, existing: KubeObject): Promise<void> {
    const patch = podSecurityPatch(existing.metadata?.labels, await this.podSecurity(upperNs));
    if (!patch) return;
    await this.o.lower.patch(apiPath`/api/v1/namespaces/${ns}`, { metadata: { labels: patch } }, 'merge');
    this.o.log.info({ namespace: ns, labels: patch }, 'raised the Pod Security level of a lower namespace');
  }

  /** The Pod Security labels a lower namespace for `upperNs` needs. */
  private async podSecurity(upperNs: string): Promise<Record<string, string>> {
    const floor = this.o.podSecurityFloor ?? 'baseline';
    if (!this.o.upper) return podSecurityLabels({}, floor);
    try {
      const up = await this.o.upper.get<KubeObject>(apiPath`/api/v1/namespaces/${upperNs}`);
      return podSecurityLabels(up.metadata?.labels ?? {}, floor);
    } catch (e) {
      // Without read access to upper namespaces (older RBAC) the floor still holds.
      if (!(e instanceof KubeApiError) || (e.code !== 403 && e.code !== 404)) throw e;
      this.o.log.warn(
        { namespace: upperNs, err: e.message },
        'cannot read the upper namespace: its lower namespace gets the Pod Security floor only',
      );
      return podSecurityLabels({}, floor);
    }
  }
}
