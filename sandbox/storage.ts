// Storage for sandbox clusters. Lower clusters get a default StorageClass `local` (no provisioner,
// WaitForFirstConsumer) and a few pre-created local PersistentVolumes per kwok node, so claims bind
// through the real lower kube-scheduler and PV controller. The upper cluster gets fedlet's own class
// from manifests/storage.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { findBinary } from './binaries.js';
import { adminRequest, type ClusterState, type KwokNodeSpec } from './cluster.js';

export const SANDBOX_LOWER_CLASS = 'local';
export const SANDBOX_PVS_PER_NODE = 4;
export const SANDBOX_PV_SIZE = '10Gi';

async function createIgnoringConflict(state: ClusterState, urlPath: string, body: unknown): Promise<void> {
  const r = await adminRequest(state, 'POST', urlPath, body);
  if (r.status !== 201 && r.status !== 409) throw new Error(`creating ${urlPath} in ${state.name}: ${r.status} ${r.body}`);
}

export function localStorageClass(): unknown {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: SANDBOX_LOWER_CLASS, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    provisioner: 'kubernetes.io/no-provisioner',
    volumeBindingMode: 'WaitForFirstConsumer',
    reclaimPolicy: 'Delete',
  };
}

/** A local PV on one kwok node; the path is never touched (kwok runs no containers). */
export function localPersistentVolume(node: string, i: number): unknown {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: `local-${node}-${i}`, labels: { 'sandbox.fedlet.io/node': node } },
    spec: {
      capacity: { storage: SANDBOX_PV_SIZE },
      accessModes: ['ReadWriteOnce'],
      volumeMode: 'Filesystem',
      // Retain: a released sandbox PV is not reused, as with real local disks; tests see a clean pool.
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: SANDBOX_LOWER_CLASS,
      local: { path: path.posix.join('/mnt/fedlet-sandbox', `pv-${i}`) },
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }],
        },
      },
    },
  };
}

/** Default class `local` plus SANDBOX_PVS_PER_NODE local PVs for every kwok node of a lower cluster. */
export async function provisionLowerStorage(state: ClusterState, nodes: KwokNodeSpec[]): Promise<void> {
  await createIgnoringConflict(state, '/apis/storage.k8s.io/v1/storageclasses', localStorageClass());
  for (const n of nodes)
    for (let i = 0; i < SANDBOX_PVS_PER_NODE; i++)
      await createIgnoringConflict(state, '/api/v1/persistentvolumes', localPersistentVolume(n.name, i));
}

/** fedlet's upper StorageClass, as shipped in manifests/storage. */
export function applyUpperStorageClass(adminKubeconfig: string, repoRoot: string): void {
  execFileSync(
    findBinary('kubectl'),
    ['--kubeconfig', adminKubeconfig, 'apply', '-k', path.join(repoRoot, 'manifests', 'storage')],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}
