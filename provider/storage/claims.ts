// fedlet as the external provisioner of its upper StorageClass(es) for its own virtual node. Level
// triggered: every change to an upper claim, an upper PV of ours or a lower claim of ours queues a key;
// sync(key) compares the clusters and acts. Nothing is remembered that the clusters do not record.
//
// Lifecycle: the upper scheduler picks this node for a pod using a WaitForFirstConsumer claim of a
// fedlet class (annotation selected-node) → the lower claim is created in the mapped namespace, then the
// upper PV (pinned to this node) that the upper PV controller binds. The lower claim lives as long as
// the upper PV: Released + Delete removes both; Released + Retain marks the lower claim retained.
import type { Logger } from 'pino';
import { isAlreadyExists, isNotFound, type KubeClient } from '../../src/kube/client.js';
import { Informer, retainCount } from '../../src/kube/informer.js';
import type { ClaimObj, KubeObject, StorageClassObj, VolumeObj } from '../../src/kube/types.js';
import type { Pod } from '../../src/kube/types.js';
import type { EventRecorder } from '../../src/events.js';
import {
  ANNOTATION_LOWER_CAPACITY,
  ANNOTATION_LOWER_CLAIM,
  ANNOTATION_LOWER_PHASE,
  ANNOTATION_RETAINED,
  ANNOTATION_SELECTED_NODE,
  ANNOTATION_UPPER_PV,
  LABEL_ORIGIN,
  LABEL_UPPER_NAME,
  LABEL_UPPER_NAMESPACE,
  LABEL_UPPER_UID,
} from '../../src/labels.js';
import { WorkQueue } from '../../src/kube/work-queue.js';
import { LowerNamespaceRefusedError, type LowerNamespaces } from '../namespaces/lower-namespaces.js';
import {
  chooseLowerClass,
  expansionAction,
  REASON_EXPANSION_REFUSED,
  storageGreater,
  unsupportedClaim,
  upperClaimStatus,
  desiredLowerClaim,
  desiredUpperVolume,
  isFedletClass,
  lowerClaimName,
  parseLowerClaimLocation,
  podClaims,
  releaseAction,
  volumeNameFor,
  type LowerClassChoice,
} from './claim-objects.js';

export interface LowerClaimsOptions {
  upper: KubeClient;
  lower: KubeClient;
  nodeName: string;
  clusterName: string;
  /** Upper class → lower class; unmapped fedlet classes use the lower cluster's default class. */
  storageClassMap: Record<string, string>;
  lowerNamespaceOf: (upperNs: string) => string;
  namespaces: LowerNamespaces;
  events: EventRecorder;
  /** The storage part of the scheduling summary may have changed. */
  onSummaryChange: () => void;
  log: Logger;
}

/** How a pod's claims stand in the lower cluster. */
export type PodClaimsResult = { kind: 'ok'; lowerNames: Map<string, string> } | { kind: 'waiting'; message: string };

interface ClaimEvent extends KubeObject {
  involvedObject?: { namespace?: string; name?: string };
  reason?: string;
  message?: string;
  count?: number;
}

function slimClaim(c: ClaimObj): ClaimObj {
  const sel = c.metadata?.annotations?.[ANNOTATION_SELECTED_NODE];
  return {
    metadata: {
      name: c.metadata?.name,
      namespace: c.metadata?.namespace,
      uid: c.metadata?.uid,
      resourceVersion: c.metadata?.resourceVersion,
      deletionTimestamp: c.metadata?.deletionTimestamp,
      labels: c.metadata?.labels,
      annotations: {
        ...(sel ? { [ANNOTATION_SELECTED_NODE]: sel } : {}),
        ...Object.fromEntries(Object.entries(c.metadata?.annotations ?? {}).filter(([k]) => k.startsWith('fedlet.io/'))),
      },
    },
    spec: c.spec,
    status: { phase: c.status?.phase, capacity: c.status?.capacity, conditions: c.status?.conditions },
  };
}

export class LowerClaims {
  readonly upperClasses: Informer<StorageClassObj>;
  readonly lowerClasses: Informer<StorageClassObj>;
  readonly upperClaims: Informer<ClaimObj>;
  readonly upperVolumes: Informer<VolumeObj>;
  readonly lowerClaims: Informer<ClaimObj>;
  /** Warnings about lower claims (e.g. a lower provisioner failing) are shown on the upper claims. */
  readonly lowerEvents: Informer<ClaimEvent>;
  private readonly queue: WorkQueue;
  private readonly log: Logger;

  constructor(private readonly o: LowerClaimsOptions) {
    this.log = o.log.child({ component: 'claims' });
    const mk = <T extends StorageClassObj | ClaimObj | VolumeObj>(
      client: KubeClient,
      path: string,
      extra: { labelSelector?: string; transform?: (x: T) => T } = {},
    ) => new Informer<T>({ client, path, log: this.log, ...extra });
    this.upperClasses = mk<StorageClassObj>(o.upper, '/apis/storage.k8s.io/v1/storageclasses');
    this.lowerClasses = mk<StorageClassObj>(o.lower, '/apis/storage.k8s.io/v1/storageclasses');
    this.upperClaims = mk<ClaimObj>(o.upper, '/api/v1/persistentvolumeclaims', { transform: slimClaim });
    this.upperVolumes = mk<VolumeObj>(o.upper, '/api/v1/persistentvolumes', { labelSelector: `${LABEL_ORIGIN}=${o.nodeName}` });
    this.lowerClaims = mk<ClaimObj>(o.lower, '/api/v1/persistentvolumeclaims', {
      labelSelector: `${LABEL_ORIGIN}=${o.nodeName}`,
      transform: slimClaim,
    });
    this.queue = new WorkQueue({ concurrency: 2, maxSize: 100_000, handler: (k) => this.sync(k), log: this.log });

    const claimKey = (c: ClaimObj) => this.queue.add(`claim:${c.metadata?.namespace}/${c.metadata?.name}`);
    this.upperClaims.addHandlers({ onAdd: claimKey, onUpdate: claimKey, onDelete: claimKey });
    const volKey = (v: VolumeObj) => {
      this.queue.add(`pv:${v.metadata?.name}`);
      const ref = v.spec?.claimRef;
      if (ref?.namespace && ref.name) this.queue.add(`claim:${ref.namespace}/${ref.name}`);
    };
    this.upperVolumes.addHandlers({ onAdd: volKey, onUpdate: volKey, onDelete: volKey });
    const lowerKey = (c: ClaimObj) => {
      this.queue.add(`lower:${c.metadata?.namespace}/${c.metadata?.name}`);
      const a = c.metadata?.annotations;
      if (a?.[ANNOTATION_UPPER_PV]) this.queue.add(`pv:${a[ANNOTATION_UPPER_PV]}`);
      // Its capacity and conditions are mirrored onto the upper claim.
      if (a?.[LABEL_UPPER_NAMESPACE] && a[LABEL_UPPER_NAME])
        this.queue.add(`claim:${a[LABEL_UPPER_NAMESPACE]}/${a[LABEL_UPPER_NAME]}`);
    };
    this.lowerClaims.addHandlers({ onAdd: lowerKey, onUpdate: lowerKey, onDelete: lowerKey });
    this.lowerEvents = new Informer<ClaimEvent>({
      client: o.lower,
      path: '/api/v1/events',
      fieldSelector: 'involvedObject.kind=PersistentVolumeClaim,type=Warning',
      log: this.log,
      retain: retainCount,
    });
    const mirror = (e: ClaimEvent) => {
      const c = this.lowerClaims.get(`${e.involvedObject?.namespace}/${e.involvedObject?.name}`);
      const ns = c?.metadata?.annotations?.[LABEL_UPPER_NAMESPACE];
      const name = c?.metadata?.annotations?.[LABEL_UPPER_NAME];
      if (!ns || !name || !e.metadata?.uid || !this.lowerEvents.hasSynced) return;
      void o.events.record(
        { kind: 'PersistentVolumeClaim', namespace: ns, name, uid: c.metadata?.labels?.[LABEL_UPPER_UID] },
        'Warning',
        e.reason ?? 'LowerClaimWarning',
        `[${o.clusterName}] ${e.message ?? ''}`,
        e.count ?? 1,
        e.metadata.uid,
      );
    };
    this.lowerEvents.addHandlers({ onAdd: mirror, onUpdate: (e, old) => e.count !== old.count && mirror(e) });
    const classes = () => o.onSummaryChange();
    for (const inf of [this.upperClasses, this.lowerClasses])
      inf.addHandlers({ onAdd: classes, onUpdate: classes, onDelete: classes });
    // Whether a claim may grow depends on its lower class: a class change re-decides every bound claim.
    const boundClaims = () => {
      for (const v of this.upperVolumes.list()) {
        const r = v.spec?.claimRef;
        if (r?.namespace && r.name) this.queue.add(`claim:${r.namespace}/${r.name}`);
      }
    };
    this.lowerClasses.addHandlers({ onAdd: boundClaims, onUpdate: boundClaims, onDelete: boundClaims });
  }

  start(): void {
    for (const inf of this.informers()) inf.start();
    this.lowerEvents.start();
    // Workers start once every cache is synced: nothing is created or deleted on a partial view.
    void Promise.all(this.informers().map((i) => i.waitForSync())).then(() => {
      this.queue.start();
      this.o.onSummaryChange(); // the storage part of the summary is known only now
    });
  }
  async stop(): Promise<void> {
    await this.queue.stop();
    await Promise.all([...this.informers(), this.lowerEvents].map((i) => i.stop()));
  }
  private informers() {
    return [this.upperClasses, this.lowerClasses, this.upperClaims, this.upperVolumes, this.lowerClaims] as const;
  }
  get synced(): boolean {
    return this.informers().every((i) => i.hasSynced);
  }

  choose(upperClass: string): LowerClassChoice {
    return chooseLowerClass(upperClass, this.o.storageClassMap, this.lowerClasses.list(), this.o.clusterName);
  }

  /** For the scheduling summary: every upper fedlet class → the lower class serving it here, or why none. */
  summary(): Record<string, LowerClassChoice> | undefined {
    if (!this.synced) return undefined;
    const out: Record<string, LowerClassChoice> = {};
    for (const c of this.upperClasses.list()) if (isFedletClass(c)) out[c.metadata!.name!] = this.choose(c.metadata!.name!);
    return out;
  }

  /**
   * Lower claim names for the claims a pod uses. Claims of other classes are left out (translation
   * refuses them by name); a fedlet claim not yet bound to our volume, or whose lower claim is not yet
   * visible, means waiting.
   */
  forPod(pod: Pod): PodClaimsResult {
    const lowerNames = new Map<string, string>();
    const ns = pod.metadata.namespace!;
    for (const { claim } of podClaims(pod)) {
      const c = this.upperClaims.get(`${ns}/${claim}`);
      if (!c) return { kind: 'waiting', message: `claim ${ns}/${claim} not found` };
      if (!isFedletClass(this.upperClasses.get(c.spec?.storageClassName ?? ''))) continue;
      const pv = this.upperVolumes.get(c.spec?.volumeName ?? '');
      if (!pv || pv.spec?.claimRef?.uid !== c.metadata?.uid)
        return { kind: 'waiting', message: `claim ${ns}/${claim} is not bound to a volume of virtual node ${this.o.nodeName}` };
      const loc = parseLowerClaimLocation(pv.metadata?.annotations?.[ANNOTATION_LOWER_CLAIM]);
      if (!loc) return { kind: 'waiting', message: `volume ${pv.metadata?.name} names no lower claim` };
      if (!this.lowerClaims.get(`${loc.namespace}/${loc.name}`))
        return { kind: 'waiting', message: `lower claim ${loc.namespace}/${loc.name} is not there yet` };
      lowerNames.set(claim, loc.name);
    }
    return { kind: 'ok', lowerNames };
  }

  private async sync(key: string): Promise<void> {
    const i = key.indexOf(':');
    const kind = key.slice(0, i);
    const rest = key.slice(i + 1);
    if (kind === 'claim') return this.syncClaim(rest);
    if (kind === 'pv') return this.syncVolume(rest);
    if (kind === 'lower') return this.syncLower(rest);
  }

  /** Provision for a claim the upper scheduler placed on our node; keep an existing lower claim there. */
  private async syncClaim(key: string): Promise<void> {
    const c = this.upperClaims.get(key);
    if (!c?.metadata?.uid || c.metadata.deletionTimestamp) return;
    const cls = this.upperClasses.get(c.spec?.storageClassName ?? '');
    if (!isFedletClass(cls)) return;
    const ns = c.metadata.namespace!;
    const pvName = volumeNameFor(c.metadata.uid);
    const mine = this.upperVolumes.get(pvName);
    if (!mine) {
      if (c.spec?.volumeName) return; // bound elsewhere (another node's volume, or pre-bound by an admin)
      if (c.metadata.annotations?.[ANNOTATION_SELECTED_NODE] !== this.o.nodeName) return;
    }
    const lowerNs = this.o.lowerNamespaceOf(ns);
    const lowerName = lowerClaimName(c.metadata.name!);
    const existing = this.lowerClaims.get(`${lowerNs}/${lowerName}`);
    if (existing && existing.metadata?.labels?.[LABEL_UPPER_UID] !== c.metadata.uid) {
      // A lower claim of an earlier upper claim with this name: it goes first (the sync of its PV removes it).
      this.queue.addAfter(`claim:${key}`, 1000);
      return;
    }
    if (!existing) {
      if (mine && mine.metadata?.annotations?.[ANNOTATION_LOWER_PHASE] === 'Bound') {
        // The data it held is gone; a silently fresh, empty claim would hide that.
        await this.warnClaim(
          c,
          'LowerClaimLost',
          `lower claim ${lowerNs}/${lowerName} in cluster ${this.o.clusterName} was deleted outside fedlet; its data is gone. Delete the claim to provision a new one`,
        );
        return;
      }
      const unsupported = unsupportedClaim(c);
      if (unsupported) {
        await this.warnClaim(c, 'ProvisioningFailed', unsupported, true);
        return;
      }
      const choice = this.choose(cls!.metadata!.name!);
      if ('reason' in choice) {
        await this.warnClaim(c, 'ProvisioningFailed', choice.reason, true);
        return;
      }
      try {
        await this.o.namespaces.write(lowerNs, ns, () =>
          this.o.lower.create(
            `/api/v1/namespaces/${lowerNs}/persistentvolumeclaims`,
            desiredLowerClaim(c, lowerNs, choice.lower, this.o.nodeName),
          ),
        );
        this.log.info({ claim: key, lowerNamespace: lowerNs, lowerClass: choice.lower }, 'created lower claim');
      } catch (e) {
        if (e instanceof LowerNamespaceRefusedError) {
          // Someone else's namespace: no claim is made there; looked at again later (a grant heals it).
          await this.warnClaim(c, e.reason, e.message, true);
          this.queue.addAfter(`claim:${key}`, 30_000);
          return;
        }
        if (!isAlreadyExists(e)) throw e;
      }
    }
    if (!mine) {
      try {
        await this.o.upper.create(
          '/api/v1/persistentvolumes',
          desiredUpperVolume(c, cls!, { nodeName: this.o.nodeName, cluster: this.o.clusterName, lowerNs }),
        );
        this.log.info({ claim: key, volume: pvName }, 'provisioned upper volume');
        void this.o.events.record(
          { kind: 'PersistentVolumeClaim', namespace: ns, name: c.metadata.name!, uid: c.metadata.uid },
          'Normal',
          'ProvisioningSucceeded',
          `provisioned volume ${pvName} on virtual node ${this.o.nodeName}: lower claim ${lowerNs}/${lowerName} in cluster ${this.o.clusterName}`,
        );
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
    }
    if (existing && mine?.spec?.claimRef?.uid === c.metadata.uid) await this.syncSize(c, existing);
  }

  /**
   * A bound claim: its growth goes to the lower claim when the lower class allows it (else it is refused
   * with a reason on the claim), and the lower claim's capacity and resize conditions come back up.
   */
  private async syncSize(c: ClaimObj, lower: ClaimObj): Promise<void> {
    const m = c.metadata!;
    const lowerKey = `${lower.metadata?.namespace}/${lower.metadata?.name}`;
    const action = expansionAction(c, lower, this.lowerClasses.get(lower.spec?.storageClassName ?? ''), this.o.clusterName);
    if (action.kind === 'expand') {
      await this.o.lower.patch(`/api/v1/namespaces/${lower.metadata!.namespace}/persistentvolumeclaims/${lower.metadata!.name}`, {
        spec: { resources: { requests: { storage: action.size } } },
      });
      this.log.info({ claim: `${m.namespace}/${m.name}`, lowerClaim: lowerKey, size: action.size }, 'expanding lower claim');
      void this.o.events.record(
        { kind: 'PersistentVolumeClaim', namespace: m.namespace!, name: m.name!, uid: m.uid },
        'Normal',
        'Resizing',
        `expanding lower claim ${lowerKey} in cluster ${this.o.clusterName} to ${action.size}`,
      );
      return; // its status change brings this claim back
    }
    const refusal = action.kind === 'refuse' ? action.message : undefined;
    if (refusal) await this.warnClaim(c, REASON_EXPANSION_REFUSED, refusal);
    const status = upperClaimStatus(c, lower, refusal, new Date().toISOString());
    if (!status) return;
    await this.o.upper.patch(`/api/v1/namespaces/${m.namespace}/persistentvolumeclaims/${m.name}/status`, { status });
    if (status.capacity)
      this.log.info(
        { claim: `${m.namespace}/${m.name}`, capacity: status.capacity.storage },
        'claim capacity follows the lower claim',
      );
  }

  /** Mirror the lower claim onto our PV; act on a released PV according to its reclaim policy. */
  private async syncVolume(name: string): Promise<void> {
    const pv = this.upperVolumes.get(name);
    if (!pv) return;
    const loc = parseLowerClaimLocation(pv.metadata?.annotations?.[ANNOTATION_LOWER_CLAIM]);
    if (!loc || loc.cluster !== this.o.clusterName) return;
    const lowerPath = `/api/v1/namespaces/${loc.namespace}/persistentvolumeclaims/${loc.name}`;
    const lower = this.lowerClaims.get(`${loc.namespace}/${loc.name}`);
    const ours = lower?.metadata?.annotations?.[ANNOTATION_UPPER_PV] === name ? lower : undefined;
    const action = releaseAction(pv);
    if (action === 'delete') {
      if (ours) {
        try {
          await this.o.lower.delete(lowerPath, {
            apiVersion: 'v1',
            kind: 'DeleteOptions',
            preconditions: { uid: ours.metadata?.uid },
          });
          this.log.info(
            { volume: name, lowerClaim: `${loc.namespace}/${loc.name}` },
            'deleted lower claim (reclaim policy Delete)',
          );
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
        return; // the PV goes once the lower claim is gone (its delete event queues this key again)
      }
      try {
        await this.o.upper.delete(`/api/v1/persistentvolumes/${name}`);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      return;
    }
    if (action === 'retain') {
      if (ours && ours.metadata?.annotations?.[ANNOTATION_RETAINED] !== 'true') {
        await this.o.lower.patch(lowerPath, { metadata: { annotations: { [ANNOTATION_RETAINED]: 'true' } } });
        this.log.info({ volume: name, lowerClaim: `${loc.namespace}/${loc.name}` }, 'kept lower claim (reclaim policy Retain)');
        void this.o.events.record(
          { kind: 'PersistentVolume', namespace: 'default', name, uid: pv.metadata?.uid },
          'Normal',
          'LowerClaimRetained',
          `reclaim policy Retain: lower claim ${loc.namespace}/${loc.name} is kept in cluster ${this.o.clusterName}`,
        );
      }
      return;
    }
    if (!ours) return;
    const lowerCap = ours.status?.capacity?.storage;
    if (ours.status?.phase === 'Bound' && storageGreater(lowerCap, pv.spec?.capacity?.storage)) {
      // The volume is as large as the lower claim turned out (grown, or provisioned larger than asked).
      await this.o.upper.patch(`/api/v1/persistentvolumes/${name}`, { spec: { capacity: { storage: lowerCap } } });
      this.log.info({ volume: name, capacity: lowerCap }, 'volume capacity follows the lower claim');
    }
    const phase = ours.status?.phase ?? 'Pending';
    const capacity = ours.status?.capacity?.storage ?? '';
    const a = pv.metadata?.annotations ?? {};
    if (a[ANNOTATION_LOWER_PHASE] === phase && (a[ANNOTATION_LOWER_CAPACITY] ?? '') === capacity) return;
    await this.o.upper.patch(`/api/v1/persistentvolumes/${name}`, {
      metadata: { annotations: { [ANNOTATION_LOWER_PHASE]: phase, [ANNOTATION_LOWER_CAPACITY]: capacity || null } },
    });
    const ref = pv.spec?.claimRef;
    if (phase === 'Bound' && ref?.namespace && ref.name)
      void this.o.events.record(
        { kind: 'PersistentVolumeClaim', namespace: ref.namespace, name: ref.name, uid: ref.uid },
        'Normal',
        'LowerClaimBound',
        `lower claim ${loc.namespace}/${loc.name} in cluster ${this.o.clusterName} is Bound (${capacity || 'capacity unknown'})`,
      );
  }

  /** A lower claim of ours with neither its upper PV nor its upper claim left is an orphan (unless retained). */
  private async syncLower(key: string): Promise<void> {
    const c = this.lowerClaims.get(key);
    if (!c || c.metadata?.deletionTimestamp || c.metadata?.annotations?.[ANNOTATION_RETAINED] === 'true') return;
    const pv = c.metadata?.annotations?.[ANNOTATION_UPPER_PV];
    if (pv && this.upperVolumes.get(pv)) return;
    const upperNs = c.metadata?.annotations?.[LABEL_UPPER_NAMESPACE];
    const uid = c.metadata?.labels?.[LABEL_UPPER_UID];
    const upper = this.upperClaims.list().find((u) => u.metadata?.uid === uid && u.metadata?.namespace === upperNs);
    if (upper && !upper.metadata?.deletionTimestamp) return;
    try {
      await this.o.lower.delete(`/api/v1/namespaces/${c.metadata!.namespace}/persistentvolumeclaims/${c.metadata!.name}`, {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        preconditions: { uid: c.metadata?.uid },
      });
      this.log.info({ lowerClaim: key }, 'deleted orphaned lower claim');
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** Warning on the claim and, when asked, on the pending pods that use it (the reason must reach them). */
  private async warnClaim(c: ClaimObj, reason: string, message: string, pods = false): Promise<void> {
    const m = c.metadata!;
    void this.o.events.record(
      { kind: 'PersistentVolumeClaim', namespace: m.namespace!, name: m.name!, uid: m.uid },
      'Warning',
      reason,
      message,
    );
    this.log.warn({ claim: `${m.namespace}/${m.name}`, reason }, message);
    if (!pods) return;
    const list = await this.o.upper.get<{ items: Pod[] }>(`/api/v1/namespaces/${m.namespace}/pods`, {
      query: { fieldSelector: 'spec.nodeName=' },
    });
    for (const p of list.items ?? [])
      if (podClaims(p).some((x) => x.claim === m.name))
        void this.o.events.record(
          { kind: 'Pod', namespace: m.namespace!, name: p.metadata.name!, uid: p.metadata.uid },
          'Warning',
          reason,
          `claim ${m.name}: ${message}`,
        );
  }
}
