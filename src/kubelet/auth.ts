// Kubelet-style authentication and authorization for fedlet's kubelet API:
//  - a client certificate verified against the upper cluster's client CA (user = CN, groups = O), else
//  - a bearer token checked with a TokenReview, else 401 (anonymous only when explicitly enabled);
//  - then a SubjectAccessReview on nodes/<node> with the kubelet's verb and subresource mapping, for the
//    node the request is about: the pod's node for a pod's logs/exec/attach/port-forward, every node the
//    process serves for node-wide paths (with pools, one server answers for all pool nodes, and a
//    node-wide answer holds all of their pods).
// Decisions are cached briefly (tokens and allowed decisions longer than denials). Reviews of tokens
// not seen before are bounded: at most `maxPendingReviews` wait at once, and the rest are answered 429
// at once, so a flood of made-up bearer tokens costs the upper API server a bounded rate of TokenReviews
// (on a client of their own, see app/run.ts) and cannot delay any other write of fedlet's.
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type { KubeApi } from '../kube/client.js';
import type { Pod } from '../kube/types.js';

export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/**
 * A refusal: `message` goes to the caller (who may be anyone), `detail` (internal error text) only to
 * fedlet's log.
 */
export type AuthRefusal = { status: 401 | 403 | 429 | 500; message: string; detail?: string };
export type AuthResult = { ok: true; user: UserInfo } | ({ ok: false } & AuthRefusal);

/** The kubelet's mapping: which subresource of nodes/<name> a path needs. */
function subresourceFor(path: string): string {
  if (path.startsWith('/stats')) return 'stats';
  if (path.startsWith('/metrics')) return 'metrics';
  if (path.startsWith('/logs')) return 'log';
  if (path.startsWith('/checkpoint')) return 'checkpoint';
  return 'proxy';
}

/**
 * Subresources accepted for a path, most specific first: like the kubelet's fine-grained
 * authorization, /configz, /healthz and /pods may be granted on their own, and nodes/proxy covers them.
 */
export function subresourcesFor(path: string): string[] {
  for (const fine of ['configz', 'healthz', 'pods'])
    if (path === `/${fine}` || path.startsWith(`/${fine}/`)) return [fine, 'proxy'];
  if (path === '/runningpods' || path.startsWith('/runningpods/')) return ['pods', 'proxy'];
  return [subresourceFor(path)];
}
export function verbFor(method: string): string {
  switch (method.toUpperCase()) {
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return 'get';
  }
}

class TtlCache<V> {
  private readonly m = new Map<string, { v: V; until: number }>();
  constructor(private readonly max = 4096) {}
  get(k: string): V | undefined {
    const e = this.m.get(k);
    if (!e) return undefined;
    if (e.until < Date.now()) {
      this.m.delete(k);
      return undefined;
    }
    return e.v;
  }
  set(k: string, v: V, ttlMs: number): void {
    this.m.set(k, { v, until: Date.now() + ttlMs });
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value!);
  }
}

/** Paths about one pod: /<kind>/<namespace>/<pod>/... */
const POD_PATH = /^\/(?:containerLogs|exec|attach|portForward|run)\/([^/]+)\/([^/]+)(?:\/|$)/;

/**
 * The nodes a request must be authorized on: the node the named pod is bound to when this process
 * serves it, else every served node (a node-wide path, or a pod not found here — the answer then is 404).
 */
export function targetNodes(path: string, pods: readonly Pod[], served: readonly string[]): string[] {
  const m = POD_PATH.exec(path);
  if (m) {
    // A malformed escape (`%zz`) names no pod: the caller then needs rights on every served node.
    const [ns, name] = [safeDecode(m[1]!), safeDecode(m[2]!)];
    const node = pods.find((p) => p.metadata.namespace === ns && p.metadata.name === name)?.spec?.nodeName;
    if (node && served.includes(node)) return [node];
  }
  return [...served];
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

export interface KubeletAuthOptions {
  /** Creates TokenReviews and SubjectAccessReviews in the upper cluster (a client of their own). */
  reviewer: Pick<KubeApi, 'create'>;
  /** The nodes a path is about (targetNodes); a request is allowed only when allowed on each. */
  nodesFor: (path: string) => string[];
  anonymous: boolean;
  /** Reviews of unknown bearer tokens that may wait at once; more are refused with 429 (default 8). */
  maxPendingReviews?: number;
}

/** Answered when too many unknown bearer tokens wait for review. */
export const REVIEWS_BUSY_MESSAGE =
  'Too Many Requests: too many requests with unknown bearer tokens are waiting for authentication; retry later';

export class KubeletAuth {
  private readonly tokens = new TtlCache<UserInfo | null>();
  private readonly decisions = new TtlCache<boolean>();
  private pendingReviews = 0;

  constructor(private readonly o: KubeletAuthOptions) {}

  /** TokenReviews in flight or waiting for the reviewer's rate limit now. */
  get reviewsPending(): number {
    return this.pendingReviews;
  }

  async authenticate(req: IncomingMessage): Promise<UserInfo | AuthRefusal> {
    const sock = req.socket as TLSSocket;
    if (sock.authorized) {
      const cert = sock.getPeerCertificate();
      const cn = cert.subject?.CN;
      const o = cert.subject?.O;
      if (cn)
        return {
          username: Array.isArray(cn) ? cn[0]! : cn,
          groups: [...(Array.isArray(o) ? o : o ? [o] : []), 'system:authenticated'],
        };
    }
    const h = req.headers.authorization;
    if (h && /^bearer\s+/i.test(h)) {
      const token = h.replace(/^bearer\s+/i, '').trim();
      const key = createHash('sha256').update(token).digest('hex');
      let user = this.tokens.get(key);
      if (user === undefined) {
        if (this.pendingReviews >= (this.o.maxPendingReviews ?? 8)) return { status: 429, message: REVIEWS_BUSY_MESSAGE };
        this.pendingReviews++;
        try {
          const r = await this.o.reviewer.create<{
            status?: {
              authenticated?: boolean;
              user?: { username: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
            };
          }>('/apis/authentication.k8s.io/v1/tokenreviews', {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenReview',
            spec: { token },
          });
          user =
            r.status?.authenticated && r.status.user
              ? {
                  username: r.status.user.username,
                  uid: r.status.user.uid,
                  groups: r.status.user.groups ?? [],
                  extra: r.status.user.extra,
                }
              : null;
        } catch (e) {
          return {
            status: 500,
            message: 'Internal Server Error: the bearer token could not be reviewed; retry later',
            detail: `token review failed: ${(e as Error).message}`,
          };
        } finally {
          this.pendingReviews--;
        }
        this.tokens.set(key, user, user ? 120_000 : 10_000);
      }
      if (user) return user;
      return { status: 401, message: 'Unauthorized: the bearer token is not valid' };
    }
    if (this.o.anonymous) return { username: 'system:anonymous', groups: ['system:unauthenticated'] };
    return {
      status: 401,
      message: 'Unauthorized: a client certificate signed by the cluster client CA or a bearer token is required',
    };
  }

  async authorize(user: UserInfo, method: string, path: string, nodes = this.o.nodesFor(path)): Promise<boolean | AuthRefusal> {
    if (!nodes.length) return false;
    for (const node of nodes) {
      const r = await this.authorizeOnNode(user, method, path, node);
      if (r !== true) return r;
    }
    return true;
  }

  private async authorizeOnNode(user: UserInfo, method: string, path: string, node: string): Promise<boolean | AuthRefusal> {
    for (const sub of subresourcesFor(path)) {
      const r = await this.authorizeOne(user, verbFor(method), sub, node);
      if (r !== false) return r;
    }
    return false;
  }

  private async authorizeOne(user: UserInfo, verb: string, subresource: string, node: string): Promise<boolean | AuthRefusal> {
    const key = `${user.username}|${user.groups.join(',')}|${verb}|${subresource}|${node}`;
    const cached = this.decisions.get(key);
    if (cached !== undefined) return cached;
    try {
      const r = await this.o.reviewer.create<{ status?: { allowed?: boolean } }>(
        '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: user.username,
            uid: user.uid,
            groups: user.groups,
            extra: user.extra,
            resourceAttributes: { verb, resource: 'nodes', subresource, name: node, version: 'v1' },
          },
        },
      );
      const allowed = !!r.status?.allowed;
      this.decisions.set(key, allowed, allowed ? 300_000 : 30_000);
      return allowed;
    } catch (e) {
      return {
        status: 500,
        message: 'Internal Server Error: the request could not be authorized; retry later',
        detail: `subject access review failed: ${(e as Error).message}`,
      };
    }
  }

  /** Authenticates and authorizes one request. */
  async check(req: IncomingMessage): Promise<AuthResult> {
    const u = await this.authenticate(req);
    if ('status' in u) return { ok: false, ...u };
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const nodes = this.o.nodesFor(path);
    const a = await this.authorize(u, req.method ?? 'GET', path, nodes);
    if (typeof a === 'object') return { ok: false, ...a };
    if (!a)
      return {
        ok: false,
        status: 403,
        message: `Forbidden (user=${u.username}, verb=${verbFor(req.method ?? 'GET')}, resource=nodes, subresource=${subresourcesFor(path).join(' or ')}, name=${nodes.join(' and ')})`,
      };
    return { ok: true, user: u };
  }
}
