// Pods in the e2e clusters, typed with the product's own Pod: as the API server returns them (name,
// namespace and uid always set), read through kubectl, and whether they are Ready.
import type { ObjectMeta, Pod } from '../../../src/kube/types.js';
import { kubectlJson } from './kubectl.js';

/** A pod as the API server returns it. */
export type ApiPod = Pod & { metadata: ObjectMeta & { name: string; namespace: string; uid: string } };

export function getPod(kubeconfig: string, namespace: string, name: string): Promise<ApiPod> {
  return kubectlJson<ApiPod>(kubeconfig, ['get', 'pod', name, '-n', namespace]);
}

/** Running with condition Ready=True, as `kubectl get` shows READY n/n. */
export function isReady(p: Pod): boolean {
  return p.status?.phase === 'Running' && !!p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
}
