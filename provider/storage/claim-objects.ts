// Pure decisions for claims of fedlet's storage classes (provider/storage/claims.ts does the I/O): which lower
// class serves an upper class, the lower claim and the upper PersistentVolume fedlet creates, and which
// claims a pod needs in the lower cluster.
import type { ClaimCondition, ClaimObj, KubeObject, StorageClassObj, VolumeObj } from '../../src/kube/types.js';
import type { Pod } from '../../src/kube/types.js';
import {
  ANNOTATION_DEFAULT_CLASS,
  ANNOTATION_LOWER_CLAIM,
  ANNOTATION_PROVISIONED_BY,
  ANNOTATION_UPPER_PV,
  LABEL_HOSTNAME,
  LABEL_ORIGIN,
  STORAGE_PROVISIONER,
} from '../../src/labels.js';
import { parseQuantity, QuantityError } from '../../src/util/quantity.js';
import { ownershipAnnotations, ownershipLabels } from '../workload/translate.js';
import { byCodeUnit } from '../../src/util/order.js';

/** Upper class → the lower class that serves it, or why none does. */
export type LowerClassChoice = { lower: string } | { reason: string };

/**
 * The lower class for an upper fedlet class: the mapped one when configured (it must exist), else the
 * lower cluster's default class.
 */
export function chooseLowerClass(
  upperClass: string,
  map: Record<string, string>,
  lowerClasses: StorageClassObj[],
  cluster: string,
): LowerClassChoice {
  const mapped = map[upperClass];
  if (mapped) {
    if (lowerClasses.some((c) => c.metadata?.name === mapped)) return { lower: mapped };
    return {
      reason: `storage class ${upperClass} maps to lower class ${mapped} (storageClassMap), which does not exist in lower cluster ${cluster}`,
    };
  }
  const defaults = lowerClasses.filter((c) => c.metadata?.annotations?.[ANNOTATION_DEFAULT_CLASS] === 'true');
  if (defaults.length === 0)
    return {
      reason: `lower cluster ${cluster} has no default storage class and storageClassMap names none for ${upperClass}`,
    };
  // As the API server does when several are marked default: the newest wins.
  const newest = defaults.sort((a, b) =>
    byCodeUnit(b.metadata?.creationTimestamp ?? '', a.metadata?.creationTimestamp ?? ''),
  )[0]!;
  return { lower: newest.metadata!.name! };
}

export function isFedletClass(c: StorageClassObj | undefined): boolean {
  return c?.provisioner === STORAGE_PROVISIONER;
}

/** Name of the upper PV fedlet provisions for a claim (unique per claim, as external provisioners do). */
export function volumeNameFor(claimUid: string): string {
  return `fedlet-${claimUid}`;
}

/** The lower claim's name: the upper claim's name (namespaces are mapped one to one). */
export function lowerClaimName(upperClaimName: string): string {
  return upperClaimName;
}

export function lowerClaimLocation(cluster: string, lowerNs: string, name: string): string {
  return `${cluster}/${lowerNs}/${name}`;
}

export function parseLowerClaimLocation(s: string | undefined): { cluster: string; namespace: string; name: string } | undefined {
  const parts = s?.split('/');
  if (parts?.length !== 3 || parts.some((p) => !p)) return undefined;
  return { cluster: parts[0]!, namespace: parts[1]!, name: parts[2]! };
}

export function desiredLowerClaim(upper: ClaimObj, lowerNs: string, lowerClass: string, nodeName: string): ClaimObj {
  const s = upper.spec ?? {};
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: lowerClaimName(upper.metadata!.name!),
      namespace: lowerNs,
      labels: ownershipLabels({ nodeName }, upper.metadata ?? {}),
      annotations: { ...ownershipAnnotations(upper.metadata ?? {}), [ANNOTATION_UPPER_PV]: volumeNameFor(upper.metadata!.uid!) },
    },
    spec: {
      storageClassName: lowerClass,
      accessModes: s.accessModes ?? ['ReadWriteOnce'],
      ...(s.volumeMode ? { volumeMode: s.volumeMode } : {}),
      resources: { requests: { storage: s.resources?.requests?.storage ?? '1Gi' } },
    },
  };
}

/**
 * The upper PV standing for the lower claim. Its source is `local` with a path naming the lower claim:
 * no kubelet ever mounts it (the lower cluster does), it needs no CSI driver or attach step in the upper
 * cluster, and the API requires local volumes to carry the node affinity that pins the claim's pods to
 * this virtual node.
 */
export function desiredUpperVolume(
  claim: ClaimObj,
  upperClass: StorageClassObj,
  ctx: { nodeName: string; cluster: string; lowerNs: string },
): KubeObject & { spec: Record<string, unknown> } {
  const m = claim.metadata!;
  const s = claim.spec ?? {};
  const name = lowerClaimName(m.name!);
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: {
      name: volumeNameFor(m.uid!),
      labels: { [LABEL_ORIGIN]: ctx.nodeName },
      annotations: {
        [ANNOTATION_PROVISIONED_BY]: STORAGE_PROVISIONER,
        [ANNOTATION_LOWER_CLAIM]: lowerClaimLocation(ctx.cluster, ctx.lowerNs, name),
      },
    },
    spec: {
      capacity: { storage: s.resources?.requests?.storage ?? '1Gi' },
      accessModes: s.accessModes ?? ['ReadWriteOnce'],
      volumeMode: s.volumeMode ?? 'Filesystem',
      claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: m.namespace, name: m.name, uid: m.uid },
      persistentVolumeReclaimPolicy: upperClass.reclaimPolicy ?? 'Delete',
      storageClassName: upperClass.metadata!.name,
      local: { path: `/fedlet/${ctx.cluster}/${ctx.lowerNs}/${name}` },
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: LABEL_HOSTNAME, operator: 'In', values: [ctx.nodeName] }] }],
        },
      },
    },
  };
}

/**
 * Why fedlet cannot provision a claim at all, or undefined. A data source (snapshot, clone, populator)
 * names an upper object the lower cluster does not have: the lower claim would silently start empty.
 */
export function unsupportedClaim(c: ClaimObj): string | undefined {
  const src = c.spec?.dataSourceRef ?? c.spec?.dataSource;
  if (!src) return undefined;
  return `claims with a data source (${src.kind ?? '?'} ${src.name ?? '?'}: snapshots, clones and volume populators) are not supported by fedlet storage classes; the lower claim would start empty`;
}

/** The upper claims a pod's volumes use: persistentVolumeClaim volumes and generic ephemeral volumes. */
export function podClaims(pod: Pod): Array<{ volume: string; claim: string; ephemeral: boolean }> {
  const out: Array<{ volume: string; claim: string; ephemeral: boolean }> = [];
  for (const v of pod.spec.volumes ?? []) {
    if (v.persistentVolumeClaim) out.push({ volume: v.name, claim: v.persistentVolumeClaim.claimName, ephemeral: false });
    else if (v.ephemeral) out.push({ volume: v.name, claim: `${pod.metadata.name}-${v.name}`, ephemeral: true });
  }
  return out;
}

/** What a Released volume of ours asks for. */
export function releaseAction(pv: VolumeObj): 'delete' | 'retain' | 'none' {
  if (pv.status?.phase !== 'Released') return 'none';
  return pv.spec?.persistentVolumeReclaimPolicy === 'Retain' ? 'retain' : 'delete';
}

/** The condition fedlet sets on an upper claim whose growth the lower cluster cannot take. */
export const CONDITION_RESIZE_ERROR = 'ControllerResizeError';
export const REASON_EXPANSION_REFUSED = 'ExpansionRefused';

function storageOf(list: Record<string, string> | undefined): bigint | undefined {
  const q = list?.storage;
  if (q === undefined) return undefined;
  try {
    return parseQuantity(q);
  } catch (e) {
    if (e instanceof QuantityError) return undefined;
    throw e;
  }
}

/** a > b for storage quantities; unparsable or missing values never compare greater. */
export function storageGreater(a: string | undefined, b: string | undefined): boolean {
  const x = storageOf(a === undefined ? undefined : { storage: a });
  const y = storageOf(b === undefined ? undefined : { storage: b });
  return x !== undefined && (y === undefined || x > y);
}

/**
 * What an upper claim's size asks of its lower claim. The lower claim grows only when its class allows
 * expansion; shrinking is refused by the API server already and never asked for.
 */
export type ExpansionAction = { kind: 'none' } | { kind: 'expand'; size: string } | { kind: 'refuse'; message: string };

export function expansionAction(
  upper: ClaimObj,
  lower: ClaimObj,
  lowerClass: StorageClassObj | undefined,
  cluster: string,
): ExpansionAction {
  const want = upper.spec?.resources?.requests?.storage;
  const has = lower.spec?.resources?.requests?.storage;
  if (!storageGreater(want, has)) return { kind: 'none' };
  const where = `lower claim ${lower.metadata?.namespace}/${lower.metadata?.name} in cluster ${cluster}`;
  if (!lowerClass)
    return {
      kind: 'refuse',
      message: `cannot grow to ${want}: the class of the ${where} (${lower.spec?.storageClassName ?? 'none'}) does not exist there`,
    };
  if (lowerClass.allowVolumeExpansion !== true)
    return {
      kind: 'refuse',
      message: `cannot grow to ${want}: lower storage class ${lowerClass.metadata?.name} of the ${where} does not allow volume expansion; the claim stays at ${has}`,
    };
  return { kind: 'expand', size: want! };
}

/**
 * The status fedlet writes on a bound upper claim: the lower claim's capacity once it is larger than what
 * the upper claim shows (capacity never shrinks), the lower claim's conditions (resize progress and
 * errors), plus a ControllerResizeError condition while a growth is refused. undefined: nothing to write.
 */
export function upperClaimStatus(
  upper: ClaimObj,
  lower: ClaimObj,
  refusal: string | undefined,
  now: string,
): { capacity?: Record<string, string>; conditions: ClaimCondition[] } | undefined {
  const lowerCap = lower.status?.capacity?.storage;
  const upperCap = upper.status?.capacity?.storage;
  const capacity = lower.status?.phase === 'Bound' && storageGreater(lowerCap, upperCap) ? { storage: lowerCap! } : undefined;
  const current = upper.status?.conditions ?? [];
  const conditions: ClaimCondition[] = (lower.status?.conditions ?? []).filter((c) => c.type !== CONDITION_RESIZE_ERROR);
  if (refusal) {
    const prev = current.find((c) => c.type === CONDITION_RESIZE_ERROR && c.message === refusal);
    conditions.push(
      prev ?? {
        type: CONDITION_RESIZE_ERROR,
        status: 'True',
        reason: REASON_EXPANSION_REFUSED,
        message: refusal,
        lastProbeTime: null,
        lastTransitionTime: now,
      },
    );
  } else {
    const lowerError = (lower.status?.conditions ?? []).find((c) => c.type === CONDITION_RESIZE_ERROR);
    if (lowerError) conditions.push(lowerError);
  }
  if (!capacity && JSON.stringify(conditions) === JSON.stringify(current)) return undefined;
  return { ...(capacity ? { capacity } : {}), conditions };
}
