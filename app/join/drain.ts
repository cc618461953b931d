// The first half of `fedlet leave`: cordon the virtual node(s) and let the workloads go, the way
// `kubectl drain` does — evictions (which respect PodDisruptionBudgets: a refused eviction is retried),
// DaemonSet pods left alone, a bounded wait — and, with --force, deletion of what is still there after it.
import { KubeApiError, type KubeClient, isNotFound } from '../../src/kube/client.js';
import type { Node, Pod } from '../../src/kube/types.js';
import { LABEL_CLUSTER, LABEL_TYPE, TYPE_VIRTUAL_KUBELET } from '../../src/labels.js';
import { JoinError } from './helm.js';

/** The virtual node and its pool nodes (<node>-<pool>) of this cluster that exist now. */
export async function nodesOf(upper: KubeClient, node: string, cluster: string): Promise<string[]> {
  const list = await upper.get<{ items: Node[] }>('/api/v1/nodes', {
    query: { labelSelector: `${LABEL_TYPE}=${TYPE_VIRTUAL_KUBELET},${LABEL_CLUSTER}=${cluster}` },
  });
  return list.items.map((n) => n.metadata.name).filter((n) => n === node || n.startsWith(`${node}-`));
}

export async function cordon(upper: KubeClient, nodes: string[]): Promise<string> {
  for (const n of nodes) await upper.patch(`/api/v1/nodes/${encodeURIComponent(n)}`, { spec: { unschedulable: true } });
  return nodes.length ? `cordoned ${nodes.join(', ')}` : 'no such virtual node: nothing to cordon';
}

/** Pods bound to the nodes, as namespace/name. */
export async function podsOn(upper: KubeClient, nodes: string[]): Promise<Pod[]> {
  const out: Pod[] = [];
  for (const n of nodes)
    out.push(...(await upper.get<{ items: Pod[] }>('/api/v1/pods', { query: { fieldSelector: `spec.nodeName=${n}` } })).items);
  return out;
}

const isDaemonSetPod = (p: Pod) => (p.metadata.ownerReferences ?? []).some((o) => o.kind === 'DaemonSet' && o.controller);
const key = (p: Pod) => `${p.metadata.namespace}/${p.metadata.name}`;
const podPath = (p: Pod) =>
  `/api/v1/namespaces/${encodeURIComponent(p.metadata.namespace!)}/pods/${encodeURIComponent(p.metadata.name!)}`;

async function evict(upper: KubeClient, p: Pod): Promise<string | undefined> {
  try {
    await upper.create(`${podPath(p)}/eviction`, {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: p.metadata.name, namespace: p.metadata.namespace },
    });
    return undefined;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    // 429: a disruption budget refuses it for now; retried on the next round.
    if (e instanceof KubeApiError) return `${key(p)}: ${e.message}`;
    throw e;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Evicts every pod on the nodes except DaemonSet pods until none is left or the timeout passes; then,
 * with force, deletes the rest and waits for them to go (fedlet, still running, removes them below).
 */
export async function drain(
  upper: KubeClient,
  nodes: string[],
  o: { timeoutMs: number; force: boolean; progress: (m: string) => void },
): Promise<string> {
  const deadline = Date.now() + o.timeoutMs;
  let refused: string[] = [];
  let evicted = 0;
  for (;;) {
    const left = (await podsOn(upper, nodes)).filter((p) => !isDaemonSetPod(p));
    if (!left.length) return `${evicted} pod(s) evicted, none left (DaemonSet pods stay until the node goes)`;
    if (Date.now() >= deadline) break;
    refused = [];
    for (const p of left.filter((x) => !x.metadata.deletionTimestamp)) {
      const why = await evict(upper, p);
      if (why) refused.push(why);
      else evicted++;
    }
    await sleep(2000);
  }
  const left = (await podsOn(upper, nodes)).filter((p) => !isDaemonSetPod(p));
  const names = left.map(key).join(', ');
  if (!o.force)
    throw new JoinError(
      `${left.length} pod(s) still on ${nodes.join(', ')} after ${o.timeoutMs / 1000}s: ${names}${refused.length ? ` (last refusals: ${refused.slice(0, 3).join('; ')})` : ''}. The node stays cordoned and nothing was removed: move them yourself, give a longer --timeout, or add --force to delete them`,
    );
  o.progress(`deleting ${left.length} pod(s) still there (--force): ${names}\n`);
  for (const p of left) await upper.delete(podPath(p)).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
  const until = Date.now() + 120_000;
  while (Date.now() < until) {
    if (!(await podsOn(upper, nodes)).some((p) => !isDaemonSetPod(p)))
      return `${evicted} evicted, ${left.length} deleted (--force)`;
    await sleep(2000);
  }
  throw new JoinError(
    `pods deleted with --force are still on ${nodes.join(', ')} after 120s: is fedlet running? (kubectl get pods -o wide)`,
  );
}
