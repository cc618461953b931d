// Finds the control-plane binaries built by sandbox/build-binaries.sh. Lookup order per binary:
// TEST_ASSET_<NAME> (envtest convention), $FEDLET_BIN_DIR, $KUBEBUILDER_ASSETS, the default cache dir.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

export const K8S_VERSION = process.env.K8S_VERSION ?? 'v1.36.3';
export const ETCD_VERSION = process.env.ETCD_VERSION ?? 'v3.6.8';
export const KWOK_VERSION = process.env.KWOK_VERSION ?? 'v0.8.0';

export type BinaryName =
  | 'etcd'
  | 'kube-apiserver'
  | 'kube-controller-manager'
  | 'kube-scheduler'
  | 'kubectl'
  | 'kwok'
  | 'metrics-server'
  | 'kubelet-front'
  | 'helm'
  | 'kubelet'
  | 'kube-proxy'
  | 'coredns';

export function defaultBinDir(): string {
  const cache = process.env.FEDLET_CACHE_DIR ?? path.join(homedir(), '.cache', 'fedlet');
  return path.join(cache, 'bin', `k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}-kwok-${KWOK_VERSION}`);
}

export function findBinary(name: BinaryName): string {
  const envName = `TEST_ASSET_${name.toUpperCase().replace(/-/g, '_')}`;
  const candidates = [
    process.env[envName],
    process.env.FEDLET_BIN_DIR && path.join(process.env.FEDLET_BIN_DIR, name),
    process.env.KUBEBUILDER_ASSETS && path.join(process.env.KUBEBUILDER_ASSETS, name),
    path.join(defaultBinDir(), name),
  ].filter((c): c is string => !!c);
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(`binary ${name} not found (looked in ${candidates.join(', ')}); run 'npm run setup' to build it`);
}

/** A binary only some sandbox features need (real nodes: kube-proxy, coredns): its path, or undefined. */
export function findOptionalBinary(name: BinaryName): string | undefined {
  try {
    return findBinary(name);
  } catch {
    return undefined;
  }
}

/** Where sandbox/images/build-images.sh leaves the real nodes' image tars. */
export function imagesDir(): string {
  const cache = process.env.FEDLET_CACHE_DIR ?? path.join(homedir(), '.cache', 'fedlet');
  return process.env.FEDLET_IMAGES_DIR ?? path.join(cache, 'images');
}
