// fedlet's rights inside one lower namespace. Its lower identity holds no cluster-wide right on pods
// (beyond reading them for capacity), Secrets, ConfigMaps or pod streams: those come from a RoleBinding
// of one ClusterRole (lowerNamespaceRole, default fedlet:lower-namespace: manifests/rbac/lower) to
// fedlet's own identity, which fedlet creates in each namespace it uses — its `bind` right names only that
// ClusterRole, and the ValidatingAdmissionPolicy fedlet-lower-scope (manifests/rbac/lower) lets it bind
// only itself, only in namespaces it created (fedlet.io/origin) or a lower admin granted (fedlet.io/grant).
// After binding, fedlet waits until the API server's authorizer answers with the new right (a
// SelfSubjectAccessReview), so the first write into the namespace is not refused. The one place that knows
// how fedlet obtains its rights in a lower namespace: the namespace creation path calls ensure().
import type { Logger } from 'pino';
import { isAlreadyExists, type KubeApi } from '../../src/kube/client.js';
import { LABEL_ORIGIN } from '../../src/labels.js';

export const DEFAULT_LOWER_NAMESPACE_ROLE = 'fedlet:lower-namespace';

/** A RoleBinding subject: fedlet's own identity in the lower cluster. */
export interface RoleBindingSubject {
  kind: 'ServiceAccount' | 'User';
  name: string;
  namespace?: string;
  apiGroup?: string;
}

/** The subject of a username as the authenticator reports it (system:serviceaccount:<ns>:<name> or a user). */
export function subjectOf(username: string): RoleBindingSubject {
  const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username);
  return m
    ? { kind: 'ServiceAccount', namespace: m[1], name: m[2]! }
    : { kind: 'User', name: username, apiGroup: 'rbac.authorization.k8s.io' };
}

/** The RoleBinding fedlet creates in lower namespace `ns`. Pure. */
export function roleBinding(ns: string, role: string, subject: RoleBindingSubject, nodeName: string): Record<string, unknown> {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: role, namespace: ns, labels: { [LABEL_ORIGIN]: nodeName } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: [subject],
  };
}

export class NamespaceAccessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NamespaceAccessError';
  }
}

export interface NamespaceRbacOptions {
  lower: KubeApi;
  nodeName: string;
  /** The ClusterRole bound in each namespace (lowerNamespaceRole). */
  role?: string;
  log: Logger;
  /** How long the authorizer may take to see a new binding (default 15 s). */
  effectiveWithinMs?: number;
}

/** At most this many namespaces are remembered as bound (the oldest is checked again when needed). */
const MAX_REMEMBERED = 10_000;

export class NamespaceRbac {
  private self?: Promise<RoleBindingSubject>;
  private readonly bound = new Set<string>();
  private readonly listeners: Array<(ns: string) => void> = [];
  readonly role: string;

  constructor(private readonly o: NamespaceRbacOptions) {
    this.role = o.role ?? DEFAULT_LOWER_NAMESPACE_ROLE;
  }

  /** Called once for each namespace where fedlet's rights became effective. */
  onBound(l: (ns: string) => void): void {
    this.listeners.push(l);
  }

  /** Namespaces where fedlet's rights are known to be effective. */
  namespaces(): string[] {
    return [...this.bound];
  }

  isBound(ns: string): boolean {
    return this.bound.has(ns);
  }

  /** Makes fedlet's rights in `ns` effective: binds the namespace role to itself and waits for the authorizer. */
  async ensure(ns: string): Promise<void> {
    if (this.bound.has(ns)) return;
    // Bound already (by an earlier run, or a lower admin): nothing to write, which a standby could not.
    if (!(await this.allowed(ns))) await this.bind(ns);
    this.bound.add(ns);
    if (this.bound.size > MAX_REMEMBERED) this.bound.delete(this.bound.values().next().value!);
    for (const l of this.listeners) l(ns);
  }

  private async bind(ns: string): Promise<void> {
    const subject = await this.subject();
    try {
      await this.o.lower.create(
        `/apis/rbac.authorization.k8s.io/v1/namespaces/${encodeURIComponent(ns)}/rolebindings`,
        roleBinding(ns, this.role, subject, this.o.nodeName),
      );
      this.o.log.info({ namespace: ns, role: this.role }, 'bound the lower namespace role to fedlet in its namespace');
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
    await this.effective(ns);
  }

  /** The namespace is gone (its RoleBinding with it). */
  forget(ns: string): void {
    this.bound.delete(ns);
  }

  /**
   * Asks the authorizer whether fedlet's rights in `ns` still hold, after a refusal there: a lower admin
   * may have deleted a namespace they granted, revoked the grant or removed the RoleBinding. If they are
   * gone, `ns` is forgotten (the next write there binds again) and false is returned.
   */
  async stillEffective(ns: string): Promise<boolean> {
    if (await this.allowed(ns)) return true;
    this.forget(ns);
    return false;
  }

  private subject(): Promise<RoleBindingSubject> {
    this.self ??= this.o.lower
      .create<{ status?: { userInfo?: { username?: string } } }>('/apis/authentication.k8s.io/v1/selfsubjectreviews', {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'SelfSubjectReview',
      })
      .then((r) => {
        const username = r.status?.userInfo?.username;
        if (!username) throw new NamespaceAccessError('the lower API server did not say who fedlet is (SelfSubjectReview)');
        return subjectOf(username);
      })
      .catch((e: unknown) => {
        this.self = undefined;
        throw e;
      });
    return this.self;
  }

  private async allowed(ns: string): Promise<boolean> {
    const r = await this.o.lower.create<{ status?: { allowed?: boolean } }>(
      '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
      {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: { namespace: ns, verb: 'create', resource: 'pods' } },
      },
    );
    return !!r.status?.allowed;
  }

  private async effective(ns: string): Promise<void> {
    const deadline = Date.now() + (this.o.effectiveWithinMs ?? 15_000);
    for (let wait = 50; ; wait = Math.min(1000, wait * 2)) {
      if (await this.allowed(ns)) return;
      if (Date.now() > deadline)
        throw new NamespaceAccessError(
          `fedlet still may not create pods in lower namespace ${ns} after binding ClusterRole ${this.role} to itself there: ` +
            `does ClusterRole ${this.role} exist in the lower cluster with the rules of manifests/rbac/lower (lowerNamespaceRole names it)?`,
        );
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
