// The sandbox's storage provisioner for lower clusters: claims of its class (the lower clusters' default,
// `local`, WaitForFirstConsumer) get a local PersistentVolume on the node the lower kube-scheduler
// selected, backed by a directory of its own under the cluster's volumes directory. A real kubelet
// bind-mounts that directory into the pod; kwok nodes never look at it. It also resizes (volumes are
// plain directories: growing is bookkeeping, up to a limit) and deletes released volumes with their
// directories. Level triggered: every claim or volume change queues a key; sync(key) compares and acts.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { isAlreadyExists, isNotFound, type KubeApi } from '../src/kube/client.js';
import { Informer } from '../src/kube/informer.js';
import type { ClaimObj as Claim, StorageClassObj as StorageClass, VolumeObj as Volume } from '../src/kube/types.js';
import { WorkQueue } from '../src/kube/work-queue.js';
import { parseQuantity } from '../src/util/quantity.js';

export const LOCAL_PATH_PROVISIONER = 'sandbox.fedlet.io/local-path';
/** Growth beyond this is refused (VolumeResizeFailed): lets tests see a lower refusal reach the upper claim. */
export const LOCAL_PATH_MAX_SIZE = '100Gi';
const SELECTED_NODE = 'volume.kubernetes.io/selected-node';
const PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by';
const GI = 1024n * 1024n * 1024n * 1000n; // in milli-units, as parseQuantity returns

/** Sizes are whole GiB, as many real provisioners round: the result can differ from the request. */
export function roundUpGi(q: string): string {
  const milli = parseQuantity(q);
  return `${(milli + GI - 1n) / GI}Gi`;
}

export function volumeNameFor(claimUid: string): string {
  return `pvc-${claimUid}`;
}

/** The PV for a claim the scheduler placed on `node`. Pure. */
export function desiredVolume(
  c: Claim,
  cls: StorageClass,
  node: string,
  volumesDir: string,
): Volume & { apiVersion: string; kind: string } {
  const name = volumeNameFor(c.metadata!.uid!);
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, annotations: { [PROVISIONED_BY]: LOCAL_PATH_PROVISIONER } },
    spec: {
      capacity: { storage: roundUpGi(c.spec?.resources?.requests?.storage ?? '1Gi') },
      accessModes: c.spec?.accessModes ?? ['ReadWriteOnce'],
      volumeMode: c.spec?.volumeMode ?? 'Filesystem',
      claimRef: {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        namespace: c.metadata!.namespace,
        name: c.metadata!.name,
        uid: c.metadata!.uid,
      },
      persistentVolumeReclaimPolicy: cls.reclaimPolicy ?? 'Delete',
      storageClassName: cls.metadata!.name,
      local: { path: path.join(volumesDir, name) },
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }],
        },
      },
    } as Volume['spec'],
  };
}

/** What a bound claim's request asks of its volume. Pure. */
export function resizeAction(
  c: Claim,
  v: Volume,
): { kind: 'none' } | { kind: 'grow'; size: string } | { kind: 'refuse'; message: string } {
  const want = c.spec?.resources?.requests?.storage;
  const has = v.spec?.capacity?.storage;
  if (!want || !has || parseQuantity(want) <= parseQuantity(has)) return { kind: 'none' };
  if (parseQuantity(want) > parseQuantity(LOCAL_PATH_MAX_SIZE))
    return { kind: 'refuse', message: `${want} exceeds the largest sandbox local-path volume (${LOCAL_PATH_MAX_SIZE})` };
  return { kind: 'grow', size: roundUpGi(want) };
}

export interface LocalPathOptions {
  client: KubeApi;
  /** Directory holding one subdirectory per volume; nodes of this cluster see the same filesystem. */
  volumesDir: string;
  log: Logger;
}

export class LocalPathProvisioner {
  private readonly classes: Informer<StorageClass>;
  private readonly claims: Informer<Claim>;
  private readonly volumes: Informer<Volume>;
  private readonly queue: WorkQueue;

  constructor(private readonly o: LocalPathOptions) {
    this.classes = new Informer<StorageClass>({ client: o.client, path: '/apis/storage.k8s.io/v1/storageclasses', log: o.log });
    this.claims = new Informer<Claim>({ client: o.client, path: '/api/v1/persistentvolumeclaims', log: o.log });
    this.volumes = new Informer<Volume>({ client: o.client, path: '/api/v1/persistentvolumes', log: o.log });
    this.queue = new WorkQueue({ concurrency: 2, maxSize: 100_000, handler: (k) => this.sync(k), log: o.log });
    const claimKey = (c: Claim) => this.queue.add(`claim:${c.metadata?.namespace}/${c.metadata?.name}`);
    this.claims.addHandlers({ onAdd: claimKey, onUpdate: claimKey, onDelete: claimKey });
    const volumeKey = (v: Volume) => {
      this.queue.add(`pv:${v.metadata?.name}`);
      const r = v.spec?.claimRef;
      if (r?.namespace && r.name) this.queue.add(`claim:${r.namespace}/${r.name}`);
    };
    this.volumes.addHandlers({ onAdd: volumeKey, onUpdate: volumeKey, onDelete: volumeKey });
  }

  async start(): Promise<void> {
    mkdirSync(this.o.volumesDir, { recursive: true });
    const all = [this.classes, this.claims, this.volumes];
    for (const i of all) i.start();
    await Promise.all(all.map((i) => i.waitForSync()));
    this.queue.start();
  }

  async stop(): Promise<void> {
    await this.queue.stop();
    await Promise.all([this.classes, this.claims, this.volumes].map((i) => i.stop()));
  }

  private ourClass(name: string | undefined): StorageClass | undefined {
    const c = this.classes.get(name ?? '');
    return c?.provisioner === LOCAL_PATH_PROVISIONER ? c : undefined;
  }

  private async sync(key: string): Promise<void> {
    if (key.startsWith('claim:')) return this.syncClaim(key.slice(6));
    if (key.startsWith('pv:')) return this.syncVolume(key.slice(3));
  }

  private async syncClaim(key: string): Promise<void> {
    const c = this.claims.get(key);
    if (!c?.metadata?.uid || c.metadata.deletionTimestamp) return;
    const cls = this.ourClass(c.spec?.storageClassName);
    if (!cls) return;
    const mine = this.volumes.get(volumeNameFor(c.metadata.uid));
    if (!mine) {
      const node = c.metadata.annotations?.[SELECTED_NODE];
      if (c.spec?.volumeName || !node) return;
      const pv = desiredVolume(c, cls, node, this.o.volumesDir);
      mkdirSync(pv.spec!.local!.path!, { recursive: true, mode: 0o777 });
      try {
        await this.o.client.create('/api/v1/persistentvolumes', pv);
        this.o.log.info({ claim: key, volume: pv.metadata!.name, node }, 'provisioned local volume');
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
      return;
    }
    if (c.spec?.volumeName !== mine.metadata?.name || c.status?.phase !== 'Bound') return;
    const action = resizeAction(c, mine);
    if (action.kind === 'refuse') {
      await this.event(c, 'Warning', 'VolumeResizeFailed', `resize volume ${mine.metadata!.name} failed: ${action.message}`);
      return;
    }
    if (action.kind === 'grow') {
      await this.o.client.patch(`/api/v1/persistentvolumes/${mine.metadata!.name}`, {
        spec: { capacity: { storage: action.size } },
      });
      this.o.log.info({ claim: key, size: action.size }, 'grew local volume');
    }
    // As external resizers do once the volume has grown: the claim's status shows the new capacity.
    const cap = action.kind === 'grow' ? action.size : mine.spec?.capacity?.storage;
    if (
      cap &&
      cap !== c.status?.capacity?.storage &&
      parseQuantity(cap) >= parseQuantity(c.spec?.resources?.requests?.storage ?? '0')
    )
      await this.o.client.patch(`/api/v1/namespaces/${c.metadata.namespace}/persistentvolumeclaims/${c.metadata.name}/status`, {
        status: { capacity: { storage: cap }, conditions: [] },
      });
  }

  /** A released volume of ours (reclaim policy Delete) goes, with its directory. */
  private async syncVolume(name: string): Promise<void> {
    const v = this.volumes.get(name);
    const ours = (x: Volume | undefined) => x?.metadata?.annotations?.[PROVISIONED_BY] === LOCAL_PATH_PROVISIONER;
    if (!v) {
      // Gone (deleted by us or by hand): its directory goes too, if it was one of ours.
      if (/^pvc-[0-9a-f-]+$/.test(name)) rmSync(path.join(this.o.volumesDir, name), { recursive: true, force: true });
      return;
    }
    if (!ours(v) || v.status?.phase !== 'Released' || v.spec?.persistentVolumeReclaimPolicy !== 'Delete') return;
    rmSync(path.join(this.o.volumesDir, name), { recursive: true, force: true });
    try {
      await this.o.client.delete(`/api/v1/persistentvolumes/${name}`);
      this.o.log.info({ volume: name }, 'deleted released local volume');
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  private async event(c: Claim, type: string, reason: string, message: string): Promise<void> {
    const now = new Date().toISOString();
    await this.o.client.create(`/api/v1/namespaces/${c.metadata!.namespace}/events`, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${c.metadata!.name}.`, namespace: c.metadata!.namespace },
      involvedObject: {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        namespace: c.metadata!.namespace,
        name: c.metadata!.name,
        uid: c.metadata!.uid,
      },
      type,
      reason,
      message,
      source: { component: 'sandbox-local-path' },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    });
  }
}
