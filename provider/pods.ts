// The pod half of the lower provider: creates, updates and deletes lower pods for upper pods, and
// derives their upper status. Lower pods are found through the fedlet.io/origin label, so everything
// here can be rebuilt from the clusters after a restart.
import type { Logger } from 'pino';
import { isAlreadyExists, isNotFound, type KubeClient } from '../src/kube/client.js';
import { Informer, type KubeObject } from '../src/kube/informer.js';
import type { Pod, PodStatus } from '../src/kube/types.js';
import { LABEL_ORIGIN, LABEL_UPPER_NAME, LABEL_UPPER_NAMESPACE, LABEL_UPPER_UID } from '../src/labels.js';
import type { PodEnsureResult, PodEvent } from '../src/provider.js';
import { DependencySync, depKey, missingReason } from './dependencies.js';
import { lowerNamespace } from './namespace-map.js';
import type { IpRemapper } from './remap.js';
import { upperStatusFromLower } from './status.js';
import { dependencyRefs, droppedTokenSources, translatePod } from './translate.js';

/** Event reason: a user's projected volume lost its serviceAccountToken source below. */
export const REASON_TOKEN_SOURCE_DROPPED = 'ServiceAccountTokenSourceDropped';
import { lowerPodPatch, withManagedRecord } from './managed-metadata.js';
import {
  CONDITION_LOWER_ACCEPTED,
  classifyRejection,
  REASON_LOWER_REJECTED,
  RejectionTracker,
  type LowerRejection,
} from './lower-rejection.js';

export interface LowerPodsOptions {
  upper: KubeClient;
  lower: KubeClient;
  clusterName: string;
  nodeName: string;
  nodeIP: string;
  namespaceTemplate: string;
  remapper: IpRemapper;
  allowDaemonSetPods: boolean;
  bounceAfterSeconds: number;
  avoidAfterBounceSeconds: number;
  onAvoidChange: () => void;
  /** The virtual node's labels (to tell lower-node constraints from virtual-node ones). */
  virtualNodeLabels?: () => Record<string, string>;
  log: Logger;
}

/** Upper key (namespace/name) that a lower pod stands for. */
export function upperKeyOf(lower: KubeObject): string | undefined {
  const a = lower.metadata?.annotations;
  const ns = a?.[LABEL_UPPER_NAMESPACE];
  const name = a?.[LABEL_UPPER_NAME];
  return ns && name ? `${ns}/${name}` : undefined;
}

/** Keep what status reflection and updates need; drop the rest (memory at 10k pods). */
function slimLowerPod(p: Pod): Pod {
  return {
    metadata: {
      name: p.metadata.name,
      namespace: p.metadata.namespace,
      uid: p.metadata.uid,
      resourceVersion: p.metadata.resourceVersion,
      labels: p.metadata.labels,
      annotations: p.metadata.annotations,
      deletionTimestamp: p.metadata.deletionTimestamp,
    },
    spec: {
      containers: p.spec.containers.map((c) => ({ name: c.name, image: c.image })),
      ...(p.spec.initContainers ? { initContainers: p.spec.initContainers.map((c) => ({ name: c.name, image: c.image })) } : {}),
      activeDeadlineSeconds: p.spec.activeDeadlineSeconds,
      tolerations: p.spec.tolerations,
      nodeName: p.spec.nodeName,
    },
    status: p.status,
  };
}

export class LowerPods {
  readonly lowerPods: Informer<Pod>;
  readonly upperConfigMaps: Informer<KubeObject>;
  readonly upperSecrets: Informer<KubeObject>;
  readonly deps: DependencySync;
  readonly lowerEvents: Informer<LowerEvent>;
  /** lower pod key (lowerNs/name) → upper key */
  private readonly byLowerKey = new Map<string, string>();
  /** upper key → lower pod */
  private readonly byUpperKey = new Map<string, Pod>();
  /** dependency key → upper pod keys referencing it */
  private readonly dependents = new Map<string, Set<string>>();
  private readonly ensuredNamespaces = new Set<string>();
  /** controller owner uid → ISO time until which its pods should avoid this cluster (published to the extender). */
  readonly avoid: Record<string, string> = {};
  private readonly listeners: Array<(key: string) => void> = [];
  private readonly eventListeners: Array<(e: PodEvent) => void> = [];
  /** Pods the lower API server refuses to create: backoff and the deadline to fail them. */
  readonly rejections: RejectionTracker;

  constructor(private readonly o: LowerPodsOptions) {
    this.rejections = new RejectionTracker({ failAfterSeconds: o.bounceAfterSeconds });
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
        if (this.byUpperKey.get(upperKey)?.metadata.uid === p.metadata.uid) this.byUpperKey.delete(upperKey);
        this.emit(upperKey);
      },
    });
    // Metadata-only watches: we learn that a referenced object changed without streaming every
    // ConfigMap's and Secret's data; the data of referenced ones is then read by name.
    const depChanged = (kind: 'configmaps' | 'secrets') => (obj: KubeObject) => {
      const key = depKey(kind, obj.metadata?.namespace ?? '', obj.metadata?.name ?? '');
      const pods = this.dependents.get(key);
      if (!pods) return;
      this.deps.invalidate(key);
      for (const p of pods) this.emit(p);
    };
    this.upperConfigMaps = new Informer<KubeObject>({
      client: o.upper,
      path: '/api/v1/configmaps',
      log,
      metadataOnly: true,
      transform: slimMeta,
    });
    this.upperSecrets = new Informer<KubeObject>({
      client: o.upper,
      path: '/api/v1/secrets',
      log,
      metadataOnly: true,
      transform: slimMeta,
    });
    for (const [inf, kind] of [
      [this.upperConfigMaps, 'configmaps'],
      [this.upperSecrets, 'secrets'],
    ] as const) {
      const h = depChanged(kind);
      inf.addHandlers({ onAdd: h, onUpdate: h, onDelete: h });
    }
    // Lower events about our pods are mirrored onto the upper pods (deduplicated by the lower event's uid).
    this.lowerEvents = new Informer<LowerEvent>({
      client: o.lower,
      path: '/api/v1/events',
      fieldSelector: 'involvedObject.kind=Pod',
      log,
      transform: slimEvent,
    });
    const mirror = (e: LowerEvent) => {
      const upperKey = this.byLowerKey.get(`${e.involvedObject?.namespace}/${e.involvedObject?.name}`);
      if (!upperKey || !e.metadata?.uid || !this.lowerEvents.hasSynced) return;
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
    this.deps = new DependencySync({ upper: o.upper, lower: o.lower, nodeName: o.nodeName, log });
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
    this.upperConfigMaps.start();
    this.upperSecrets.start();
  }
  async waitForSync(signal: AbortSignal): Promise<void> {
    await Promise.all([
      this.lowerPods.waitForSync(signal),
      this.upperConfigMaps.waitForSync(signal),
      this.upperSecrets.waitForSync(signal),
    ]);
  }
  async stop(): Promise<void> {
    await Promise.all([this.lowerPods.stop(), this.lowerEvents.stop(), this.upperConfigMaps.stop(), this.upperSecrets.stop()]);
  }

  lowerNamespaceOf(upperNs: string): string {
    return lowerNamespace(this.o.namespaceTemplate, upperNs, this.o.clusterName);
  }

  /** Asks for a sync of every upper key that has a lower pod. */
  resyncAll(): void {
    for (const k of this.byUpperKey.keys()) this.emit(k);
  }

  knownUpperKeys(): string[] {
    return [...this.byUpperKey.keys()];
  }

  private async ensureNamespace(ns: string, upperNs: string): Promise<void> {
    if (this.ensuredNamespaces.has(ns)) return;
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
    this.ensuredNamespaces.add(ns);
  }

  /** The lower namespace was deleted (namespace GC): create it again when a pod needs it. */
  forgetNamespace(ns: string): void {
    this.ensuredNamespaces.delete(ns);
  }

  /** Remembers which ConfigMaps/Secrets each pod uses, so a change to one re-syncs exactly those pods. */
  private trackDependents(upper: Pod): void {
    const key = `${upper.metadata.namespace}/${upper.metadata.name}`;
    for (const set of this.dependents.values()) set.delete(key);
    const ns = upper.metadata.namespace ?? '';
    const refs = dependencyRefs(upper);
    for (const [kind, names] of [
      ['configmaps', refs.configMaps],
      ['secrets', refs.secrets],
    ] as const)
      for (const name of names.keys()) {
        const k = depKey(kind, ns, name);
        let s = this.dependents.get(k);
        if (!s) this.dependents.set(k, (s = new Set()));
        s.add(key);
      }
  }

  private depRv(key: string): string | undefined {
    const [kind, ns, name] = key.split('/');
    const inf = kind === 'configmaps' ? this.upperConfigMaps : this.upperSecrets;
    return inf.get(`${ns}/${name}`)?.metadata?.resourceVersion;
  }

  async ensure(upper: Pod): Promise<PodEnsureResult> {
    const upperKey = `${upper.metadata.namespace}/${upper.metadata.name}`;
    const lowerNs = this.lowerNamespaceOf(upper.metadata.namespace!);
    const desired = withManagedRecord(
      translatePod(upper, {
        nodeName: this.o.nodeName,
        clusterName: this.o.clusterName,
        lowerNamespace: lowerNs,
        allowDaemonSetPods: this.o.allowDaemonSetPods,
        virtualNodeLabels: this.o.virtualNodeLabels?.(),
      }),
    );
    this.trackDependents(upper);
    const existing = this.byUpperKey.get(upperKey);
    if (existing && existing.metadata.labels?.[LABEL_UPPER_UID] !== upper.metadata.uid) {
      // A different upper pod of the same name (e.g. a StatefulSet replacement): remove the old one first.
      await this.deleteLower(existing, 0);
      return { kind: 'waiting', message: 'removing the lower pod of a previous pod with this name' };
    }
    if (!existing) {
      // It ran before (we published its host IP) but is gone from the lower cluster: deleted or evicted there.
      if (upper.status?.hostIP && upper.status.phase !== 'Pending')
        return {
          kind: 'fail',
          reason: 'LowerPodDeleted',
          message: `the lower pod in cluster ${this.o.clusterName} (${lowerNs}/${upper.metadata.name}) was deleted or evicted outside fedlet`,
        };
      try {
        await this.ensureNamespace(lowerNs, upper.metadata.namespace!);
        const missing = await this.deps.ensure(upper, lowerNs, (k) => this.depRv(k));
        await this.o.lower.create(`/api/v1/namespaces/${lowerNs}/pods`, desired);
        for (const v of droppedTokenSources(upper))
          for (const l of this.eventListeners)
            l({
              upperKey,
              type: 'Warning',
              reason: REASON_TOKEN_SOURCE_DROPPED,
              message: `projected volume "${v}": its serviceAccountToken source was left out in lower cluster ${this.o.clusterName} (an upper token is not valid there); its other sources are mounted`,
            });
        for (const m of missing)
          for (const l of this.eventListeners)
            l({
              upperKey,
              type: 'Warning',
              reason: missingReason(m.kind, true),
              message: `optional ${m.kind === 'configmaps' ? 'ConfigMap' : 'Secret'} ${m.namespace}/${m.name} does not exist; the pod was created without it`,
            });
        this.o.log.debug({ pod: upperKey, lowerNamespace: lowerNs }, 'created lower pod');
      } catch (e) {
        if (isAlreadyExists(e)) return { kind: 'ok' }; // created by an earlier attempt; the watch will show it
        // The namespace may be gone or going (deleted by its GC meanwhile): check it again next time.
        this.ensuredNamespaces.delete(lowerNs);
        const refused = classifyRejection(e);
        if (refused) return this.refused(upper, upperKey, refused);
        throw e;
      }
      this.rejections.accepted(upper.metadata.uid, upperKey);
      return { kind: 'ok' };
    }
    await this.deps.ensure(upper, lowerNs, (k) => this.depRv(k));
    if (existing.metadata.deletionTimestamp) return { kind: 'ok' };
    const unschedulable = existing.status?.conditions?.find(
      (c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable',
    );
    if (unschedulable && !existing.spec.nodeName) {
      const since = Date.parse(unschedulable.lastTransitionTime ?? '') || Date.now();
      const due = since + this.o.bounceAfterSeconds * 1000;
      if (Date.now() < due) return { kind: 'recheck', retryAfterMs: due - Date.now() + 200 };
      const owner = this.avoidController(upper);
      this.o.log.info(
        { pod: upperKey, controller: owner, avoidUntil: owner ? this.avoid[owner] : undefined },
        'bouncing a pod the lower cluster cannot schedule',
      );
      // Never two copies: the lower pod goes first; the upper pod fails once it is gone.
      await this.deleteLower(existing, 0);
      return {
        kind: 'fail',
        reason: 'LowerUnschedulable',
        message: `lower cluster ${this.o.clusterName} could not schedule the pod for ${this.o.bounceAfterSeconds}s (${unschedulable.message ?? 'unschedulable'}); failing it so that its controller places a replacement elsewhere`,
      };
    }
    const patch = lowerPodPatch(existing, desired);
    if (patch) {
      try {
        await this.o.lower.patch(`/api/v1/namespaces/${lowerNs}/pods/${upper.metadata.name}`, patch, 'strategic');
      } catch (e) {
        const refused = classifyRejection(e);
        if (!refused) throw e;
        // The pod runs; only the update is refused: say so on the pod and try again later.
        for (const l of this.eventListeners)
          l({
            upperKey,
            type: 'Warning',
            reason: REASON_LOWER_REJECTED,
            message: `lower cluster ${this.o.clusterName} refused to update the pod (${refused.code}): ${refused.message}`,
          });
        return { kind: 'recheck', retryAfterMs: 30_000 };
      }
      this.o.log.debug({ pod: upperKey }, 'updated lower pod');
    }
    return { kind: 'ok' };
  }

  /**
   * Keeps the pod's controller away from this cluster for a while (published to the extender), so its
   * replacement is placed elsewhere. Returns the controller's uid, if it has one.
   */
  private avoidController(upper: Pod): string | undefined {
    const owner = upper.metadata.ownerReferences?.find((o) => o.controller)?.uid;
    if (!owner) return undefined;
    this.avoid[owner] = new Date(Date.now() + this.o.avoidAfterBounceSeconds * 1000).toISOString();
    for (const [k, until] of Object.entries(this.avoid)) if (Date.parse(until) < Date.now()) delete this.avoid[k];
    this.o.onAvoidChange();
    return owner;
  }

  /** The lower API server refused to create the pod: Pending with the reason, or failed once it is hopeless. */
  private refused(upper: Pod, upperKey: string, r: LowerRejection): PodEnsureResult {
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
        retryAfterMs: d.retryAfterMs,
      };
    }
    const owner = this.avoidController(upper);
    this.o.log.info(
      { pod: upperKey, controller: owner, avoidUntil: owner ? this.avoid[owner] : undefined },
      'failing a pod the lower cluster keeps refusing',
    );
    return { kind: 'fail', reason: REASON_LOWER_REJECTED, message: d.message };
  }

  private async deleteLower(p: Pod, grace: number | undefined): Promise<void> {
    try {
      await this.o.lower.delete(`/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`, {
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
    const p = this.byUpperKey.get(upperKey);
    if (!p) return true;
    if (!p.metadata.deletionTimestamp) await this.deleteLower(p, grace);
    return false;
  }

  status(upper: Pod): PodStatus | undefined {
    const p = this.byUpperKey.get(`${upper.metadata.namespace}/${upper.metadata.name}`);
    if (!p || p.metadata.labels?.[LABEL_UPPER_UID] !== upper.metadata.uid) return undefined;
    return upperStatusFromLower(p, upper, { nodeIP: this.o.nodeIP, remapper: this.o.remapper });
  }

  lowerPodFor(upperKey: string): Pod | undefined {
    return this.byUpperKey.get(upperKey);
  }
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

function slimMeta(o: KubeObject): KubeObject {
  return { metadata: { name: o.metadata?.name, namespace: o.metadata?.namespace, resourceVersion: o.metadata?.resourceVersion } };
}
