// Shared strings and sub-objects for cached API objects. JSON.parse shares only strings of up to 10
// characters; every longer value (a condition type, a toleration key, a mount path, a timestamp, an
// owner's name and uid) is a fresh copy in each parsed object, and so is every object: 10,000 cached
// replicas held the same owner references, tolerations and token volume 10,000 times. Caches pass their
// objects through shareRepeats once, before caching them.

/** Values kept; when full a table starts over (objects already cached keep what they share). */
const MAX_ENTRIES = 16_384;
let table = new Map<string, string>();
let objects = new Map<string, unknown>();

/**
 * Sub-objects that are usually equal across an owner's replicas and that fedlet only reads: shared, and
 * frozen so that a write to one (which would change every pod sharing it) fails loudly instead.
 */
const SHARED = new Set(['labels', 'ownerReferences', 'tolerations', 'projected', 'securityContext', 'hostIPs']);

/** The shared copy of `s`. */
export function intern(s: string): string {
  const have = table.get(s);
  if (have !== undefined) return have;
  if (table.size >= MAX_ENTRIES) table = new Map();
  table.set(s, s);
  return s;
}

/** Keys whose values are unique per object: interning them would only churn the table. */
const UNIQUE = new Set(['uid', 'resourceVersion', 'containerID']);

/**
 * Replaces, in place, every string of more than 10 characters in a freshly parsed JSON value with its
 * shared copy (keys whose values are unique per object excepted), and the SHARED sub-objects with an
 * equal frozen one seen before. Only for objects the caller owns and never writes to.
 */
export function shareRepeats<T>(value: T): T {
  walk(value as unknown, 0);
  return value;
}

function shared(key: string, v: object): unknown {
  const json = `${key}:${JSON.stringify(v)}`;
  const have = objects.get(json);
  if (have !== undefined) return have;
  if (objects.size >= MAX_ENTRIES) objects = new Map();
  deepFreeze(v);
  objects.set(json, v);
  return v;
}

function deepFreeze(v: object): void {
  Object.freeze(v);
  for (const x of Object.values(v)) if (typeof x === 'object' && x !== null && !Object.isFrozen(x)) deepFreeze(x as object);
}

function walk(v: unknown, depth: number): void {
  if (typeof v !== 'object' || v === null || depth > 32) return;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === 'string') {
        if (x.length > 10) v[i] = intern(x);
      } else walk(x, depth + 1);
    }
    return;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) {
    const x = o[k];
    if (typeof x === 'string') {
      if (x.length > 10 && !UNIQUE.has(k)) o[k] = intern(x);
    } else if (typeof x === 'object' && x !== null && !Object.isFrozen(x)) {
      walk(x, depth + 1);
      if (SHARED.has(k)) o[k] = shared(k, x);
    }
  }
}
