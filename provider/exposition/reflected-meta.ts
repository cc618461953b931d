// Metadata of reflected lower objects (Services, NetworkPolicies): the upper object's labels and
// annotations plus fedlet's ownership keys. fedlet records which keys it copied, so a key removed
// upstream is removed below while keys that lower-cluster controllers add are left alone. Pure.
import type { ObjectMeta } from '../../src/kube/types.js';
import { ANNOTATION_MANAGED_ANNOTATIONS, ANNOTATION_MANAGED_LABELS } from '../../src/labels.js';
import { ownershipAnnotations, ownershipLabels } from '../workload/translate.js';
import { byCodeUnit } from '../../src/util/order.js';

export interface ReflectedMeta {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Annotations that describe the upper object's own history, never copied. */
const NOT_COPIED = new Set(['kubectl.kubernetes.io/last-applied-configuration']);

function keyList(keys: string[]): string {
  return [...keys].sort().join(',');
}
function parseKeyList(v: string | undefined): string[] {
  return (v ?? '').split(',').filter(Boolean);
}

/** Labels and annotations fedlet wants on the lower copy of `upper`. */
export function desiredMeta(upper: ObjectMeta, nodeName: string): ReflectedMeta {
  const labels = { ...(upper.labels ?? {}), ...ownershipLabels({ nodeName }, upper) };
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(upper.annotations ?? {})) if (!NOT_COPIED.has(k)) annotations[k] = v;
  Object.assign(annotations, ownershipAnnotations(upper));
  annotations[ANNOTATION_MANAGED_LABELS] = keyList(Object.keys(labels));
  annotations[ANNOTATION_MANAGED_ANNOTATIONS] = keyList([...Object.keys(annotations), ANNOTATION_MANAGED_ANNOTATIONS]);
  return { labels, annotations };
}

/**
 * The lower object's metadata after applying `desired`: keys fedlet copied last time but no longer
 * wants are dropped, keys others added below are kept.
 */
export function mergeMeta(desired: ReflectedMeta, lower: ObjectMeta): ReflectedMeta {
  const prevLabels = parseKeyList(lower.annotations?.[ANNOTATION_MANAGED_LABELS]);
  const prevAnnotations = parseKeyList(lower.annotations?.[ANNOTATION_MANAGED_ANNOTATIONS]);
  const labels = { ...(lower.labels ?? {}) };
  for (const k of prevLabels) delete labels[k];
  const annotations = { ...(lower.annotations ?? {}) };
  for (const k of prevAnnotations) delete annotations[k];
  return { labels: { ...labels, ...desired.labels }, annotations: { ...annotations, ...desired.annotations } };
}

function sameMap(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ea = Object.entries(a ?? {});
  if (ea.length !== Object.keys(b ?? {}).length) return false;
  return ea.every(([k, v]) => b?.[k] === v);
}

/** True when writing `desired` would change the lower object's labels or annotations. */
export function metaDiffers(desired: ReflectedMeta, lower: ObjectMeta): boolean {
  const merged = mergeMeta(desired, lower);
  return !sameMap(merged.labels, lower.labels) || !sameMap(merged.annotations, lower.annotations);
}

/** JSON with object keys sorted, for comparing specs regardless of key order. */
export function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => byCodeUnit(a, b)))
      : x,
  );
}
