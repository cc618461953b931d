// Upper service-account tokens for lower pods. For each pod that mounts a token (upper identity, see
// service-account.ts) fedlet asks the UPPER API server for a token bound to the upper pod (TokenRequest)
// and keeps it in a lower Secret that the lower pod's projected volume reads; tokens are refreshed as
// the kubelet refreshes them, and the Secret goes when the upper pod goes.
//
// Level-triggered: every pod sync compares the Secret (metadata from a label-selected watch: the
// issuing spec hash and each token's times) with what the pod needs and issues only what is missing or
// due; a timer per pod asks for a sync at the next refresh time. Token values are never logged.
// fedlet may read lower Secrets only namespace by namespace (no cluster-wide right on Secrets), so the
// watch is one per namespace it may read in (readable namespaces, provider/namespaces/owned-namespaces.ts).
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { isAlreadyExists, isConflict, isNotFound, KubeApiError, type KubeClient } from '../../src/kube/client.js';
import { Informer } from '../../src/kube/informer.js';
import { NamespacedInformers } from '../../src/kube/namespaced-informers.js';
import type { ReadableNamespaces } from '../namespaces/owned-namespaces.js';
import { getAsNode, type UpperReader } from './node-reads.js';
import type { DataObject, KubeObject, Pod } from '../../src/kube/types.js';
import {
  ANNOTATION_SERVICE_ACCOUNT,
  ANNOTATION_TOKEN_SPEC,
  ANNOTATION_TOKEN_TIMES,
  LABEL_ORIGIN,
  LABEL_SERVICE_ACCOUNT_TOKEN,
  LABEL_UPPER_NAME,
  LABEL_UPPER_NAMESPACE,
  LABEL_UPPER_UID,
} from '../../src/labels.js';
import type { PodEvent } from '../../src/provider.js';
import {
  dueTokens,
  nextRefresh,
  ROOT_CA_CONFIGMAP,
  SECRET_KEY_CA,
  SECRET_KEY_NAMESPACE,
  serviceAccountMode,
  tokenRequests,
  tokenSecretName,
  type IssuedToken,
  type ServiceAccountOptions,
  type TokenRequestSpec,
} from './service-account.js';
import { apiPath } from '../../src/kube/api-path.js';
import { Deadlines } from '../../src/util/deadlines.js';

/** How long a token write waits for its namespace's Secrets to be listed before deciding without them. */
const TOKEN_CACHE_WAIT_MS = 10_000;

/**
 * A token (or the identity) the pod needs cannot be had; `podReason` is the upper pod's status reason.
 * The sync is retried with backoff: creating the account or the permission heals the pod.
 */
export class PodIdentityError extends Error {
  constructor(
    readonly podReason: string,
    message: string,
  ) {
    super(message);
    this.name = 'PodIdentityError';
  }
}

export interface TokenSecretsOptions {
  upper: KubeClient;
  lower: KubeClient;
  nodeName: string;
  clusterName: string;
  serviceAccounts: ServiceAccountOptions;
  /** The lower namespaces fedlet may read Secrets in (one watch each). */
  readable: ReadableNamespaces;
  /** Reads the namespace's root CA as the node the pod is bound to (default upper). */
  reader?: UpperReader;
  /** resourceVersion of an upper namespace's kube-root-ca.crt (from a watch), so a CA change re-issues. */
  caVersion: (upperNamespace: string) => string | undefined;
  /** Asks for a sync of an upper pod (a refresh is due, or its Secret vanished). */
  onDue: (upperKey: string) => void;
  onEvent: (e: PodEvent) => void;
  log: Logger;
  now?: () => number;
  /** Waits ms (tests: records the waits instead). */
  sleep?: (ms: number) => Promise<void>;
}

interface TokenRequestResponse {
  spec?: { expirationSeconds?: number };
  status?: { token?: string; expirationTimestamp?: string };
}

/**
 * The waits before each new attempt of a TokenRequest the Node authorizer (or NodeRestriction) refuses as
 * the node: it learns of the pod's binding from its own watch, which can trail fedlet's by a few
 * milliseconds. It catches up almost at once, so the first retry comes soon: a fixed first wait of
 * 500 ms would add half a second to a pod's start whenever the race is lost (the size of fedlet's
 * single-pod p99 outlier beside Liqo, issue 25). Doubling, about 3 s in all, as before, before the
 * refusal counts (a pod this node may really not have a token for).
 */
export const NODE_GRAPH_RETRY_MS: readonly number[] = [25, 50, 100, 200, 400, 800, 1600];

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

function slimSecret(o: KubeObject): KubeObject {
  const m = o.metadata ?? {};
  return {
    metadata: {
      name: m.name,
      namespace: m.namespace,
      resourceVersion: m.resourceVersion,
      labels: m.labels,
      annotations: m.annotations,
    },
  };
}

function parseTimes(o: KubeObject | undefined): Record<string, IssuedToken> {
  try {
    const v = JSON.parse(o?.metadata?.annotations?.[ANNOTATION_TOKEN_TIMES] ?? '{}') as Record<string, IssuedToken>;
    return v && typeof v === 'object' ? v : {};
  } catch {
    return {};
  }
}

export class TokenSecrets {
  /** fedlet's token Secrets in the lower cluster (metadata only: no token crosses this watch). */
  readonly secrets: NamespacedInformers<KubeObject>;
  /** lowerNs/name → metadata of our last write, until the watch shows it (avoids re-issuing on a stale cache). */
  private readonly written = new Map<string, KubeObject>();
  /** upper key → when its tokens are refreshed next (one timer for all pods) */
  private readonly refreshes: Deadlines;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** upper namespace → its CA at a kube-root-ca.crt resourceVersion (one read per namespace and CA). */
  private readonly cas = new Map<string, { rv: string; ca: string; at: number }>();
  /** Upper TokenRequests issued (metrics and tests). */
  issued = 0;

  constructor(private readonly o: TokenSecretsOptions) {
    this.now = o.now ?? Date.now;
    this.sleep = o.sleep ?? ((ms) => new Promise((done) => setTimeout(done, ms)));
    this.refreshes = new Deadlines((key) => this.o.onDue(key), this.now);
    this.secrets = new NamespacedInformers<KubeObject>(
      (ns) =>
        new Informer<KubeObject>({
          client: o.lower,
          path: `/api/v1/namespaces/${encodeURIComponent(ns)}/secrets`,
          labelSelector: `${LABEL_ORIGIN}=${o.nodeName},${LABEL_SERVICE_ACCOUNT_TOKEN}`,
          metadataOnly: true,
          transform: slimSecret,
          log: o.log,
        }),
    );
    for (const ns of o.readable.current()) this.secrets.add(ns);
    o.readable.onChange((ns, readable) => (readable ? this.secrets.add(ns) : void this.secrets.remove(ns)));
    const seen = (s: KubeObject) => {
      const k = `${s.metadata?.namespace}/${s.metadata?.name}`;
      if (this.written.get(k)?.metadata?.resourceVersion === s.metadata?.resourceVersion) this.written.delete(k);
    };
    this.secrets.addHandlers({
      onAdd: seen,
      onUpdate: seen,
      onDelete: (s) => {
        this.written.delete(`${s.metadata?.namespace}/${s.metadata?.name}`);
        const a = s.metadata?.annotations;
        // Deleted by someone else while its pod lives: the pod's next sync writes it again.
        if (a?.[LABEL_UPPER_NAMESPACE] && a[LABEL_UPPER_NAME]) o.onDue(`${a[LABEL_UPPER_NAMESPACE]}/${a[LABEL_UPPER_NAME]}`);
      },
    });
  }

  start(): void {
    this.secrets.start();
  }
  async waitForSync(signal: AbortSignal): Promise<void> {
    await this.o.readable.ready(signal);
    await this.secrets.waitForSync(signal);
  }
  async stop(): Promise<void> {
    this.refreshes.clear();
    await this.secrets.stop();
  }

  /**
   * Makes the pod's identity ready in the lower cluster before (and while) its lower pod exists.
   * `creating`: no lower pod exists yet (checks that only matter then run only then).
   */
  async ensure(pod: Pod, lowerNs: string, creating: boolean): Promise<void> {
    try {
      await this.ensureIdentity(pod, lowerNs, creating);
    } catch (e) {
      if (creating || !(e instanceof PodIdentityError)) throw e;
      // The pod runs already (with its current tokens): warn on it and retry, but do not mark it Pending.
      this.o.onEvent({
        upperKey: `${pod.metadata.namespace}/${pod.metadata.name}`,
        type: 'Warning',
        reason: e.podReason,
        message: e.message,
      });
      throw new Error(e.message);
    }
  }

  private async ensureIdentity(pod: Pod, lowerNs: string, creating: boolean): Promise<void> {
    if (serviceAccountMode(pod, this.o.serviceAccounts) === 'lower') {
      if (creating) await this.checkLowerAccount(pod, lowerNs);
      return;
    }
    const reqs = tokenRequests(pod);
    if (!reqs.length) return;
    const upperKey = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const name = tokenSecretName(pod);
    const key = `${lowerNs}/${name}`;
    const spec = this.specHash(pod, reqs);
    // A namespace that just became readable (granted, or bound by this very write) may not have listed
    // its Secrets yet: a miss then would issue tokens again for a Secret that exists. Waits a bounded
    // time; past it, tokens are issued as for a new pod and the existing Secret is replaced.
    if (!this.written.has(key))
      await this.secrets.waitForNamespace(lowerNs, AbortSignal.timeout(TOKEN_CACHE_WAIT_MS)).catch(() => undefined);
    const current = this.written.get(key) ?? this.secrets.get(key);
    if (current && current.metadata?.annotations?.[ANNOTATION_TOKEN_SPEC] === spec) {
      const issued = parseTimes(current);
      const due = dueTokens(reqs, issued, this.now());
      if (due.length) {
        const fresh = await this.issue(
          pod,
          reqs.filter((r) => due.includes(r.key)),
        );
        Object.assign(issued, fresh.times);
        // A merge patch of just the due keys; the resourceVersion makes it fail on a stale view.
        await this.write(key, () =>
          this.o.lower.patch<KubeObject>(
            apiPath`/api/v1/namespaces/${lowerNs}/secrets/${name}`,
            {
              metadata: {
                resourceVersion: current.metadata?.resourceVersion,
                annotations: { [ANNOTATION_TOKEN_TIMES]: JSON.stringify(issued) },
              },
              data: fresh.data,
            },
            'merge',
          ),
        );
        this.o.log.debug({ pod: upperKey, secret: key, tokens: due.length }, 'refreshed service-account tokens');
      }
      this.schedule(upperKey, nextRefresh(reqs, issued));
      return;
    }
    // First issue, or what the tokens were issued for changed: issue all, write the whole Secret.
    const ca = await this.upperCA(pod.metadata.namespace!, pod.spec?.nodeName);
    const fresh = await this.issue(pod, reqs);
    const body: DataObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name,
        namespace: lowerNs,
        labels: {
          [LABEL_ORIGIN]: this.o.nodeName,
          [LABEL_SERVICE_ACCOUNT_TOKEN]: 'true',
          ...(pod.metadata.uid ? { [LABEL_UPPER_UID]: pod.metadata.uid } : {}),
        },
        annotations: {
          [LABEL_UPPER_NAMESPACE]: pod.metadata.namespace ?? '',
          [LABEL_UPPER_NAME]: pod.metadata.name ?? '',
          [ANNOTATION_TOKEN_SPEC]: spec,
          [ANNOTATION_TOKEN_TIMES]: JSON.stringify(fresh.times),
        },
      },
      data: { ...fresh.data, [SECRET_KEY_CA]: b64(ca), [SECRET_KEY_NAMESPACE]: b64(pod.metadata.namespace ?? '') },
    };
    const path = apiPath`/api/v1/namespaces/${lowerNs}/secrets/${name}`;
    await this.write(key, async () => {
      if (!current) {
        try {
          return await this.o.lower.create<KubeObject>(apiPath`/api/v1/namespaces/${lowerNs}/secrets`, body);
        } catch (e) {
          if (!isAlreadyExists(e)) throw e;
        }
      }
      // Ours but not (yet) in the cache, or issued for something else: replace it whole.
      const existing = await this.o.lower.get<KubeObject>(path);
      if (existing.metadata?.labels?.[LABEL_ORIGIN] !== this.o.nodeName)
        throw new PodIdentityError(
          'TokenSecretConflict',
          `lower Secret ${key} in cluster ${this.o.clusterName} exists and is not fedlet's; it is in the way of the pod's service-account token`,
        );
      body.metadata.resourceVersion = existing.metadata?.resourceVersion;
      return this.o.lower.replace<KubeObject>(path, body);
    });
    this.o.log.debug({ pod: upperKey, secret: key, tokens: reqs.length }, 'issued service-account tokens');
    if (!this.o.serviceAccounts.upperAPIServer)
      this.o.onEvent({
        upperKey,
        type: 'Warning',
        reason: 'UpperAPIServerAddressUnset',
        message: `virtual node ${this.o.nodeName} has no upperAPIServerAddress: the pod's token files are valid upper tokens, but KUBERNETES_SERVICE_HOST/PORT are empty, so in-cluster API clients cannot reach the upper API server`,
      });
    this.schedule(upperKey, nextRefresh(reqs, fresh.times));
  }

  /** Removes token Secrets of pods that are gone; `livePods` = every upper pod bound to this node. */
  async collectGarbage(livePods: Pod[]): Promise<number> {
    const uids = new Set(livePods.map((p) => p.metadata.uid));
    const keys = new Set(livePods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`));
    for (const k of [...this.refreshes.keys()]) if (!keys.has(k)) this.refreshes.delete(k);
    let deleted = 0;
    for (const s of this.secrets.list()) {
      if (uids.has(s.metadata?.labels?.[LABEL_UPPER_UID])) continue;
      try {
        await this.o.lower.delete(apiPath`/api/v1/namespaces/${s.metadata?.namespace ?? ''}/secrets/${s.metadata?.name ?? ''}`);
        deleted++;
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    return deleted;
  }

  /** What the Secret's tokens were issued for; a change (new pod, other account, CA) means issue anew. */
  private specHash(pod: Pod, reqs: TokenRequestSpec[]): string {
    return createHash('sha256')
      .update(
        JSON.stringify([
          pod.metadata.uid,
          pod.metadata.namespace,
          pod.spec.serviceAccountName ?? 'default',
          reqs,
          this.o.caVersion(pod.metadata.namespace!) ?? '',
        ]),
      )
      .digest('hex')
      .slice(0, 16);
  }

  private async write(key: string, op: () => Promise<KubeObject>): Promise<void> {
    try {
      const out = await op();
      // The watch often shows the write before its response arrives: then the cache has it already, and
      // an entry here would never be cleared (it stayed for about half of all pods).
      if (this.secrets.get(key)?.metadata?.resourceVersion === out.metadata?.resourceVersion) this.written.delete(key);
      else this.written.set(key, slimSecret(out));
    } catch (e) {
      // Our view was stale (someone else wrote it): forget it, the retry reads the watch cache.
      if (isConflict(e)) this.written.delete(key);
      throw e;
    }
  }

  private schedule(upperKey: string, at: number | undefined): void {
    this.refreshes.set(upperKey, at);
  }

  private async upperCA(ns: string, node: string | undefined): Promise<string> {
    const known = this.cas.get(ns);
    const rv = this.o.caVersion(ns);
    if (known && rv !== undefined && known.rv === rv) return known.ca;
    // Not watched (no pod names the ConfigMap itself): a read within the last minute is recent enough.
    if (known && rv === undefined && this.now() - known.at < 60_000) return known.ca;
    try {
      const reader = node && this.o.reader ? this.o.reader(node) : this.o.upper;
      const cm = await getAsNode<DataObject>(reader, apiPath`/api/v1/namespaces/${ns}/configmaps/${ROOT_CA_CONFIGMAP}`);
      const ca = cm.data?.[SECRET_KEY_CA];
      if (ca) {
        if (cm.metadata.resourceVersion) this.cas.set(ns, { rv: cm.metadata.resourceVersion, ca, at: this.now() });
        if (this.cas.size > 10_000) this.cas.delete(this.cas.keys().next().value!);
        return ca;
      }
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    throw new PodIdentityError(
      'UpperCANotFound',
      `ConfigMap ${ns}/${ROOT_CA_CONFIGMAP} (the upper cluster's CA for the pod's ca.crt) has no ${SECRET_KEY_CA} yet; kube-controller-manager's root-ca publisher writes it`,
    );
  }

  /** One TokenRequest per token, bound to the upper pod. */
  private async issue(
    pod: Pod,
    reqs: TokenRequestSpec[],
  ): Promise<{ data: Record<string, string>; times: Record<string, IssuedToken> }> {
    const ns = pod.metadata.namespace!;
    const sa = pod.spec.serviceAccountName ?? 'default';
    const data: Record<string, string> = {};
    const times: Record<string, IssuedToken> = {};
    // As the node the pod is bound to (a pool node when pools are on), which the Node authorizer checks.
    const node = pod.spec.nodeName ?? this.o.nodeName;
    const issuer = this.tokenClient(node);
    for (const r of reqs) {
      let res: TokenRequestResponse | undefined;
      // The Node authorizer learns that a pod is bound to this node from its own watch: a request right
      // after binding can be refused before it knows. A few short retries before the refusal counts.
      for (let attempt = 1; !res; attempt++) {
        try {
          this.issued++;
          res = await issuer.client.create<TokenRequestResponse>(apiPath`/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`, {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenRequest',
            spec: {
              ...(r.audience ? { audiences: [r.audience] } : {}),
              expirationSeconds: r.expirationSeconds,
              boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid },
            },
          });
        } catch (e) {
          const wait = NODE_GRAPH_RETRY_MS[attempt - 1];
          if (issuer.asNode && wait !== undefined && e instanceof KubeApiError && e.code === 403) {
            // Without the refusal's text: this one is expected and passes in milliseconds, and its wording
            // ("forbidden") would send an operator looking for a missing RBAC right. A refusal that lasts
            // carries the full text in the error thrown below.
            this.o.log.debug(
              { pod: `${ns}/${pod.metadata.name}`, attempt, retryInMs: wait },
              'TokenRequest as the node refused (403); retrying',
            );
            await this.sleep(wait);
            continue;
          }
          throw tokenError(e, ns, sa, r, issuer.asNode ? node : undefined);
        }
      }
      const token = res.status?.token;
      const expiresAt = Date.parse(res.status?.expirationTimestamp ?? '');
      if (!token || !Number.isFinite(expiresAt))
        throw new Error(`TokenRequest for service account ${ns}/${sa} returned no token or expiration`);
      const life = (res.spec?.expirationSeconds ?? r.expirationSeconds) * 1000;
      data[r.key] = b64(token);
      times[r.key] = { issuedAt: expiresAt - life, expiresAt };
    }
    return { data, times };
  }

  /** Who requests tokens: the virtual node's identity when configured (and issued), else fedlet's client. */
  private tokenClient(nodeName: string): { client: KubeClient; asNode: boolean } {
    const by = this.o.serviceAccounts.tokenClient?.(nodeName);
    if (!by) return { client: this.o.upper, asNode: false };
    if ('pending' in by)
      throw new PodIdentityError(
        'NodeCredentialsPending',
        `service-account tokens are requested as the virtual node (tokenCredentials: node), whose client certificate is not there: ${by.pending}`,
      );
    return { client: by.client, asNode: true };
  }

  /** Lower identity: the same-named account must exist in the lower namespace (else admission refuses the pod). */
  private async checkLowerAccount(pod: Pod, lowerNs: string): Promise<void> {
    const sa = pod.spec.serviceAccountName ?? 'default';
    try {
      await this.o.lower.get(apiPath`/api/v1/namespaces/${lowerNs}/serviceaccounts/${sa}`);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      throw new PodIdentityError(
        'LowerServiceAccountNotFound',
        `the pod runs as a lower service account (${ANNOTATION_SERVICE_ACCOUNT}: lower), but namespace ${lowerNs} of cluster ${this.o.clusterName} has no service account "${sa}"; create it there`,
      );
    }
  }
}

function tokenError(e: unknown, ns: string, sa: string, r: TokenRequestSpec, node: string | undefined): unknown {
  if (!(e instanceof KubeApiError)) return e;
  const what = `a token for upper service account ${ns}/${sa}${r.audience ? ` (audience ${r.audience})` : ''}`;
  if (e.code === 404 && /serviceaccount/i.test(e.message))
    return new PodIdentityError(
      'ServiceAccountNotFound',
      `cannot issue ${what}: the service account does not exist in the upper cluster; create it (the pod mounts its token)`,
    );
  if (e.code === 403)
    return new PodIdentityError(
      'ServiceAccountTokenForbidden',
      node
        ? `cannot issue ${what}: the upper API server refused it to system:node:${node} (the Node authorizer and NodeRestriction allow tokens only for service accounts of pods bound to the node, and need --authorization-mode with Node) (${e.message})`
        : `cannot issue ${what}: fedlet lacks create on serviceaccounts/token in the upper cluster (${e.message})`,
    );
  if (e.code === 400 || e.code === 422)
    return new PodIdentityError('ServiceAccountTokenInvalid', `cannot issue ${what}: ${e.message}`);
  return e;
}
