// Lower namespaces fedlet created (label fedlet.io/origin=<node>, set only on creation) go away when no
// live upper pod of this node maps to them any more — the upper namespace was deleted or emptied — and
// nothing is left in them: no pod and no claim of anyone. Namespaces fedlet did not create are never touched.
// An unneeded namespace is kept for a grace period first: pods often come back soon (a rollout, a scale
// from zero, the next burst), and a namespace deleted meanwhile refuses them while it terminates.
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

export interface NamespaceCollectorOptions extends NamespaceGcOptions {
  /** How long a namespace stays after no pod needs it (0: removed at once). */
  graceMs: number;
  now?: () => number;
}

/**
 * Collects unneeded lower namespaces after a grace period. When each one was first seen unneeded is kept
 * in memory only: after a restart its grace starts again, so a namespace is never removed earlier than
 * the grace after its last use. The record holds only namespaces that are candidates now.
 */
export class NamespaceCollector {
  private readonly idleSince = new Map<string, number>();

  constructor(private readonly o: NamespaceCollectorOptions) {}

  /** Removes what has been unneeded for the grace period; says when to look again for the rest. */
  async collect(wanted: Set<string>): Promise<{ deleted: string[]; againAfterMs?: number }> {
    const now = (this.o.now ?? Date.now)();
    const owned = await listOwned(this.o);
    const candidates = namespaceCandidates(owned, wanted);
    for (const name of this.idleSince.keys()) if (!candidates.includes(name)) this.idleSince.delete(name);
    const due: string[] = [];
    let again: number | undefined;
    for (const name of candidates) {
      const since = this.idleSince.get(name) ?? now;
      this.idleSince.set(name, since);
      const left = since + this.o.graceMs - now;
      if (left <= 0) due.push(name);
      else again = Math.min(again ?? left, left);
    }
    const deleted = await deleteUnused(this.o, owned, due);
    // Deleted, or still in use (a pod terminating, someone else's pod or claim): its grace starts again
    // when it is next seen unneeded (the pod's deletion runs the collection again).
    for (const name of due) this.idleSince.delete(name);
    return { deleted, ...(again !== undefined ? { againAfterMs: again } : {}) };
  }
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
  const owned = await listOwned(o);
  return deleteUnused(o, owned, namespaceCandidates(owned, wanted));
}

async function listOwned(o: NamespaceGcOptions): Promise<KubeObject[]> {
  const list = await o.lower.get<{ items: KubeObject[] }>('/api/v1/namespaces', {
    query: { labelSelector: `${LABEL_ORIGIN}=${o.nodeName}` },
    headers: METADATA_ONLY_LIST,
  });
  return list.items ?? [];
}

/** Deletes each named namespace that holds no pod and no claim; returns the names deleted. */
async function deleteUnused(o: NamespaceGcOptions, owned: KubeObject[], names: string[]): Promise<string[]> {
  const deleted: string[] = [];
  for (const name of names) {
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
    const uid = owned.find((n) => n.metadata?.name === name)?.metadata?.uid;
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
