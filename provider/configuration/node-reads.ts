// Reads of the upper objects a pod names (its ConfigMaps, Secrets, the namespace's root CA), made as
// the virtual node the pod is bound to, as a kubelet makes them: the Node authorizer allows exactly the
// objects pods on that node reference, and fedlet's own account needs no right on ConfigMaps or Secrets.
// Right after a pod is bound, the authorizer's graph may not know the pod yet: a refusal then is retried
// a few times before it counts.
import { KubeApiError, type KubeApi } from '../../src/kube/client.js';

/** The client that reads what pods on `node` name (default: fedlet's own upper client). */
export type UpperReader = (node: string) => KubeApi;

/** Attempts while the Node authorizer may not have seen the pod's binding yet. */
const NODE_GRAPH_ATTEMPTS = 5;

/** GETs `path` with `client`, retrying 403 answers a few times (the node graph catching up). */
export async function getAsNode<T>(client: KubeApi, path: string, delayMs = 200): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.get<T>(path);
    } catch (e) {
      if (attempt >= NODE_GRAPH_ATTEMPTS || !(e instanceof KubeApiError) || e.code !== 403) throw e;
      await new Promise((r) => setTimeout(r, delayMs * attempt));
    }
  }
}
