// Which of a pod's tolerations go down to the lower pod. Upstairs a toleration only lets the pod onto
// the virtual node; below it would let the pod onto lower nodes the lower admins keep for themselves
// (control planes, cordoned or failing nodes). By default (tolerationPolicy drop) a keyless Exists and
// tolerations of denied keys (deniedTolerationKeys: node-role.kubernetes.io/*, node.kubernetes.io/*)
// are left out, with an event; `refuse` refuses such a pod; `keep` copies them all. Time-bounded
// NoExecute tolerations of not-ready/unreachable only delay an eviction (every pod gets them by
// default) and always go down. Pure.
import type { Pod, Toleration } from '../../src/kube/types.js';
import type { TolerationPolicy } from '../tenancy.js';

export const REASON_TOLERATION_DROPPED = 'TolerationDropped';
export const REASON_TOLERATION_NOT_ALLOWED = 'TolerationNotAllowed';

/** Taints every node gets while failing: tolerating them for a while only delays the eviction. */
const EVICTION_DELAY_KEYS = new Set(['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']);

function deniedKey(key: string, denied: readonly string[]): boolean {
  return denied.some((d) => (d.endsWith('/') ? key.startsWith(d) : key === d));
}

/** Why the toleration may not go down, or undefined. */
export function deniedToleration(t: Toleration, denied: readonly string[]): string | undefined {
  if (!t.key) return t.operator === 'Exists' ? 'a toleration without a key (operator Exists) tolerates every taint' : undefined;
  if (!deniedKey(t.key, denied)) return undefined;
  if (EVICTION_DELAY_KEYS.has(t.key) && t.effect === 'NoExecute' && t.tolerationSeconds !== undefined) return undefined;
  return `taint key ${t.key} is kept for the lower cluster's own nodes (deniedTolerationKeys)`;
}

export interface TolerationDecision {
  /** What the lower pod gets. */
  kept: Toleration[];
  /** What it does not get, and why. */
  denied: Array<{ toleration: Toleration; why: string }>;
}

/** The pod's tolerations split by the policy (`keep`: all kept). */
export function decideTolerations(pod: Pod, policy: TolerationPolicy, denied: readonly string[]): TolerationDecision {
  const out: TolerationDecision = { kept: [], denied: [] };
  for (const t of pod.spec.tolerations ?? []) {
    const why = policy === 'keep' ? undefined : deniedToleration(t, denied);
    if (why) out.denied.push({ toleration: t, why });
    else out.kept.push(t);
  }
  return out;
}

/** kubectl's way of writing a toleration, for messages. */
export function describeToleration(t: Toleration): string {
  const op = t.operator === 'Exists' ? '' : `=${t.value ?? ''}`;
  const key = t.key ? `${t.key}${op}` : '(any key)';
  return `${key}:${t.effect || '(any effect)'}${t.tolerationSeconds !== undefined ? ` for ${t.tolerationSeconds}s` : ''}`;
}

/** The event or refusal text for the denied tolerations of a pod. */
export function deniedMessage(pod: Pod, d: TolerationDecision, policy: TolerationPolicy, clusterName: string): string {
  const list = d.denied.map((x) => `${describeToleration(x.toleration)} (${x.why})`).join('; ');
  const where = `pod ${pod.metadata.namespace}/${pod.metadata.name}`;
  return policy === 'refuse'
    ? `${where} tolerates taints of lower cluster ${clusterName}'s system nodes, which tenants may not: ${list}; remove these tolerations (tolerationPolicy: refuse)`
    : `${where} runs in lower cluster ${clusterName} without these tolerations: ${list} (tolerationPolicy: drop)`;
}
