// Checks of a virtual node read from the upper API server alone (pure decisions over the objects): its
// Ready condition, its heartbeat Lease, and the scheduling summary the extender places pods by.
import type { DataObject, Lease, Node } from '../../src/kube/types.js';
import { LABEL_CLUSTER } from '../../src/labels.js';
import { parseSummary, SUMMARY_DATA_KEY } from '../../src/scheduling/summary.js';
import { failed, ok, type Check } from './report.js';

/** How the output names the fedlet behind a node. */
export function fedletName(node: Node): string {
  const cluster = node.metadata.labels?.[LABEL_CLUSTER];
  return cluster ? `the fedlet of lower cluster ${cluster}` : `the fedlet serving ${node.metadata.name}`;
}

export function nodeReadyCheck(node: Node): Check {
  const name = node.metadata.name;
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'True') return ok(name, 'node-ready', `Ready (${ready.reason ?? 'no reason'})`);
  const why = ready
    ? `Ready=${ready.status}${ready.reason ? ` (${ready.reason})` : ''}: ${ready.message ?? ''}`.trim()
    : 'no Ready condition';
  if (ready?.reason === 'LowerClusterUnreachable')
    return failed(
      name,
      'node-ready',
      why,
      `${fedletName(node)} cannot reach its lower API server: check the lower cluster and the lower kubeconfig fedlet uses`,
    );
  return failed(
    name,
    'node-ready',
    why,
    `${fedletName(node)} is not reporting: check that it runs and leads (its pods' logs, the leader Lease ${name}-leader) and that it reaches the upper API server`,
  );
}

/** The node Lease is fresh while renewTime + leaseDurationSeconds lies ahead (as the extender judges it). */
export function leaseFresh(lease: Lease | undefined, now: number): boolean {
  const renew = lease?.spec?.renewTime ? Date.parse(lease.spec.renewTime) : NaN;
  const duration = lease?.spec?.leaseDurationSeconds ?? 40;
  return Number.isFinite(renew) && renew + duration * 1000 > now;
}

export function leaseCheck(node: Node, lease: Lease | undefined, now: number): Check {
  const name = node.metadata.name;
  const fix = `${fedletName(node)} stopped renewing its heartbeat: check that it runs, is the leader and reaches the upper API server`;
  if (!lease) return failed(name, 'lease-fresh', `no Lease kube-node-lease/${name}`, fix);
  const renew = lease.spec?.renewTime ? Date.parse(lease.spec.renewTime) : NaN;
  if (!Number.isFinite(renew)) return failed(name, 'lease-fresh', 'the Lease was never renewed', fix);
  const age = Math.round((now - renew) / 1000);
  const duration = lease.spec?.leaseDurationSeconds ?? 40;
  return leaseFresh(lease, now)
    ? ok(name, 'lease-fresh', `renewed ${Math.max(0, age)}s ago (duration ${duration}s)`)
    : failed(name, 'lease-fresh', `last renewed ${age}s ago, past its ${duration}s duration`, fix);
}

/**
 * The extender places pods by each node's published summary, and trusts it only while the node's Lease
 * is fresh: a missing, unreadable or untrusted summary means the extender passes the node blindly.
 */
export function summaryCheck(node: Node, cm: DataObject | undefined, namespace: string, fresh: boolean): Check {
  const name = node.metadata.name;
  const where = `ConfigMap ${namespace}/fedlet-summary-${name}`;
  if (!cm)
    return failed(
      name,
      'extender-summary',
      `no ${where}`,
      `${fedletName(node)} publishes it as leader (publishSummary, summaryNamespace ${namespace}): check its logs for Forbidden and that fedlet and the extender use the same namespace`,
    );
  const body = cm.data?.[SUMMARY_DATA_KEY];
  let nodes: number;
  try {
    const s = parseSummary(body ?? '');
    if (s.node !== name)
      return failed(
        name,
        'extender-summary',
        `${where} describes node ${s.node}`,
        'two fedlets publish under one node name: give each its own nodeName',
      );
    nodes = s.nodes.reduce((n, r) => n + r[3], 0);
  } catch (e) {
    return failed(
      name,
      'extender-summary',
      `${where} is unreadable: ${(e as Error).message}`,
      'fedlet and the extender run different versions: upgrade them together',
    );
  }
  if (!fresh)
    return failed(
      name,
      'extender-summary',
      `${where} is there, but the extender ignores it while the node Lease is stale`,
      'see lease-fresh',
    );
  return ok(name, 'extender-summary', `${where}: ${nodes} schedulable lower node(s), trusted by the extender (Lease fresh)`);
}
