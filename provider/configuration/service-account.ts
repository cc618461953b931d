// Which identity a lower pod runs with, and how its service-account token volumes look in the lower
// cluster. Pure: no I/O, no clock (the refresh schedule takes `now` as an argument).
//
// Upper identity (default): every serviceAccountToken source of a projected volume becomes an item of a
// fedlet-owned lower Secret that holds a token for the pod's UPPER service account, bound to the upper
// pod; the `kube-root-ca.crt` ConfigMap source becomes the upper cluster's CA and the downward-API
// `metadata.namespace` item the upper namespace, from the same Secret. Paths, file names and the
// volume's defaultMode stay as they were, so in-cluster clients find what they expect.
// Lower identity (opt-in): the pod keeps its projected volumes untouched and runs as the same-named
// service account of the lower namespace; the lower kubelet fills them in. Only where allowed: the lower
// namespace says so (label fedlet.io/lower-identity, a lower admin's) or the operator listed the upper
// namespace (lowerIdentityNamespaces) — never by the pod's annotation alone.
import { createHash } from 'node:crypto';
import type { KubeClient } from '../../src/kube/client.js';
import type { Container, EnvVar, Pod, PodSpec, Volume } from '../../src/kube/types.js';
import { ANNOTATION_SERVICE_ACCOUNT, LABEL_LOWER_IDENTITY } from '../../src/labels.js';

export type ServiceAccountMode = 'upper' | 'lower';

export interface ServiceAccountOptions {
  /** host:port of the upper API server as lower pods reach it; undefined: not configured. */
  upperAPIServer?: { host: string; port: number };
  /**
   * Upper namespaces whose pods run as lower service accounts unless the pod says otherwise; also where
   * the annotation is honoured without a lower admin's label on the lower namespace.
   */
  lowerIdentityNamespaces: ReadonlySet<string>;
  /**
   * Who requests upper tokens: the virtual node's own client (least privilege), or why it cannot yet.
   * Undefined: fedlet's upper client.
   */
  tokenClient?: (nodeName: string) => { client: KubeClient } | { pending: string };
}

/** The CA ConfigMap every namespace gets (root-ca publisher); in a lower namespace it holds the lower CA. */
export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';
export const SECRET_KEY_CA = 'ca.crt';
export const SECRET_KEY_NAMESPACE = 'namespace';
/** The API server's default for a projection without expirationSeconds. */
const DEFAULT_EXPIRATION_SECONDS = 3600;
/** The kubelet refreshes a token at 80% of its lifetime, and at the latest after 24 hours. */
const REFRESH_FRACTION = 0.8;
const MAX_TOKEN_AGE_MS = 24 * 3600 * 1000;

interface TokenProjection {
  audience?: string;
  expirationSeconds?: number;
  path: string;
}
interface KeyPath {
  key: string;
  path: string;
  mode?: number;
}
interface DownwardItem {
  path: string;
  fieldRef?: { fieldPath: string; apiVersion?: string };
  resourceFieldRef?: unknown;
  mode?: number;
}
interface ProjectionSource {
  configMap?: { name?: string; optional?: boolean; items?: KeyPath[] };
  secret?: { name?: string; optional?: boolean; items?: KeyPath[] };
  serviceAccountToken?: TokenProjection;
  downwardAPI?: { items?: DownwardItem[] };
  [other: string]: unknown;
}

/** A projected volume with at least one serviceAccountToken source (kube-api-access-* or explicit). */
export function isTokenVolume(v: Volume): boolean {
  return !!v.projected?.sources?.some((s) => s.serviceAccountToken !== undefined);
}

/** A bad value of the fedlet.io/service-account annotation (the pod cannot run as asked), or undefined. */
export function modeAnnotationProblem(pod: Pod): { field: string; message: string } | undefined {
  const a = pod.metadata.annotations?.[ANNOTATION_SERVICE_ACCOUNT];
  if (a === undefined || a === 'lower' || a === 'upper') return undefined;
  return {
    field: `metadata.annotations[${ANNOTATION_SERVICE_ACCOUNT}]`,
    message: `pod ${pod.metadata.namespace}/${pod.metadata.name}: annotation ${ANNOTATION_SERVICE_ACCOUNT}="${a}" must be "upper" or "lower"`,
  };
}

/** Which identity the pod's lower copy runs as: the pod annotation wins, then the namespace list. */
export function serviceAccountMode(pod: Pod, opts: Pick<ServiceAccountOptions, 'lowerIdentityNamespaces'>): ServiceAccountMode {
  const a = pod.metadata.annotations?.[ANNOTATION_SERVICE_ACCOUNT];
  if (a === 'lower' || a === 'upper') return a;
  // (A bad value is refused before translation: modeAnnotationProblem.)
  return opts.lowerIdentityNamespaces.has(pod.metadata.namespace ?? '') ? 'lower' : 'upper';
}

/** Status/event reason of a pod asking for a lower identity where no lower admin allows it. */
export const REASON_LOWER_IDENTITY_NOT_ALLOWED = 'LowerIdentityNotAllowed';

/**
 * Why the pod may not run as a lower service account, or undefined. A pod annotation alone never
 * suffices: the lower namespace must allow it (label fedlet.io/lower-identity, set by a lower admin)
 * or the operator must have listed the upper namespace in lowerIdentityNamespaces.
 */
export function lowerIdentityRefusal(
  pod: Pod,
  opts: Pick<ServiceAccountOptions, 'lowerIdentityNamespaces'>,
  lower: { namespace: string; allows: boolean; clusterName: string; nodeName: string },
): string | undefined {
  if (serviceAccountMode(pod, opts) !== 'lower') return undefined;
  if (lower.allows || opts.lowerIdentityNamespaces.has(pod.metadata.namespace ?? '')) return undefined;
  const sa = pod.spec.serviceAccountName ?? 'default';
  return `pod ${pod.metadata.namespace}/${pod.metadata.name} asks to run as lower service account ${lower.namespace}/${sa} (${ANNOTATION_SERVICE_ACCOUNT}: lower), which lower namespace ${lower.namespace} of cluster ${lower.clusterName} does not allow: a lower admin allows it with \`kubectl label namespace ${lower.namespace} ${LABEL_LOWER_IDENTITY}=${lower.nodeName}\` (or the fedlet operator lists upper namespace ${pod.metadata.namespace} in lowerIdentityNamespaces); without the annotation the pod runs with its upper identity`;
}

export interface TokenRequestSpec {
  /** Key in the lower Secret. */
  key: string;
  audience?: string;
  expirationSeconds: number;
}

/** The distinct (audience, lifetime) tokens the pod mounts, in pod order; each becomes one Secret key. */
export function tokenRequests(pod: Pod): TokenRequestSpec[] {
  const out: TokenRequestSpec[] = [];
  for (const v of pod.spec.volumes ?? [])
    for (const s of (v.projected?.sources ?? []) as ProjectionSource[]) {
      const t = s.serviceAccountToken;
      if (!t) continue;
      const audience = t.audience || undefined;
      const expirationSeconds = t.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS;
      if (!out.some((r) => r.audience === audience && r.expirationSeconds === expirationSeconds))
        out.push({ key: `token-${out.length}`, ...(audience ? { audience } : {}), expirationSeconds });
    }
  return out;
}

function keyOf(reqs: TokenRequestSpec[], t: TokenProjection): string {
  const audience = t.audience || undefined;
  const exp = t.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS;
  return reqs.find((r) => r.audience === audience && r.expirationSeconds === exp)!.key;
}

/**
 * Name of the lower Secret holding the pod's tokens. Bound to the upper pod's uid: a replacement pod
 * of the same name gets its own Secret (its tokens are bound to a different pod).
 */
export function tokenSecretName(pod: Pod): string {
  const uidHash = createHash('sha256')
    .update(pod.metadata.uid ?? '')
    .digest('hex')
    .slice(0, 8);
  const base = (pod.metadata.name ?? '').slice(0, 200).replace(/\.+$/, '');
  return `${base}-fedlet-token-${uidHash}`;
}

/** Upper-identity projected volume: token, CA and namespace come from the pod's token Secret. */
function rewriteTokenVolume(v: Volume, secretName: string, reqs: TokenRequestSpec[]): Volume {
  const sources: ProjectionSource[] = [];
  for (const s of (v.projected?.sources ?? []) as ProjectionSource[]) {
    if (s.serviceAccountToken) {
      sources.push({
        secret: { name: secretName, items: [{ key: keyOf(reqs, s.serviceAccountToken), path: s.serviceAccountToken.path }] },
      });
    } else if (s.configMap?.name === ROOT_CA_CONFIGMAP) {
      // The lower namespace has a kube-root-ca.crt of its own (the lower CA): use the upper one instead.
      const items = s.configMap.items ?? [{ key: SECRET_KEY_CA, path: SECRET_KEY_CA }];
      sources.push({ secret: { name: secretName, items, ...(s.configMap.optional ? { optional: true } : {}) } });
    } else if (s.downwardAPI?.items?.some((i) => i.fieldRef?.fieldPath === 'metadata.namespace')) {
      const items = s.downwardAPI.items;
      const ns = items.filter((i) => i.fieldRef?.fieldPath === 'metadata.namespace');
      const rest = items.filter((i) => i.fieldRef?.fieldPath !== 'metadata.namespace');
      sources.push({
        secret: {
          name: secretName,
          items: ns.map((i) => ({ key: SECRET_KEY_NAMESPACE, path: i.path, ...(i.mode !== undefined ? { mode: i.mode } : {}) })),
        },
      });
      if (rest.length) sources.push({ ...s, downwardAPI: { ...s.downwardAPI, items: rest } });
    } else sources.push(s);
  }
  return { ...v, projected: { ...v.projected, sources: sources as NonNullable<Volume['projected']>['sources'] } };
}

/** What in-cluster clients read to find the API server (client-go: the first two). */
export function apiServerEnv(server: { host: string; port: number } | undefined): EnvVar[] {
  // Unset upper address: empty values make in-cluster clients fail at once ("not in cluster") instead
  // of presenting the upper token to the lower API server.
  const host = server?.host ?? '';
  const port = server ? String(server.port) : '';
  const url = server ? `tcp://${host.includes(':') ? `[${host}]` : host}:${port}` : '';
  return [
    { name: 'KUBERNETES_SERVICE_HOST', value: host },
    { name: 'KUBERNETES_SERVICE_PORT', value: port },
    { name: 'KUBERNETES_SERVICE_PORT_HTTPS', value: port },
    { name: 'KUBERNETES_PORT', value: url },
    { name: 'KUBERNETES_PORT_443_TCP', value: url },
    { name: 'KUBERNETES_PORT_443_TCP_PROTO', value: server ? 'tcp' : '' },
    { name: 'KUBERNETES_PORT_443_TCP_PORT', value: port },
    { name: 'KUBERNETES_PORT_443_TCP_ADDR', value: host },
  ];
}

/** Our variables first (the container's own values of the same names win, and may refer to ours). */
function withEnv(c: Container, extra: EnvVar[]): Container {
  const own = new Set((c.env ?? []).map((e) => e.name));
  return { ...c, env: [...extra.filter((e) => !own.has(e.name)), ...(c.env ?? [])] };
}

/**
 * Sets the lower pod's identity on a translated spec (volumes, mounts and env already translated).
 * Mutates `spec`, which must be the caller's own copy.
 */
export function applyServiceAccount(pod: Pod, spec: PodSpec, opts: ServiceAccountOptions): void {
  if (serviceAccountMode(pod, opts) === 'lower') {
    // The lower ServiceAccount admission and kubelet treat the pod as any other: same-named account,
    // token volumes as the upper admission wrote them (kube-root-ca.crt and the namespace are lower's).
    spec.serviceAccountName = pod.spec.serviceAccountName ?? 'default';
    return;
  }
  // The upper service account need not exist below: run as the lower default account, with no lower
  // token; the upper token arrives through the Secret instead.
  spec.serviceAccountName = 'default';
  spec.automountServiceAccountToken = false;
  const reqs = tokenRequests(pod);
  if (reqs.length && spec.volumes) {
    const secretName = tokenSecretName(pod);
    spec.volumes = spec.volumes.map((v) => (isTokenVolume(v) ? rewriteTokenVolume(v, secretName, reqs) : v));
  }
  if (!reqs.length && !opts.upperAPIServer) return;
  const env = apiServerEnv(opts.upperAPIServer);
  spec.containers = spec.containers.map((c) => withEnv(c, env));
  if (spec.initContainers) spec.initContainers = spec.initContainers.map((c) => withEnv(c, env));
  if (spec.ephemeralContainers) spec.ephemeralContainers = spec.ephemeralContainers.map((c) => withEnv(c, env));
}

export interface IssuedToken {
  /** ms since the epoch */
  issuedAt: number;
  expiresAt: number;
}

/** When the kubelet would ask for a new token: at 80% of its lifetime, or after 24 hours if earlier. */
export function refreshAt(t: IssuedToken): number {
  const life = Math.max(0, t.expiresAt - t.issuedAt);
  return t.issuedAt + Math.min(life * REFRESH_FRACTION, MAX_TOKEN_AGE_MS);
}

/** Keys whose token must be (re)issued now: never issued, or at/after their refresh time. */
export function dueTokens(reqs: TokenRequestSpec[], issued: Record<string, IssuedToken | undefined>, now: number): string[] {
  return reqs
    .filter((r) => {
      const t = issued[r.key];
      return !t || now >= refreshAt(t);
    })
    .map((r) => r.key);
}

/** The earliest refresh time over the tokens (undefined: none issued). */
export function nextRefresh(reqs: TokenRequestSpec[], issued: Record<string, IssuedToken | undefined>): number | undefined {
  const times = reqs
    .map((r) => issued[r.key])
    .filter((t): t is IssuedToken => !!t)
    .map(refreshAt);
  return times.length ? Math.min(...times) : undefined;
}
