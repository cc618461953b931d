// Lower namespaces fedlet created (label fedlet.io/origin=<node>, set only on creation) go away when no
// live upper pod of this node maps to them any more — the upper namespace was deleted or emptied — and
// nothing is left in them: no pod and no claim of anyone. Namespaces fedlet did not create are never touched.
import type { Logger } from 'pino';
import { isNotFound, type KubeClient } from '../../src/kube/client.js';
import { METADATA_ONLY_LIST } from '../../src/kube/informer.js';
import type { KubeObject } from '../../src/kube/types.js';
import { LABEL_ORIGIN } from '../../src/labels.js';

export interface NamespaceGcOptions {
  lower: KubeClient;
  nodeName: string;
  log: Logger;
}

/** The namespaces to delete: ours, not terminating, not wanted by a live pod. Pure. */
export function namespaceCandidates(owned: KubeObject[], wanted: Set<string>): string[] {
  return owned
    .filter((n) => n.metadata?.name && !n.metadata.deletionTimestamp && !wanted.has(n.metadata.name))
    .map((n) => n.metadata!.name!);
}

/**
 * Deletes lower namespaces this fedlet created that `wanted` (the lower namespaces of the live upper
 * pods on the node) does not contain and that hold no pod and no claim at all. Returns the names deleted.
 */
export async function collectNamespaces(o: NamespaceGcOptions, wanted: Set<string>): Promise<string[]> {
  const list = await o.lower.get<{ items: KubeObject[] }>('/api/v1/namespaces', {
    query: { labelSelector: `${LABEL_ORIGIN}=${o.nodeName}` },
    headers: METADATA_ONLY_LIST,
  });
  const deleted: string[] = [];
  for (const name of namespaceCandidates(list.items ?? [], wanted)) {
    // Any pod (ours still terminating, or someone else's) or any claim (a StatefulSet scaled to zero
    // keeps its data there): the namespace is in use; look again later.
    let inUse = false;
    for (const kind of ['pods', 'persistentvolumeclaims']) {
      const l = await o.lower.get<{ items: unknown[] }>(`/api/v1/namespaces/${name}/${kind}`, {
        query: { limit: 1 },
        headers: METADATA_ONLY_LIST,
      });
      if (l.items?.length) inUse = true;
      if (inUse) break;
    }
    if (inUse) continue;
    const uid = list.items.find((n) => n.metadata?.name === name)?.metadata?.uid;
    try {
      await o.lower.delete(`/api/v1/namespaces/${name}`, {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        ...(uid ? { preconditions: { uid } } : {}),
      });
      deleted.push(name);
      o.log.info({ namespace: name }, 'deleted lower namespace no pod needs any more');
    } catch (e) {
      if (!isNotFound(e) && !/Precondition failed/i.test((e as Error).message)) throw e;
    }
  }
  return deleted;
}
