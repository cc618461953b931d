// Node pools: one virtual node per group of lower nodes (a GPU model, an instance type, a zone...).
// Pure decisions only: which pools exist given the lower nodes, which nodes each holds, which labels
// the pool's virtual node carries, and the requirements that keep a pool's lower pods inside it. The
// provider partitions its one node cache with these on every change (no watch per pool).
import { createHash } from 'node:crypto';
import type { LowerNode } from '../node/capacity.js';
import { matches, type Requirement } from '../../src/scheduling/lower-affinity.js';
import { schedulable } from '../node/capacity.js';
import { LABEL_CLUSTER, LABEL_HOSTNAME, LABEL_POOL, LABEL_ROLE, LABEL_TYPE } from '../../src/labels.js';
import { byCodeUnit } from '../../src/util/order.js';

/** A pool given by name and label selector (config `pools`). */
export interface PoolSelector {
  name: string;
  selector: string;
  requirements: Requirement[];
}

export interface PoolConfig {
  /** Label keys: one pool per distinct tuple of their values among lower nodes that have every key. */
  groupBy: string[];
  /** Named pools by selector; a node may belong to several (each offers it). */
  selectors: PoolSelector[];
  /** Longest pool name, so that `<node name>-<pool>` stays a 63-character label value (kubernetes.io/hostname). */
  maxName: number;
}

export interface Pool {
  /** DNS-label name: the value of fedlet.io/pool and the suffix of the virtual node's name. */
  name: string;
  /** What a lower node must satisfy to belong to the pool: also put on every lower pod placed through it. */
  requirements: Requirement[];
  /** Names of the lower nodes in the pool (Ready or not: membership follows labels only). */
  nodes: string[];
}

export function poolsEnabled(c: PoolConfig | undefined): c is PoolConfig {
  return !!c && (c.groupBy.length > 0 || c.selectors.length > 0);
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Parses a label selector as kubectl writes one: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`,
 * `k` (exists), `!k` (does not exist), joined by commas. Throws a message naming the bad part.
 */
export function parseSelector(s: string): Requirement[] {
  const out: Requirement[] = [];
  // Split on commas outside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  const key = '([A-Za-z0-9][-A-Za-z0-9_./]*)';
  for (const raw of parts) {
    const p = raw.trim();
    if (!p) continue;
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^${key}\\s+(in|notin)\\s+\\(([^)]*)\\)$`).exec(p)))
      out.push({
        key: m[1]!,
        operator: m[2] === 'in' ? 'In' : 'NotIn',
        values: m[3]!
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean),
      });
    else if ((m = new RegExp(`^${key}\\s*(==|=|!=)\\s*([-A-Za-z0-9_.]*)$`).exec(p)))
      out.push({ key: m[1]!, operator: m[2] === '!=' ? 'NotIn' : 'In', values: [m[3]!] });
    else if ((m = new RegExp(`^!\\s*${key}$`).exec(p))) out.push({ key: m[1]!, operator: 'DoesNotExist' });
    else if ((m = new RegExp(`^${key}$`).exec(p))) out.push({ key: m[1]!, operator: 'Exists' });
    else throw new Error(`"${p}" is not a label selector requirement (k=v, k!=v, k in (a,b), k notin (a,b), k, !k)`);
  }
  if (!out.length) throw new Error(`selector "${s}" is empty`);
  return out;
}

/** Checks pool config and parses its selectors; throws a message naming the bad entry. */
export function poolConfig(
  groupBy: string[],
  pools: Array<{ name: string; selector: string }>,
  baseNodeName: string,
): PoolConfig {
  const maxName = Math.min(40, 62 - baseNodeName.length);
  if ((groupBy.length || pools.length) && maxName < 8)
    throw new Error(
      `node name "${baseNodeName}" is too long for pools: pool nodes are named <node name>-<pool>, at most 63 characters`,
    );
  const seen = new Set<string>();
  const selectors = pools.map((p) => {
    if (!dnsLabel.test(p.name) || p.name.length > maxName)
      throw new Error(`pool name "${p.name}" must be a DNS label of at most ${maxName} characters`);
    if (seen.has(p.name)) throw new Error(`pool "${p.name}" is defined twice`);
    seen.add(p.name);
    try {
      return { name: p.name, selector: p.selector, requirements: parseSelector(p.selector) };
    } catch (e) {
      throw new Error(`pool "${p.name}": ${(e as Error).message}`);
    }
  });
  for (const k of groupBy)
    if (!/^[A-Za-z0-9][-A-Za-z0-9_./]*$/.test(k)) throw new Error(`poolGroupBy: "${k}" is not a label key`);
  return { groupBy, selectors, maxName };
}

function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 6);
}

/** A DNS label of at most `max` characters for a tuple of label values (lowercased; other characters → '-'). */
export function sanitizePoolName(values: string[], max = 40): string {
  const raw = values.join('-');
  let s = raw
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  if (!s) s = 'pool';
  if (s.length > max) s = `${s.slice(0, max - 7).replace(/-$/, '')}-${shortHash(raw)}`;
  return s;
}

/**
 * The pools given the lower nodes, sorted by name. Grouping pools: one per distinct value tuple (nodes
 * lacking a key are in no grouping pool); two tuples that sanitise alike get a hash suffix each.
 * Selector pools: present while some node matches. A selector pool's name wins over a grouping pool's.
 */
export function partitionPools(nodes: Iterable<LowerNode>, cfg: PoolConfig): Pool[] {
  const list = [...nodes];
  const out = new Map<string, Pool>();
  for (const s of cfg.selectors) {
    const members = list.filter((n) => s.requirements.every((r) => matches(r, n.labels))).map((n) => n.name);
    if (members.length) out.set(s.name, { name: s.name, requirements: s.requirements, nodes: members.sort() });
  }
  if (cfg.groupBy.length) {
    const groups = new Map<string, { values: string[]; nodes: string[] }>();
    for (const n of list) {
      const values = cfg.groupBy.map((k) => n.labels[k]);
      if (values.some((v) => v === undefined)) continue;
      const id = JSON.stringify(values);
      let g = groups.get(id);
      if (!g) groups.set(id, (g = { values: values as string[], nodes: [] }));
      g.nodes.push(n.name);
    }
    const byName = new Map<string, string[]>();
    for (const [id, g] of groups) {
      const name = sanitizePoolName(g.values, cfg.maxName);
      byName.set(name, [...(byName.get(name) ?? []), id]);
    }
    for (const [name, ids] of byName)
      for (const id of ids) {
        const g = groups.get(id)!;
        const unique =
          ids.length > 1 || out.has(name) ? `${name.slice(0, cfg.maxName - 7).replace(/-$/, '')}-${shortHash(id)}` : name;
        if (out.has(unique)) continue;
        out.set(unique, {
          name: unique,
          requirements: cfg.groupBy.map((key, i) => ({ key, operator: 'In', values: [g.values[i]!] })),
          nodes: g.nodes.sort(),
        });
      }
  }
  return [...out.values()].sort((a, b) => byCodeUnit(a.name, b.name));
}

/** Keys never copied from lower nodes onto a pool's virtual node: per-node identity and fedlet's own keys. */
function ownLabel(key: string): boolean {
  return (
    key === LABEL_HOSTNAME ||
    key === LABEL_TYPE ||
    key === LABEL_ROLE ||
    key === LABEL_CLUSTER ||
    key === LABEL_POOL ||
    key.startsWith('node-role.kubernetes.io/') ||
    key.startsWith('fedlet.io/')
  );
}

/**
 * Labels the pool's virtual node carries from its lower nodes: those every schedulable member shares
 * (every member when none is schedulable), plus the `In` values of the pool's own single-value
 * requirements (the grouped keys), so a nodeSelector on them reaches the pool in the upper scheduler.
 */
export function poolLabels(pool: Pool, nodes: ReadonlyMap<string, LowerNode>): Record<string, string> {
  const members = pool.nodes.map((n) => nodes.get(n)).filter((n): n is LowerNode => !!n);
  const counted = members.some(schedulable) ? members.filter(schedulable) : members;
  const out: Record<string, string> = {};
  const [first, ...rest] = counted;
  if (first)
    for (const [k, v] of Object.entries(first.labels)) if (!ownLabel(k) && rest.every((n) => n.labels[k] === v)) out[k] = v;
  for (const r of pool.requirements)
    if (r.operator === 'In' && r.values?.length === 1 && !ownLabel(r.key)) out[r.key] = r.values[0]!;
  return out;
}

/** Name of a pool's virtual node: `<base>-<pool>`; the base is the configured node name. */
export function poolNodeName(base: string, pool: string): string {
  return `${base}-${pool}`;
}
