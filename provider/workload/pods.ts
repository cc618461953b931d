// The pod half of the lower provider: creates, updates and deletes lower pods for upper pods, and
// derives their upper status. Lower pods are found through the fedlet.io/origin label, so everything
// here can be rebuilt from the clusters after a restart.
import type { Logger } from 'pino';
import { isAlreadyExists, isNotFound, type KubeClient } from '../../src/kube/client.js';
import { Informer, retainCount } from '../../src/kube/informer.js';
import type { Container, KubeObject, Pod, PodStatus } from '../../src/kube/types.js';
import { LABEL_ORIGIN, LABEL_POOL, LABEL_UPPER_NAME, LABEL_UPPER_NAMESPACE, LABEL_UPPER_UID } from '../../src/labels.js';
import type { PodEnsureResult, PodEvent } from '../../src/provider.js';
import {
  absentReferences,
  DependencySync,
  REASON_DEPENDENCY_CONFLICT,
  type DependencyConflict,
  type DependencyResult,
  type MissingDependency,
} from '../configuration/dependencies.js';
import { lowerNamespace } from '../namespaces/namespace-map.js';
import type { IpRemapper } from './remap.js';
import type { BounceBack } from './bounce-back.js';
import { upperStatusFromLower } from './pod-status.js';
import { worthMirroring } from './lower-events.js';
import { nodeAffinityRefusal, REASON_NODE_AFFINITY } from './node-admission.js';
import { decideTolerations, deniedMessage, REASON_TOLERATION_DROPPED, REASON_TOLERATION_NOT_ALLOWED } from './tolerations.js';
import {
  lowerEphemeralContainers,
  referenceProblem,
  translatePod,
  unsupportedField,
  type TranslateContext,
} from './translate.js';
import { ephemeralContainersPatch, resizePatch } from './lower-subresources.js';
import type { Requirement } from '../../src/scheduling/lower-affinity.js';
import {
  lowerIdentityRefusal,
  REASON_LOWER_IDENTITY_NOT_ALLOWED,
  ROOT_CA_CONFIGMAP,
  type ServiceAccountOptions,
} from '../configuration/service-account.js';
import { PodIdentityError, TokenSecrets } from '../configuration/token-secrets.js';
import type { PodClaimsResult } from '../storage/claims.js';
import { podClaims } from '../storage/claim-objects.js';
import { LowerNamespaceRefusedError, type LowerNamespaces } from '../namespaces/lower-namespaces.js';
import { DEFAULT_TENANCY, type TenancyPolicy } from '../tenancy.js';
import type { ReadableNamespaces } from '../namespaces/owned-namespaces.js';
import type { UpperReader } from '../configuration/node-reads.js';
import { lowerPodPatch, withManagedRecord } from './managed-metadata.js';
import type { LowerClasses, PodClasses } from './lower-classes.js';
import {
  CONDITION_LOWER_ACCEPTED,
  classifyRejection,
  REASON_LOWER_REJECTED,
  RejectionTracker,
  type LowerRejection,
} from './lower-rejection.js';
import { apiPath } from '../../src/kube/api-path.js';
import { shareRepeats } from '../../src/util/intern.js';

/** How soon a pod waiting for its controller's avoid record to be published is looked at again. */
const AVOID_PUBLISH_RECHECK_MS = 500;

/** A node pool a pod is placed through (provider/pools/pools.ts): the pool node's labels, requirements and bounce record. */
export interface PoolPlacement {
  name: string;
  requirements: Requirement[];
  virtualNodeLabels: Record<string, string>;
  bounce: BounceBack;
}

export interface LowerPodsOptions {
  upper: KubeClient;
  lower: KubeClient;
  clusterName: string;
  nodeName: string;
  nodeIP: string;
  namespaceTemplate: string;
  remapper: IpRemapper;
  allowDaemonSetPods: boolean;
  bounce: BounceBack;
  /** How long a pod the lower cluster keeps refusing waits before it is failed (bounceAfterSeconds). */
  failRefusedAfterSeconds: number;
  serviceAccounts: ServiceAccountOptions;
  /** The lower namespaces pods go into (shared with the claims). */
  namespaces: LowerNamespaces;
  /** The lower namespaces fedlet may read in (its rights are per namespace). */
  readable: ReadableNamespaces;
  /** Reads what pods name (ConfigMaps, Secrets, the root CA) as the node they are bound to. */
  upperReader?: UpperReader;
  /** Lower claims for the pod's claims of fedlet storage classes. */
  claims?: { forPod(pod: Pod): PodClaimsResult };
  /** The virtual node's labels (to tell lower-node constraints from virtual-node ones). */
  virtualNodeLabels?: () => Record<string, string>;
  /** The lower cluster's RuntimeClasses/PriorityClasses: which class names a new lower pod keeps. */
  classes?: Pick<LowerClasses, 'forPod'>;
  /** How far a tenant's pod may reach below (docs/security.md); default: the option table's defaults. */
  tenancy?: TenancyPolicy;
  /**
   * Labels of the lower nodes the virtual node (or the pool) offers: where a hand-bound pod's lower-key
   * constraints must fit (node-admission.ts). Undefined: not checked.
   */
  offeredLowerNodes?: (pool?: PoolPlacement) => Array<Record<string, string>>;
  log: Logger;
}

/** Upper key (namespace/name) that a lower pod stands for. */
export function upperKeyOf(lower: KubeObject): string | undefined {
  const a = lower.metadata?.annotations;
  const ns = a?.[LABEL_UPPER_NAMESPACE];
  const name = a?.[LABEL_UPPER_NAME];
  return ns && name ? `${ns}/${name}` : undefined;
}

/** Image updates and in-place resize compare these. */
function slimContainer(c: Container): Container {
  return { name: c.name, image: c.image, ...(c.resources ? { resources: c.resources } : {}) };
}

/** Keep what status reflection and updates need; drop the rest (memory at 10k pods); share repeated strings. */
function slimLowerPod(p: Pod): Pod {
  return shareRepeats({
    metadata: {
      name: p.metadata.name,
      namespace: p.metadata.namespace,
      uid: p.metadata.uid,
      resourceVersion: p.metadata.resourceVersion,
      // Status reflection maps the kubelet's observedGeneration through it.
      generation: p.metadata.generation,
      labels: p.metadata.labels,
      annotations: p.metadata.annotations,
      deletionTimestamp: p.metadata.deletionTimestamp,
    },
    spec: {
      containers: p.spec.containers.map(slimContainer),
      ...(p.spec.initContainers ? { initContainers: p.spec.initContainers.map(slimContainer) } : {}),
      // Names only: ephemeral containers are added by name and never change.
      ...(p.spec.ephemeralContainers ? { ephemeralContainers: p.spec.ephemeralContainers.map((c) => ({ name: c.name })) } : {}),
      activeDeadlineSeconds: p.spec.activeDeadlineSeconds,
      tolerations: p.spec.tolerations,
      nodeName: p.spec.nodeName,
    },
    status: p.status,
  });
}

/** A ConfigMap/Secret name is taken below by an object fedlet did not copy: Pending, retried. */
function conflictResult(c: DependencyConflict): PodEnsureResult {
  return { kind: 'rejected', reason: REASON_DEPENDENCY_CONFLICT, message: c.message, retry: true };
}

/** A required ConfigMap/Secret is missing: Pending, retried; the event uses virtual-kubelet's reason. */
function missingResult(m: MissingDependency): PodEnsureResult {
  return { kind: 'rejected', reason: 'MissingDependency', eventReason: m.eventReason, message: m.message, retry: true };
}

/** What ensure() decided for a pod, handed to its create or update path. */
interface EnsureContext {
  ctx: TranslateContext;
  lowerNs: string;
  upperKey: string;
  bounceRecord: BounceBack;
  /** The lower pod as translated once the dependencies are known. */
  desiredWith: (deps: DependencyResult) => Pod;
}
interface CreateContext extends EnsureContext {
  pool?: PoolPlacement;
  classes?: PodClasses;
}
interface UpdateContext extends EnsureContext {
  /** Upper claim name → lower claim name, for the pod's claims of fedlet classes. */
  claims: Map<string, string>;
}

export class LowerPods {
  readonly lowerPods: Informer<Pod>;
  readonly deps: DependencySync;
  readonly tokens: TokenSecrets;
  readonly lowerEvents: Informer<LowerEvent>;
  /** lower pod key (lowerNs/name) → upper key */
  private readonly byLowerKey = new Map<string, string>();
  /** upper key → lower pod */
  private readonly byUpperKey = new Map<string, Pod>();
  private readonly listeners: Array<(key: string) => void> = [];
  private readonly eventListeners: Array<(e: PodEvent) => void> = [];
  /**
   * upper key → ephemeral containers the lower API server refused, with its reason: shown as their
   * waiting state upstairs (a debug session waiting for one sees why). Re-derived by the next sync.
   */
  private readonly refusedEphemeral = new Map<string, { names: string[]; message: string }>();
  /**
   * upper key → why the lower API server refused the pod's resize (e.g. beyond its lower node, while
   * within the virtual node): shown as PodResizePending/Infeasible, as a kubelet shows a resize it
   * cannot do. Re-derived by the next sync.
   */
  private readonly refusedResize = new Map<string, string>();
  /** Pods the lower API server refuses to create: backoff and the deadline to fail them. */
  readonly rejections: RejectionTracker;
  private readonly tenancy: TenancyPolicy;

  constructor(private readonly o: LowerPodsOptions) {
    this.rejections = new RejectionTracker({ failAfterSeconds: o.failRefusedAfterSeconds });
    this.tenancy = o.tenancy ?? DEFAULT_TENANCY;
    const log = o.log.child({ component: 'lower-pods' });
    this.lowerPods = new Informer<Pod>({
      client: o.lower,
      path: '/api/v1/pods',
      labelSelector: `${LABEL_ORIGIN}=${o.nodeName}`,
      log,
      transform: slimLowerPod,
    });
    const track = (p: Pod) => {
      const upperKey = upperKeyOf(p);
      if (!upperKey) return;
      this.byLowerKey.set(`${p.metadata.namespace}/${p.metadata.name}`, upperKey);
      this.byUpperKey.set(upperKey, p);
      this.emit(upperKey);
    };
    this.lowerPods.addHandlers({
      onAdd: track,
      onUpdate: track,
      onDelete: (p) => {
        const upperKey = upperKeyOf(p);
        if (!upperKey) return;
        this.byLowerKey.delete(`${p.metadata.namespace}/${p.metadata.name}`);
        if (this.byUpperKey.get(upperKey)?.metadata.uid === p.metadata.uid) {
          this.byUpperKey.delete(upperKey);
          this.refusedEphemeral.delete(upperKey);
          this.refusedResize.delete(upperKey);
        }
        this.emit(upperKey);
      },
    });
    // Lower events about our pods are mirrored onto the upper pods (deduplicated by the lower event's
    // uid), those that carry information (lower-events.ts).
    this.lowerEvents = new Informer<LowerEvent>({
      client: o.lower,
      path: '/api/v1/events',
      fieldSelector: 'involvedObject.kind=Pod',
      log,
      transform: slimEvent,
      retain: retainCount,
    });
    const mirror = (e: LowerEvent) => {
      const upperKey = this.byLowerKey.get(`${e.involvedObject?.namespace}/${e.involvedObject?.name}`);
      if (!upperKey || !e.metadata?.uid || !this.lowerEvents.hasSynced || !worthMirroring(e)) return;
      for (const l of this.eventListeners)
        l({
          upperKey,
          type: e.type === 'Warning' ? 'Warning' : 'Normal',
          reason: e.reason ?? 'LowerEvent',
          message: `[${o.clusterName}] ${e.message ?? ''}`,
          count: e.count ?? 1,
          id: e.metadata.uid,
        });
    };
    this.lowerEvents.addHandlers({ onAdd: mirror, onUpdate: (e, old) => e.count !== old.count && mirror(e) });
    this.deps = new DependencySync({
      upper: o.upper,
      lower: o.lower,
      nodeName: o.nodeName,
      clusterName: o.clusterName,
      readable: o.readable,
      reader: o.upperReader,
      log,
    });
    this.deps.onChange((upperKey) => this.emit(upperKey));
    this.tokens = new TokenSecrets({
      upper: o.upper,
      lower: o.lower,
      nodeName: o.nodeName,
      clusterName: o.clusterName,
      serviceAccounts: o.serviceAccounts,
      readable: o.readable,
      reader: o.upperReader,
      caVersion: (ns) => this.deps.version('configmaps', ns, ROOT_CA_CONFIGMAP),
      onDue: (key) => this.emit(key),
      onEvent: (e) => {
        for (const l of this.eventListeners) l(e);
      },
      log,
    });
  }

  onChange(l: (upperKey: string) => void): void {
    this.listeners.push(l);
  }
  onEvent(l: (e: PodEvent) => void): void {
    this.eventListeners.push(l);
  }
  private emit(upperKey: string): void {
    for (const l of this.listeners) l(upperKey);
  }

  start(): void {
    this.lowerPods.start();
    this.lowerEvents.start();
    this.deps.start();
    this.tokens.start();
  }
  async waitForSync(signal: AbortSignal): Promise<void> {
    await Promise.all([this.lowerPods.waitForSync(signal), this.deps.waitForSync(signal), this.tokens.waitForSync(signal)]);
  }
  async stop(): Promise<void> {
    await Promise.all([this.lowerPods.stop(), this.lowerEvents.stop(), this.deps.stop(), this.tokens.stop()]);
  }

  lowerNamespaceOf(upperNs: string): string {
    return lowerNamespace(this.o.namespaceTemplate, upperNs, this.o.clusterName);
  }

  /** Asks for a sync of every upper key that has a lower pod. */
  resyncAll(): void {
    for (const k of this.byUpperKey.keys()) this.emit(k);
  }

  /** Upper keys with a lower pod; with `pool`, only those placed through that pool (fedlet.io/pool). */
  knownUpperKeys(pool?: string): string[] {
    if (pool === undefined) return [...this.byUpperKey.keys()];
    return [...this.byUpperKey].filter(([, p]) => p.metadata.labels?.[LABEL_POOL] === pool).map(([k]) => k);
  }

  /** The pool label of the lower pod of an upper key: a pool name, null (a pod of no pool), undefined (no lower pod). */
  poolOf(upperKey: string): string | null | undefined {
    const p = this.byUpperKey.get(upperKey);
    return p ? (p.metadata.labels?.[LABEL_POOL] ?? null) : undefined;
  }

  async ensure(upper: Pod, pool?: PoolPlacement): Promise<PodEnsureResult> {
    const upperKey = `${upper.metadata.namespace}/${upper.metadata.name}`;
    const lowerNs = this.lowerNamespaceOf(upper.metadata.namespace!);
    const claims = this.o.claims?.forPod(upper) ?? { kind: 'ok', lowerNames: new Map<string, string>() };
    if (claims.kind === 'waiting') return claims;
    const existing = this.byUpperKey.get(upperKey);
    // Class names are part of the immutable spec: only a pod being created needs them decided.
    let classes: PodClasses | undefined;
    if (!existing) {
      classes = this.o.classes ? this.o.classes.forPod(upper) : { dropped: [] };
      if (!classes)
        return {
          kind: 'waiting',
          message: `listing the RuntimeClasses and PriorityClasses of lower cluster ${this.o.clusterName}`,
        };
    }
    const ctx: TranslateContext = {
      nodeName: this.o.nodeName,
      clusterName: this.o.clusterName,
      lowerNamespace: lowerNs,
      allowDaemonSetPods: this.o.allowDaemonSetPods,
      serviceAccounts: this.o.serviceAccounts,
      lowerClaims: claims.lowerNames,
      virtualNodeLabels: pool ? pool.virtualNodeLabels : this.o.virtualNodeLabels?.(),
      ...(pool ? { pool: { name: pool.name, requirements: pool.requirements } } : {}),
      classes,
      tolerations: { policy: this.tenancy.tolerations, denied: this.tenancy.deniedTolerationKeys },
      lowerNodeFloor: this.tenancy.lowerNodeFloor,
    };
    const bounceRecord = pool?.bounce ?? this.o.bounce;
    const unsupported = unsupportedField(upper, ctx);
    // Permanent: the pod can never run here as it is.
    if (unsupported) return { kind: 'rejected', reason: 'UnsupportedPodSpec', message: unsupported.message, retry: false };
    // References that cannot reach an API path, or more than a pod may send: refused before any lookup.
    const badRefs = referenceProblem(upper, { nodeName: this.o.nodeName, maxReferences: this.tenancy.maxReferencesPerPod });
    if (badRefs) return { kind: 'rejected', reason: badRefs.reason, message: badRefs.message, retry: false };
    // The lower pod as translated once the dependencies are known (absent optional ones are left out).
    const desiredWith = (deps: DependencyResult) =>
      withManagedRecord(translatePod(upper, { ...ctx, absent: absentReferences(deps.optional) }));
    if (existing && existing.metadata.labels?.[LABEL_UPPER_UID] !== upper.metadata.uid) {
      // A different upper pod of the same name (e.g. a StatefulSet replacement): remove the old one first.
      await this.deleteLower(existing, 0);
      return { kind: 'waiting', message: 'removing the lower pod of a previous pod with this name' };
    }
    return existing
      ? this.update(upper, existing, { ctx, lowerNs, upperKey, claims: claims.lowerNames, bounceRecord, desiredWith })
      : this.create(upper, { ctx, lowerNs, upperKey, pool, classes, bounceRecord, desiredWith });
  }

  /** Creates the lower pod (and what it needs first: namespace, dependencies, tokens), or says why not. */
  private async create(upper: Pod, c: CreateContext): Promise<PodEnsureResult> {
    const { ctx, lowerNs, upperKey, pool, classes, bounceRecord, desiredWith } = c;
    // It ran before (we published its host IP) but is gone from the lower cluster: deleted or evicted there.
    if (upper.status?.hostIP && upper.status.phase !== 'Pending')
      return {
        kind: 'fail',
        reason: 'LowerPodDeleted',
        message: `the lower pod in cluster ${this.o.clusterName} (${lowerNs}/${upper.metadata.name}) was deleted or evicted outside fedlet`,
      };
    // As a kubelet admits a pod: one bound here by hand whose node constraints this node does not meet fails.
    if (ctx.virtualNodeLabels) {
      const refusal = nodeAffinityRefusal(upper, {
        name: upper.spec.nodeName ?? this.o.nodeName,
        labels: ctx.virtualNodeLabels,
        lowerNodes: this.o.offeredLowerNodes?.(pool),
      });
      if (refusal) return { kind: 'fail', reason: REASON_NODE_AFFINITY, message: refusal };
    }
    const tolerations = decideTolerations(upper, this.tenancy.tolerations, this.tenancy.deniedTolerationKeys);
    if (tolerations.denied.length && this.tenancy.tolerations === 'refuse')
      return {
        kind: 'rejected',
        reason: REASON_TOLERATION_NOT_ALLOWED,
        message: deniedMessage(upper, tolerations, 'refuse', this.o.clusterName),
        retry: false,
      };
    try {
      const waiting = await this.o.namespaces.write(lowerNs, upper.metadata.namespace!, async (use) => {
        const identity = lowerIdentityRefusal(upper, this.o.serviceAccounts, {
          namespace: lowerNs,
          allows: use.lowerIdentity,
          clusterName: this.o.clusterName,
          nodeName: this.o.nodeName,
        });
        if (identity)
          return { kind: 'rejected', reason: REASON_LOWER_IDENTITY_NOT_ALLOWED, message: identity, retry: true } as const;
        const missing = await this.deps.ensure(upper, lowerNs);
        if (missing.required) return missingResult(missing.required);
        if (missing.conflict) return conflictResult(missing.conflict);
        const desired = desiredWith(missing);
        try {
          await this.tokens.ensure(upper, lowerNs, true);
        } catch (e) {
          // No token (or lower account) for the pod yet: it waits, saying why; retried with backoff.
          if (e instanceof PodIdentityError)
            return { kind: 'rejected', reason: e.podReason, message: e.message, retry: true } as const;
          throw e;
        }
        await this.o.lower.create(apiPath`/api/v1/namespaces/${lowerNs}/pods`, desired);
        for (const m of missing.optional)
          this.emitEvent({ upperKey, type: 'Warning', reason: m.eventReason, message: m.message });
        for (const d of classes?.dropped ?? []) this.emitEvent({ upperKey, ...d });
        if (tolerations.denied.length)
          this.emitEvent({
            upperKey,
            type: 'Warning',
            reason: REASON_TOLERATION_DROPPED,
            message: deniedMessage(upper, tolerations, 'drop', this.o.clusterName),
          });
        this.o.log.debug({ pod: upperKey, lowerNamespace: lowerNs }, 'created lower pod');
        return undefined;
      });
      if (waiting) return waiting;
    } catch (e) {
      if (isAlreadyExists(e)) return { kind: 'ok' }; // created by an earlier attempt; the watch will show it
      // Someone else's namespace: nothing is written there; a grant (or another template) heals it.
      if (e instanceof LowerNamespaceRefusedError) return { kind: 'rejected', reason: e.reason, message: e.message, retry: true };
      const refused = classifyRejection(e);
      if (refused) return this.refused(upper, upperKey, refused, bounceRecord);
      throw e;
    }
    this.rejections.accepted(upper.metadata.uid, upperKey);
    return { kind: 'ok' };
  }

  /** Brings a running lower pod in line with the upper pod (or bounces it back); never recreates it. */
  private async update(upper: Pod, existing: Pod, c: UpdateContext): Promise<PodEnsureResult> {
    const { ctx, lowerNs, upperKey, bounceRecord, desiredWith } = c;
    const missing = await this.deps.ensure(upper, lowerNs);
    if (missing.required) return missingResult(missing.required);
    // The pod runs already: the object in the way is not touched; say so on the pod.
    if (missing.conflict)
      this.emitEvent({ upperKey, type: 'Warning', reason: REASON_DEPENDENCY_CONFLICT, message: missing.conflict.message });
    if (existing.metadata.deletionTimestamp) return { kind: 'ok' };
    const desired = desiredWith(missing);
    await this.tokens.ensure(upper, lowerNs, false);
    // Persistent claims of ours hold data that lives in this cluster; an ephemeral one dies with the pod.
    const kept = podClaims(upper).filter((cl) => !cl.ephemeral && c.claims.has(cl.claim));
    const pinnedBy = kept.length ? `the data of claims ${kept.map((cl) => cl.claim).join(', ')}` : undefined;
    const bounce = bounceRecord.check(upper, existing, pinnedBy);
    if (bounce.kind === 'recheck') return bounce;
    if (bounce.kind === 'bounce') {
      // The extender must know to keep the controller away before its replacement is made.
      if (!bounceRecord.publishedFor(upper)) return { kind: 'recheck', retryAfterMs: AVOID_PUBLISH_RECHECK_MS };
      // Never two copies: the lower pod goes first; the upper pod fails once it is gone.
      await this.deleteLower(existing, 0);
      return { kind: 'fail', reason: bounce.reason, message: bounce.message };
    }
    return this.applyUpdates(upper, existing, ctx, desired, missing, lowerNs, upperKey);
  }

  /** Sends each change through the endpoint that takes it; a refused one does not hold back the others. */
  private async applyUpdates(
    upper: Pod,
    existing: Pod,
    ctx: TranslateContext,
    desired: Pod,
    missing: DependencyResult,
    lowerNs: string,
    upperKey: string,
  ): Promise<PodEnsureResult> {
    const path = apiPath`/api/v1/namespaces/${lowerNs}/pods/${upper.metadata.name!}`;
    const ephemeral = ephemeralContainersPatch(
      existing,
      lowerEphemeralContainers(upper, { ...ctx, absent: absentReferences(missing.optional) }),
    );
    if (!ephemeral) this.refusedEphemeral.delete(upperKey);
    const resize = resizePatch(existing, desired);
    if (!resize) this.refusedResize.delete(upperKey);
    const updates: Array<[string, string, Record<string, unknown> | undefined]> = [
      ['update the pod', path, lowerPodPatch(existing, desired)],
      ['resize the pod', `${path}/resize`, resize],
      ['add ephemeral containers', `${path}/ephemeralcontainers`, ephemeral],
    ];
    let refusedAny = false;
    for (const [what, target, patch] of updates) {
      if (!patch) continue;
      try {
        await this.o.lower.patch(target, patch, 'strategic');
        this.o.log.debug({ pod: upperKey, change: what }, 'updated lower pod');
        if (patch === ephemeral) this.refusedEphemeral.delete(upperKey);
        if (patch === resize) this.refusedResize.delete(upperKey);
      } catch (e) {
        const refused = classifyRejection(e);
        if (!refused) throw e;
        // The pod runs; only this change is refused: say so on the pod and try again later.
        refusedAny = true;
        const message = `lower cluster ${this.o.clusterName} refused to ${what} (${refused.code}): ${refused.message}`;
        this.o.log.info(
          { pod: upperKey, change: what, code: refused.code, lowerMessage: refused.message },
          'lower cluster refused a change',
        );
        if (patch === ephemeral)
          this.refusedEphemeral.set(upperKey, { names: ephemeral.spec.ephemeralContainers.map((c) => c.name), message });
        if (patch === resize) this.refusedResize.set(upperKey, message);
        this.emitEvent({ upperKey, type: 'Warning', reason: REASON_LOWER_REJECTED, message });
      }
    }
    return refusedAny ? { kind: 'recheck', retryAfterMs: 30_000 } : { kind: 'ok' };
  }

  private emitEvent(e: PodEvent): void {
    for (const l of this.eventListeners) l(e);
  }

  /** The lower API server refused to create the pod: Pending with the reason, or failed once it is hopeless. */
  private refused(upper: Pod, upperKey: string, r: LowerRejection, bounce: BounceBack): PodEnsureResult {
    const previous = upper.status?.conditions?.find((c) => c.type === CONDITION_LOWER_ACCEPTED);
    const d = this.rejections.decide({ uid: upper.metadata.uid ?? upperKey, key: upperKey }, r, previous, this.o.clusterName);
    if (d.kind === 'retry') {
      this.o.log.info(
        { pod: upperKey, code: r.code, transient: r.transient, retryInMs: d.retryAfterMs, lowerMessage: r.message },
        'lower cluster refused the pod',
      );
      return {
        kind: 'rejected',
        reason: REASON_LOWER_REJECTED,
        message: d.message,
        condition: d.condition,
        retry: true,
        retryAfterMs: d.retryAfterMs,
      };
    }
    // Hopeless here: its controller should place the replacement in another cluster, once the extender
    // knows to keep it away (until then the pod stays Pending with its reason).
    bounce.avoidController(upper, 'failing a pod the lower cluster keeps refusing');
    if (!bounce.publishedFor(upper)) return { kind: 'recheck', retryAfterMs: AVOID_PUBLISH_RECHECK_MS };
    return { kind: 'fail', reason: REASON_LOWER_REJECTED, message: d.message };
  }

  private async deleteLower(p: Pod, grace: number | undefined): Promise<void> {
    try {
      await this.o.lower.delete(apiPath`/api/v1/namespaces/${p.metadata.namespace!}/pods/${p.metadata.name!}`, {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}),
        preconditions: { uid: p.metadata.uid },
      });
    } catch (e) {
      if (!isNotFound(e) && !(e instanceof Error && /Precondition failed/i.test(e.message))) throw e;
    }
  }

  /** Deletes the lower pod for an upper key; resolves true once it is gone. */
  async delete(upperKey: string, grace: number | undefined): Promise<boolean> {
    // The pod no longer needs its ConfigMaps/Secrets watched (the Node authorizer stops allowing it once
    // the pod is gone); a sync that still needs them watches them again.
    this.deps.forget(upperKey);
    const p = this.byUpperKey.get(upperKey);
    if (!p) {
      this.deps.forget(upperKey);
      return true;
    }
    if (!p.metadata.deletionTimestamp) await this.deleteLower(p, grace);
    return false;
  }

  status(upper: Pod): PodStatus | undefined {
    const p = this.byUpperKey.get(`${upper.metadata.namespace}/${upper.metadata.name}`);
    if (!p || p.metadata.labels?.[LABEL_UPPER_UID] !== upper.metadata.uid) return undefined;
    const st = upperStatusFromLower(p, upper, { nodeIP: this.o.nodeIP, remapper: this.o.remapper });
    const key = `${upper.metadata.namespace}/${upper.metadata.name}`;
    const refused = this.refusedEphemeral.get(key);
    const withEphemeral = refused ? withRefusedEphemeral(st, upper, refused) : st;
    const resizeRefusal = this.refusedResize.get(key);
    return resizeRefusal ? withRefusedResize(withEphemeral, resizeRefusal) : withEphemeral;
  }

  lowerPodFor(upperKey: string): Pod | undefined {
    return this.byUpperKey.get(upperKey);
  }
}

/** Refused ephemeral containers (none below) wait upstairs, with the lower API server's reason. */
function withRefusedEphemeral(st: PodStatus, upper: Pod, refused: { names: string[]; message: string }): PodStatus {
  const have = st.ephemeralContainerStatuses ?? [];
  const add = refused.names
    .filter((n) => !have.some((s) => s.name === n))
    .map((name) => ({
      name,
      image: upper.spec.ephemeralContainers?.find((c) => c.name === name)?.image ?? '',
      imageID: '',
      ready: false,
      restartCount: 0,
      state: { waiting: { reason: REASON_LOWER_REJECTED, message: refused.message } },
    }));
  return add.length ? { ...st, ephemeralContainerStatuses: [...have, ...add] } : st;
}

/** A resize the lower API server refused is pending as infeasible (unless the lower kubelet says more). */
function withRefusedResize(st: PodStatus, message: string): PodStatus {
  if (st.conditions?.some((c) => c.type === 'PodResizePending')) return st;
  return {
    ...st,
    conditions: [...(st.conditions ?? []), { type: 'PodResizePending', status: 'True', reason: 'Infeasible', message }],
  };
}

interface LowerEvent extends KubeObject {
  involvedObject?: { namespace?: string; name?: string };
  reason?: string;
  message?: string;
  type?: string;
  count?: number;
}
function slimEvent(e: LowerEvent): LowerEvent {
  return {
    metadata: {
      name: e.metadata?.name,
      namespace: e.metadata?.namespace,
      uid: e.metadata?.uid,
      resourceVersion: e.metadata?.resourceVersion,
    },
    involvedObject: { namespace: e.involvedObject?.namespace, name: e.involvedObject?.name },
    reason: e.reason,
    message: e.message,
    type: e.type,
    count: e.count,
  };
}
