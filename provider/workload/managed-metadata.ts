// What fedlet set on a lower pod, and the smallest update that makes it match the upper pod. The lower
// pod records the label and annotation keys fedlet manages (annotation fedlet.io/managed-metadata),
// so a key removed upstairs is removed below, and what the lower cluster adds itself (labels,
// annotations, default tolerations) is never "corrected" — a steady pod needs no write. Pure.
import type { Pod, Toleration } from '../../src/kube/types.js';
import { ANNOTATION_MANAGED_METADATA } from '../../src/labels.js';

interface ManagedKeys {
  labels: string[];
  annotations: string[];
}

function parseRecord(p: Pod): ManagedKeys | undefined {
  const raw = p.metadata.annotations?.[ANNOTATION_MANAGED_METADATA];
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<ManagedKeys>;
    if (Array.isArray(v.labels) && Array.isArray(v.annotations)) return { labels: v.labels, annotations: v.annotations };
  } catch {
    /* unreadable: treated as absent */
  }
  return undefined;
}

/** The desired lower pod with the record of the label/annotation keys fedlet manages on it. */
export function withManagedRecord(desired: Pod): Pod {
  const annotations = { ...(desired.metadata.annotations ?? {}) };
  delete annotations[ANNOTATION_MANAGED_METADATA];
  const record: ManagedKeys = {
    labels: Object.keys(desired.metadata.labels ?? {}).sort(),
    annotations: Object.keys(annotations).sort(),
  };
  annotations[ANNOTATION_MANAGED_METADATA] = JSON.stringify(record);
  return { ...desired, metadata: { ...desired.metadata, annotations } };
}

/** Changes to one string map: keys to set, and previously managed keys to remove (null). */
function mapDiff(
  have: Record<string, string> | undefined,
  want: Record<string, string> | undefined,
  previouslyManaged: string[],
): Record<string, string | null> | undefined {
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(want ?? {})) if (have?.[k] !== v) out[k] = v;
  for (const k of previouslyManaged) if (!(k in (want ?? {})) && have && k in have) out[k] = null;
  return Object.keys(out).length ? out : undefined;
}

const tolerationKey = (t: Toleration) =>
  JSON.stringify([t.key ?? '', t.operator ?? '', t.value ?? '', t.effect ?? '', t.tolerationSeconds]);

/**
 * Strategic-merge patch that brings a running lower pod in line with `desired` (built by
 * withManagedRecord), or undefined when nothing fedlet owns differs. Only fields the API lets change
 * in place: labels, annotations, images, activeDeadlineSeconds, added tolerations.
 */
export function lowerPodPatch(existing: Pod, desired: Pod): Record<string, unknown> | undefined {
  const prev = parseRecord(existing) ?? { labels: [], annotations: [] };
  const metadata: Record<string, unknown> = {};
  const labels = mapDiff(existing.metadata.labels, desired.metadata.labels, prev.labels);
  const annotations = mapDiff(existing.metadata.annotations, desired.metadata.annotations, prev.annotations);
  if (labels) metadata.labels = labels;
  if (annotations) metadata.annotations = annotations;

  const spec: Record<string, unknown> = {};
  const images = (list: Pod['spec']['containers'] | undefined) => new Map((list ?? []).map((c) => [c.name, c.image]));
  for (const field of ['containers', 'initContainers'] as const) {
    const have = images(existing.spec[field]);
    const changed = (desired.spec[field] ?? []).filter((c) => have.has(c.name) && have.get(c.name) !== c.image);
    if (changed.length) spec[field] = changed.map((c) => ({ name: c.name, image: c.image }));
  }
  if (
    desired.spec.activeDeadlineSeconds !== undefined &&
    desired.spec.activeDeadlineSeconds !== existing.spec.activeDeadlineSeconds
  )
    spec.activeDeadlineSeconds = desired.spec.activeDeadlineSeconds;
  // Tolerations can only be added to a pod; the lower cluster adds its own defaults (not-ready,
  // unreachable), which are kept. The list has no merge key: send it whole.
  const haveTol = new Set((existing.spec.tolerations ?? []).map(tolerationKey));
  const missing = (desired.spec.tolerations ?? []).filter((t) => !haveTol.has(tolerationKey(t)));
  if (missing.length) spec.tolerations = [...(existing.spec.tolerations ?? []), ...missing];

  const patch: Record<string, unknown> = {};
  if (Object.keys(metadata).length) patch.metadata = metadata;
  if (Object.keys(spec).length) patch.spec = spec;
  return Object.keys(patch).length ? patch : undefined;
}
