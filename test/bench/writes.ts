// API economy: who writes what for a pod. fedlet's own writes come from its counter
// (fedlet_api_writes_total, by cluster, verb and resource); the lower cluster's components' writes for
// the same pods from the lower API server's audit log of writes (sandbox option auditLowerWrites), by the
// writer's identity: the scheduler binds, the kubelet (or kwok) reports status, each posts events.

/** One counted write kind and how many. */
export interface Write {
  /** fedlet: upper or lower (its clients' names); audit: the writing component. */
  who: string;
  verb: string;
  resource: string;
  n: number;
}

/** Heartbeats: the node Lease, the leader Lease, the Node and its status (not per pod). */
export const HEARTBEAT = new Set(['leases', 'nodes', 'nodes/status']);
/**
 * Reviews: POSTs that ask the API server a question and persist nothing. Token and subject access reviews
 * authorize kubelet API requests (the bench's own scrapes of /metrics cause them); self subject (access)
 * reviews are fedlet asking who it is and whether its rights in a lower namespace hold (once per namespace
 * after a start, before its first write there). Counted apart from writes, never dropped.
 */
export const REVIEWS = new Set(['subjectaccessreviews', 'tokenreviews', 'selfsubjectaccessreviews', 'selfsubjectreviews']);

/** fedlet_api_writes_total as rows; clients of one cluster (upper, upper-heartbeat, …) are summed by cluster. */
export function fedletWrites(metrics: string): Write[] {
  const out = new Map<string, Write>();
  for (const m of metrics.matchAll(/^fedlet_api_writes_total\{([^}]*)\} (\d+)/gm)) {
    const l = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const who = (l.cluster ?? '').startsWith('upper') ? 'upper' : (l.cluster ?? '');
    const key = `${who} ${l.verb} ${l.resource}`;
    const w = out.get(key) ?? { who, verb: l.verb ?? '', resource: l.resource ?? '', n: 0 };
    w.n += Number(m[2]);
    out.set(key, w);
  }
  return [...out.values()];
}

/** after − before, per row; rows that did not change are left out. */
export function writesBetween(before: Write[], after: Write[]): Write[] {
  const k = (w: Write) => `${w.who} ${w.verb} ${w.resource}`;
  const was = new Map(before.map((w) => [k(w), w.n]));
  return after.map((w) => ({ ...w, n: w.n - (was.get(k(w)) ?? 0) })).filter((w) => w.n > 0);
}

/** Writes that belong to pods: without heartbeats and reviews. */
export const perPodWrites = (ws: Write[]) => ws.filter((w) => !HEARTBEAT.has(w.resource) && !REVIEWS.has(w.resource));

export const total = (ws: Write[]) => ws.reduce((a, w) => a + w.n, 0);

/** The writing component of an audit event's user. */
export function component(username: string): string {
  if (username === 'system:kube-scheduler') return 'scheduler';
  if (username.startsWith('system:node:')) return 'kubelet';
  if (username === 'system:kube-controller-manager' || username.startsWith('system:serviceaccount:kube-system:'))
    return 'controller-manager';
  if (/fedlet/.test(username)) return 'fedlet';
  if (/kwok/.test(username)) return 'kwok';
  return username;
}

interface AuditEvent {
  stage?: string;
  verb?: string;
  user?: { username?: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  requestReceivedTimestamp?: string;
}

const AUDIT_VERBS: Record<string, string> = { create: 'POST', update: 'PUT', patch: 'PATCH', delete: 'DELETE' };

/**
 * Writes in the audit log (JSON lines) for the given pods of `namespace` made in [from, to] (ms): to the
 * pods themselves (and their subresources: binding, status) and to Events about them (named after the
 * pod). Verbs as fedlet's counter names them (POST, PATCH, …).
 */
export function auditWritesForPods(log: string, namespace: string, pods: string[], from: number, to: number): Write[] {
  const names = new Set(pods);
  const out = new Map<string, Write>();
  for (const line of log.split('\n')) {
    if (!line) continue;
    let e: AuditEvent;
    try {
      e = JSON.parse(line) as AuditEvent;
    } catch {
      continue;
    }
    const o = e.objectRef;
    if (e.stage !== 'ResponseComplete' || !o || o.namespace !== namespace || !e.verb || !AUDIT_VERBS[e.verb]) continue;
    const t = Date.parse(e.requestReceivedTimestamp ?? '');
    if (!(t >= from && t <= to)) continue;
    const ofPod =
      (o.resource === 'pods' && names.has(o.name ?? '')) ||
      (o.resource === 'events' && names.has((o.name ?? '').replace(/\.[^.]+$/, '')));
    if (!ofPod) continue;
    const who = component(e.user?.username ?? '?');
    const resource = o.subresource ? `${o.resource}/${o.subresource}` : o.resource!;
    const key = `${who} ${e.verb} ${resource}`;
    const w = out.get(key) ?? { who, verb: AUDIT_VERBS[e.verb]!, resource, n: 0 };
    w.n++;
    out.set(key, w);
  }
  return [...out.values()];
}

/** Rows as a printed table: who, verb, resource, per pod. */
export function writesTable(ws: Write[], pods: number): string {
  const rows = [...ws].sort((a, b) => a.who.localeCompare(b.who) || b.n - a.n);
  return rows
    .map((w) => `  ${w.who.padEnd(20)} ${w.verb.padEnd(7)} ${w.resource.padEnd(28)} ${(w.n / pods).toFixed(2)}`)
    .join('\n');
}

/** A measure key segment for a row: who.verb.resource with '/' as '-'. */
export const writeKey = (w: Write) => `${w.who}.${w.verb.toLowerCase()}.${w.resource.replace(/\//g, '-')}`;
