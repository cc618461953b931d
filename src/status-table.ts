// `fedlet status`: one line per virtual node in the upper cluster — its lower cluster, node pool, health,
// offered capacity and pods — read from the upper API server only. Quantities read as kubectl would print
// them (memory "64Gi", not the byte count the Node carries).
import type { KubeApi } from './kube/client.js';
import type { Node, Pod } from './kube/types.js';
import { displayQuantity } from './util/quantity.js';
import { LABEL_CLUSTER, LABEL_POOL, LABEL_TYPE, TYPE_VIRTUAL_KUBELET } from './labels.js';

type PodPhaseOnly = Pick<Pod, 'status'>;

export async function statusTable(upper: Pick<KubeApi, 'get'>): Promise<string> {
  const nodes = (
    await upper.get<{ items: Node[] }>('/api/v1/nodes', { query: { labelSelector: `${LABEL_TYPE}=${TYPE_VIRTUAL_KUBELET}` } })
  ).items;
  const rows = [['NODE', 'CLUSTER', 'POOL', 'READY', 'REASON', 'CPU', 'MEMORY', 'PODS-FREE', 'PODS(RUNNING/TOTAL)']];
  for (const n of nodes) {
    const pods = (
      await upper.get<{ items: PodPhaseOnly[] }>('/api/v1/pods', { query: { fieldSelector: `spec.nodeName=${n.metadata.name}` } })
    ).items;
    const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
    const a = n.status?.allocatable ?? {};
    rows.push([
      n.metadata.name,
      n.metadata.labels?.[LABEL_CLUSTER] ?? '?',
      n.metadata.labels?.[LABEL_POOL] ?? '-',
      ready?.status ?? 'Unknown',
      ready?.reason ?? '',
      displayQuantity('cpu', a.cpu),
      displayQuantity('memory', a.memory),
      displayQuantity('pods', a.pods),
      `${pods.filter((p) => p.status?.phase === 'Running').length}/${pods.length}`,
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n${nodes.length ? '' : '(no virtual nodes: is fedlet running?)\n'}`;
}
