// Changes a running pod only takes through subresources, decided from the lower pod as it is and the
// translated upper pod: ephemeral containers to add (pods/ephemeralcontainers) and container resources
// to resize in place (pods/resize). Pure; a steady pod yields nothing, so every sync may ask again.
import type { Container, Pod } from '../../src/kube/types.js';

/**
 * Ephemeral containers of the upper pod that the lower pod lacks, as a strategic-merge patch for the
 * lower ephemeralcontainers subresource (undefined: none). They are only ever added (the API never
 * changes or removes one), and by name: a container the lower pod has is never sent again.
 */
export function ephemeralContainersPatch(
  existing: Pod,
  wanted: Container[],
): { spec: { ephemeralContainers: Container[] } } | undefined {
  const have = new Set((existing.spec.ephemeralContainers ?? []).map((c) => c.name));
  const add = wanted.filter((c) => !have.has(c.name));
  return add.length ? { spec: { ephemeralContainers: add } } : undefined;
}

type Resources = NonNullable<Container['resources']>;

/**
 * Whether every quantity the upper container asks for is what the lower one has. Only the upper side's
 * keys count: what the lower cluster adds itself (a LimitRange default) is not a change to undo.
 * Quantities are compared as the API servers print them (both canonicalise the same way).
 */
function resourcesMatch(want: Resources | undefined, have: Resources | undefined): boolean {
  for (const kind of ['requests', 'limits'] as const)
    for (const [name, q] of Object.entries(want?.[kind] ?? {})) if (have?.[kind]?.[name] !== q) return false;
  return true;
}

/**
 * Strategic-merge patch for the lower resize subresource that gives the lower containers the upper
 * containers' resources (undefined: they agree). Sidecar (restartable init) containers resize too;
 * anything the lower API server or kubelet does not allow is its to refuse, with its own reason.
 */
export function resizePatch(
  existing: Pod,
  desired: Pod,
): { spec: Record<string, Array<Pick<Container, 'name' | 'resources'>>> } | undefined {
  const spec: Record<string, Array<Pick<Container, 'name' | 'resources'>>> = {};
  for (const field of ['containers', 'initContainers'] as const) {
    const have = new Map((existing.spec[field] ?? []).map((c) => [c.name, c.resources]));
    const changed = (desired.spec[field] ?? []).filter((c) => have.has(c.name) && !resourcesMatch(c.resources, have.get(c.name)));
    if (changed.length) spec[field] = changed.map((c) => ({ name: c.name, resources: c.resources ?? {} }));
  }
  return Object.keys(spec).length ? { spec } : undefined;
}
