// Storage for sandbox clusters. Lower clusters get a default StorageClass `local` (WaitForFirstConsumer,
// expandable) served by the sandbox's own local-path provisioner (sandbox/local-path.ts, one process per
// lower cluster, stopped with it): claims bind through the real lower kube-scheduler and PV controller to
// node-pinned local volumes whose directories a real kubelet mounts. The upper cluster gets fedlet's own
// class from manifests/storage.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { findBinary } from './binaries.js';
import { adminRequest, type ClusterState } from './cluster.js';
import { LOCAL_PATH_PROVISIONER } from './local-path.js';
import { startProcess } from './processes.js';

export const SANDBOX_LOWER_CLASS = 'local';
export const LOCAL_PATH_PROCESS = 'local-path-provisioner';

export function localStorageClass(): unknown {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: SANDBOX_LOWER_CLASS, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    provisioner: LOCAL_PATH_PROVISIONER,
    volumeBindingMode: 'WaitForFirstConsumer',
    reclaimPolicy: 'Delete',
    allowVolumeExpansion: true,
  };
}

/** Where a lower cluster's volumes live (one directory per volume, removed with it and on teardown). */
export function volumesDir(state: ClusterState): string {
  return path.join(state.dir, 'volumes');
}

/**
 * The default class `local` and its provisioner process (recorded among the cluster's processes, so it
 * stops with the cluster). `script` is the built dist/sandbox/local-path-cli.js.
 */
export async function provisionLowerStorage(state: ClusterState, script: string): Promise<void> {
  if (!existsSync(script)) throw new Error(`${script} is missing: run 'npm run build' first`);
  const r = await adminRequest(state, 'POST', '/apis/storage.k8s.io/v1/storageclasses', localStorageClass());
  if (r.status !== 201 && r.status !== 409)
    throw new Error(`creating storage class local in ${state.name}: ${r.status} ${r.body}`);
  state.processes.push(
    startProcess(
      LOCAL_PATH_PROCESS,
      process.execPath,
      [script, '--kubeconfig', state.kubeconfig, '--volumes-dir', volumesDir(state)],
      path.join(state.dir, 'local-path-provisioner.log'),
    ),
  );
}

/** After the cluster and its nodes stopped: no volume directory outlives the sandbox. */
export function removeVolumes(state: ClusterState): void {
  rmSync(volumesDir(state), { recursive: true, force: true });
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
