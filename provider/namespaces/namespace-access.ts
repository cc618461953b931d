// Whether fedlet may put a tenant's objects into a lower namespace, and which Pod Security labels the
// lower namespaces it creates carry. Pure: the caller reads the namespaces. A kubelet only ever acts in
// its own pods' namespaces; below, the namespaces are someone's: fedlet uses only those it created
// (label fedlet.io/origin=<node>, for the same upper namespace) or that a lower admin granted it (label
// fedlet.io/grant=<node or cluster>, or the grantedLowerNamespaces option). default, kube-* and
// fedlet-system are never created and used only when granted.
import type { KubeObject } from '../../src/kube/types.js';
import {
  LABEL_GRANT,
  LABEL_LOWER_IDENTITY,
  LABEL_ORIGIN,
  LABEL_POD_SECURITY_PREFIX,
  LABEL_UPPER_NAMESPACE,
} from '../../src/labels.js';

/** Status/event reason of a pod (or claim) whose lower namespace fedlet may not use. */
export const REASON_NAMESPACE_NOT_OWNED = 'LowerNamespaceNotOwned';

export interface NamespacePolicy {
  nodeName: string;
  clusterName: string;
  /** Lower namespaces granted by option (grantedLowerNamespaces). */
  granted: ReadonlySet<string>;
}

export type NamespaceAccess =
  { kind: 'create' } | { kind: 'use'; how: 'owned' | 'granted' } | { kind: 'refuse'; message: string };

/** Namespaces fedlet never creates nor uses unless granted: the cluster's own, and fedlet's. */
export function isReservedNamespace(name: string): boolean {
  return name === 'default' || name.startsWith('kube-') || name === 'fedlet-system';
}

/** Whether a label value names this fedlet (its virtual node or its cluster). */
function namesUs(value: string | undefined, p: Pick<NamespacePolicy, 'nodeName' | 'clusterName'>): boolean {
  return value !== undefined && (value === p.nodeName || value === p.clusterName);
}

/** Whether a lower admin granted namespace `name` (with these labels) to this fedlet: by label or by option. */
export function isGranted(name: string, labels: Record<string, string> | undefined, p: NamespacePolicy): boolean {
  return p.granted.has(name) || namesUs(labels?.[LABEL_GRANT], p);
}

function grantHint(name: string, p: NamespacePolicy): string {
  return `a lower admin can grant it with \`kubectl label namespace ${name} ${LABEL_GRANT}=${p.nodeName}\` (or list it in grantedLowerNamespaces)`;
}

/** What fedlet may do with lower namespace `name` (undefined `existing`: it does not exist) for `upperNs`. */
export function namespaceAccess(
  name: string,
  existing: KubeObject | undefined,
  upperNs: string,
  p: NamespacePolicy,
): NamespaceAccess {
  const where = `lower namespace ${name} of cluster ${p.clusterName} (for upper namespace ${upperNs})`;
  const labels = existing?.metadata?.labels ?? {};
  if (p.granted.has(name) || (existing && isGranted(name, labels, p)))
    return existing ? { kind: 'use', how: 'granted' } : { kind: 'create' };
  if (isReservedNamespace(name))
    return {
      kind: 'refuse',
      message: `${where} is reserved (default, kube-* and fedlet-system are never used unless granted); ${grantHint(name, p)}, or choose a namespaceTemplate that maps ${upperNs} elsewhere`,
    };
  if (!existing) return { kind: 'create' };
  const origin = labels[LABEL_ORIGIN];
  if (origin === p.nodeName) {
    const createdFor = existing.metadata?.annotations?.[LABEL_UPPER_NAMESPACE];
    if (createdFor && createdFor !== upperNs)
      return {
        kind: 'refuse',
        message: `${where} was created by virtual node ${p.nodeName} for upper namespace ${createdFor}; two upper namespaces never share a lower one: choose a namespaceTemplate that keeps them apart`,
      };
    return { kind: 'use', how: 'owned' };
  }
  const whose = origin
    ? `it belongs to virtual node ${origin}`
    : `fedlet did not create it (no label ${LABEL_ORIGIN}=${p.nodeName})`;
  return {
    kind: 'refuse',
    message: `${where} exists and ${whose}, so pods of upper namespace ${upperNs} are not run there; ${grantHint(name, p)}, or choose a namespaceTemplate that does not collide (the default {{namespace}}-{{cluster}})`,
  };
}

/** Whether a lower admin lets this fedlet's pods run as the namespace's own service accounts. */
export function lowerIdentityAllowed(existing: KubeObject | undefined, p: NamespacePolicy): boolean {
  return namesUs(existing?.metadata?.labels?.[LABEL_LOWER_IDENTITY], p);
}

export type PodSecurityLevel = 'privileged' | 'baseline' | 'restricted';
const LEVELS: PodSecurityLevel[] = ['privileged', 'baseline', 'restricted'];
const MODES = ['enforce', 'audit', 'warn'] as const;

function level(v: string | undefined): PodSecurityLevel | undefined {
  return LEVELS.find((l) => l === v);
}
function stricter(a: PodSecurityLevel | undefined, b: PodSecurityLevel | undefined): PodSecurityLevel | undefined {
  if (!a) return b;
  if (!b) return a;
  return LEVELS.indexOf(a) >= LEVELS.indexOf(b) ? a : b;
}

/**
 * The Pod Security labels of a lower namespace standing for an upper namespace with `upperLabels`: each
 * mode at the upper level, enforce at least at `floor`. A version label comes along with the upper
 * level it qualifies; a level raised by the floor applies at the latest version.
 */
export function podSecurityLabels(upperLabels: Record<string, string>, floor: PodSecurityLevel): Record<string, string> {
  const out: Record<string, string> = {};
  for (const mode of MODES) {
    const key = `${LABEL_POD_SECURITY_PREFIX}${mode}`;
    const upper = level(upperLabels[key]);
    const want = mode === 'enforce' ? stricter(upper, floor) : upper;
    if (!want) continue;
    out[key] = want;
    const version = upperLabels[`${key}-version`];
    if (want === upper && version) out[`${key}-version`] = version;
  }
  return out;
}

/**
 * The label changes that make an existing lower namespace's Pod Security at least `desired` (never
 * weaker than it is: a lower admin may have made it stricter). Undefined when nothing is to change.
 */
export function podSecurityPatch(
  current: Record<string, string> | undefined,
  desired: Record<string, string>,
): Record<string, string | null> | undefined {
  const patch: Record<string, string | null> = {};
  for (const mode of MODES) {
    const key = `${LABEL_POD_SECURITY_PREFIX}${mode}`;
    const want = level(desired[key]);
    if (!want) continue;
    const have = level(current?.[key]);
    if (have && stricter(have, want) === have) continue;
    patch[key] = want;
    // A version pinned below for a weaker level does not apply to the stricter one.
    const version = desired[`${key}-version`];
    if (version) patch[`${key}-version`] = version;
    else if (current?.[`${key}-version`] !== undefined) patch[`${key}-version`] = null;
  }
  return Object.keys(patch).length ? patch : undefined;
}
