// The `top` check of `fedlet doctor`: what `kubectl top` shows for a virtual node comes from fedlet's
// kubelet API (/stats/summary, /metrics/resource) through metrics-server. The summary is read the way
// the API server serves it (its node proxy), with the probe pod in it; where the upper cluster serves
// metrics.k8s.io, the node's metrics there are checked too, else the check says it stopped at the summary.
import { isNotFound, KubeApiError, type KubeClient } from '../../src/kube/client.js';
import type { Node } from '../../src/kube/types.js';
import { displayQuantity } from '../../src/util/quantity.js';
import type { Summary } from '../../provider/node/stats.js';
import { fedletName } from './node-checks.js';
import { failed, ok, skipped, type Check } from './report.js';

/** What fedlet serves (its own type): a summary may lack parts, so every field is read as optional. */
type StatsSummary = Partial<Summary>;
type UsageOf = NonNullable<Summary['node']['cpu']>;
interface NodeMetrics {
  usage?: { cpu?: string; memory?: string };
}

/** metrics-server scrapes every 15–60 s: a node Ready for less than this may not have metrics yet. */
const SCRAPE_GRACE_MS = 120_000;

const cores = (u?: UsageOf) => (u?.usageNanoCores !== undefined ? `${Math.round(u.usageNanoCores / 1e6)}m CPU` : 'no CPU');
const mem = (u?: UsageOf) =>
  u?.workingSetBytes !== undefined ? `${Math.round(u.workingSetBytes / 2 ** 20)}Mi memory` : 'no memory';

/** Whether the upper API server serves metrics.k8s.io (a registered metrics-server), from discovery. */
async function metricsApi(upper: KubeClient): Promise<'served' | 'absent' | string> {
  try {
    await upper.get('/apis/metrics.k8s.io/v1beta1', { timeoutMs: 10_000 });
    return 'served';
  } catch (e) {
    if (isNotFound(e)) return 'absent';
    return (e as Error).message;
  }
}

async function metricsPart(
  upper: KubeClient,
  node: Node,
  now: number,
  /** The summary reports no CPU used (an idle node over simulated lower nodes). */
  idle: boolean,
): Promise<{ failure?: string; note: string }> {
  const name = node.metadata.name;
  const api = await metricsApi(upper);
  if (api === 'absent')
    return { note: 'the upper cluster serves no metrics.k8s.io (no metrics-server): checked the summary only' };
  if (api !== 'served') return { failure: `metrics.k8s.io is registered but does not answer: ${api}`, note: '' };
  try {
    const m = await upper.get<NodeMetrics>(`/apis/metrics.k8s.io/v1beta1/nodes/${encodeURIComponent(name)}`, {
      timeoutMs: 10_000,
    });
    return {
      note: `kubectl top node: ${displayQuantity('cpu', m.usage?.cpu)} CPU, ${displayQuantity('memory', m.usage?.memory)} memory`,
    };
  } catch (e) {
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime;
    const readyFor = ready ? now - Date.parse(ready) : Infinity;
    if (isNotFound(e) && readyFor < SCRAPE_GRACE_MS)
      return { note: `metrics-server has no metrics of ${name} yet (Ready for ${Math.round(readyFor / 1000)} s)` };
    // metrics-server keeps no node whose CPU did not move between scrapes: nothing to show is not a broken
    // path (a node over real lower nodes always uses some CPU).
    if (isNotFound(e) && idle)
      return { note: `metrics-server keeps no metrics of ${name}: the node reports no CPU used (nothing to rate)` };
    if (e instanceof KubeApiError && e.code === 403) return { note: 'may not read metrics.k8s.io: checked the summary only' };
    return { failure: `kubectl top node ${name} would fail: ${(e as Error).message}`, note: '' };
  }
}

export async function topCheck(upper: KubeClient, node: Node, pod: { name: string; namespace: string }): Promise<Check> {
  const name = node.metadata.name;
  let summary: StatsSummary;
  try {
    summary = await upper.get<StatsSummary>(`/api/v1/nodes/${encodeURIComponent(name)}/proxy/stats/summary`, {
      timeoutMs: 15_000,
    });
  } catch (e) {
    return failed(
      name,
      'top',
      `/stats/summary through the upper API server failed: ${(e as Error).message}`,
      `${fedletName(node)} reads each lower node's summary or resource metrics through the lower API server's node proxy: check the lower RBAC (nodes/proxy) and its logs`,
    );
  }
  const listed = (summary.pods ?? []).some((p) => p.podRef.name === pod.name && p.podRef.namespace === pod.namespace);
  const nodeStats = `node ${cores(summary.node?.cpu)}, ${mem(summary.node?.memory)}; probe pod ${listed ? 'listed' : 'not listed yet'}`;
  // No CPU used (below the 1m kubectl top prints): metrics-server rates CPU between two scrapes and keeps
  // no node metric without a rate, whatever the memory (an idle node over simulated lower nodes).
  const idle = (summary.node?.cpu?.usageNanoCores ?? Infinity) < 1e6;
  const { failure, note } = await metricsPart(upper, node, Date.now(), idle);
  if (failure)
    return failed(
      name,
      'top',
      `${failure} (/stats/summary works: ${nodeStats})`,
      "metrics-server must reach fedlet's kubelet port at the node's InternalIP, trust its serving certificate and hold nodes/metrics (docs/troubleshooting.md)",
    );
  if (summary.node?.cpu?.usageNanoCores === undefined && summary.node?.memory?.workingSetBytes === undefined)
    return skipped(
      name,
      'top',
      `/stats/summary answers without node usage (${nodeStats}); ${note}`,
      "the lower nodes offer neither /stats/summary nor resource metrics (see fedlet's log): kubectl top shows nothing for this node",
    );
  return ok(name, 'top', `/stats/summary through the upper API server: ${nodeStats}; ${note}`);
}
