// Upper pod → lower pod. Pure: no I/O. Strips what belongs to the upper cluster (node binding,
// scheduling constraints about virtual nodes), rewrites downward-API env vars that would show lower
// values, sets the service-account identity (service-account.ts), maps claims of fedlet storage classes to
// their lower claims (claims.ts), and adds the ownership labels.
import type { Container, EnvVar, Pod, PodSpec, Volume } from '../../src/kube/types.js';
import {
  ANNOTATION_LAST_APPLIED,
  LABEL_ORIGIN,
  LABEL_POOL,
  LABEL_UPPER_NAME,
  LABEL_UPPER_NAMESPACE,
  LABEL_UPPER_UID,
  STORAGE_PROVISIONER,
} from '../../src/labels.js';
import {
  applyServiceAccount,
  isTokenVolume,
  modeAnnotationProblem,
  ROOT_CA_CONFIGMAP,
  type ServiceAccountOptions,
} from '../configuration/service-account.js';
import { lowerConstraints, lowerSchedulingFields, withPool, type Requirement } from '../../src/scheduling/lower-affinity.js';
import { isObjectName } from '../../src/kube/api-path.js';
import type { TolerationPolicy } from '../tenancy.js';
import { decideTolerations } from './tolerations.js';

/** The pod asks for something fedlet cannot provide in a lower cluster. `field` is a JSON path. */
export interface UnsupportedField {
  field: string;
  message: string;
}

export interface TranslateContext {
  nodeName: string;
  clusterName: string;
  lowerNamespace: string;
  allowDaemonSetPods: boolean;
  /** Identity and API-server address of lower pods; default: upper identity, no address. */
  serviceAccounts?: ServiceAccountOptions;
  /** Upper claim name → lower claim name, for the pod's claims of fedlet storage classes (provider/storage/claims.ts). */
  lowerClaims?: ReadonlyMap<string, string>;
  /**
   * Labels of the virtual node. When given, the pod's node constraints on lower-node keys (those the
   * scheduler extender checked against the lower nodes) are kept on the lower pod.
   */
  virtualNodeLabels?: Record<string, string>;
  /** The lower RuntimeClass/PriorityClass names the pod keeps (lower-classes.ts); absent ones are dropped. */
  classes?: { runtimeClassName?: string; priorityClassName?: string };
  /** The node pool the pod was placed in (provider/pools/pools.ts): its requirements hold below, its name labels the pod. */
  pool?: { name: string; requirements: Requirement[] };
  /** Optional ConfigMaps/Secrets the pod references that do not exist upstairs: the lower pod goes without them. */
  absent?: AbsentReferences;
  /** Which tolerations go down (tolerations.ts); default: all of them. */
  tolerations?: { policy: TolerationPolicy; denied: readonly string[] };
  /** Requirements every lower pod is held to (lowerNodeSelector), as a pool's are. */
  lowerNodeFloor?: Requirement[];
}

/** The first pod feature that cannot work in a lower cluster, naming the field; undefined when none. */
export function unsupportedField(pod: Pod, ctx: TranslateContext): UnsupportedField | undefined {
  const s = pod.spec;
  const where = `pod ${pod.metadata.namespace}/${pod.metadata.name}`;
  if (s.hostNetwork)
    return {
      field: 'spec.hostNetwork',
      message: `${where}: spec.hostNetwork is not supported on virtual node ${ctx.nodeName} (the pod would share a lower node's network); remove it or schedule the pod elsewhere`,
    };
  if (s.hostPID)
    return { field: 'spec.hostPID', message: `${where}: spec.hostPID is not supported on virtual node ${ctx.nodeName}` };
  if (s.hostIPC)
    return { field: 'spec.hostIPC', message: `${where}: spec.hostIPC is not supported on virtual node ${ctx.nodeName}` };
  for (const [i, v] of (s.volumes ?? []).entries()) {
    if (v.hostPath)
      return {
        field: `spec.volumes[${i}].hostPath`,
        message: `${where}: volume "${v.name}" uses hostPath, which is not supported on virtual node ${ctx.nodeName}`,
      };
    if (v.persistentVolumeClaim && !ctx.lowerClaims?.has(v.persistentVolumeClaim.claimName))
      return {
        field: `spec.volumes[${i}].persistentVolumeClaim`,
        message: `${where}: volume "${v.name}" uses persistentVolumeClaim "${v.persistentVolumeClaim.claimName}", which is not of a fedlet storage class (provisioner ${STORAGE_PROVISIONER}); only such claims are replicated to lower clusters`,
      };
    const byName = secretByName(v);
    if (byName)
      return {
        field: `spec.volumes[${i}].${byName}`,
        message: `${where}: volume "${v.name}" names a Secret (${byName}) that a lower kubelet would read from lower namespace ${ctx.lowerNamespace}, not from the pod's upper namespace; it is not supported on virtual node ${ctx.nodeName}`,
      };
    if (v.ephemeral && !ctx.lowerClaims?.has(ephemeralClaimName(pod, v)))
      return {
        field: `spec.volumes[${i}].ephemeral`,
        message: `${where}: ephemeral volume "${v.name}" does not use a fedlet storage class (provisioner ${STORAGE_PROVISIONER}); only such claims are replicated to lower clusters`,
      };
  }
  const all: Array<[string, Container[] | undefined]> = [
    ['containers', s.containers],
    ['initContainers', s.initContainers],
  ];
  for (const [kind, list] of all)
    for (const [i, c] of (list ?? []).entries())
      for (const [j, p] of (c.ports ?? []).entries())
        if (p.hostPort)
          return {
            field: `spec.${kind}[${i}].ports[${j}].hostPort`,
            message: `${where}: container "${c.name}" asks for hostPort ${p.hostPort}, which is not supported on virtual node ${ctx.nodeName}`,
          };
  const mode = modeAnnotationProblem(pod);
  if (mode) return mode;
  const ds = pod.metadata.ownerReferences?.find((o) => o.kind === 'DaemonSet' && o.controller);
  if (ds && !ctx.allowDaemonSetPods)
    return {
      field: 'metadata.ownerReferences',
      message: `${where}: DaemonSet pods (DaemonSet ${ds.name}) are not run on virtual node ${ctx.nodeName}; set allowDaemonSetPods to run them, or add a nodeAffinity excluding type=virtual-kubelet`,
    };
  return undefined;
}

/** Fields of volume sources (csi, cephfs, rbd, iscsi, flexVolume, azureFile, ...) that name a Secret the kubelet reads. */
const SECRET_NAME_FIELDS = ['secretRef', 'secretName', 'nodePublishSecretRef'];

/** `<source>.<field>` of a volume source other than secret that names a Secret, or undefined. */
function secretByName(v: Volume): string | undefined {
  for (const [type, src] of Object.entries(v)) {
    if (type === 'secret' || !src || typeof src !== 'object') continue;
    const field = SECRET_NAME_FIELDS.find((f) => (src as Record<string, unknown>)[f] !== undefined);
    if (field) return `${type}.${field}`;
  }
  return undefined;
}

/** The claim the upper ephemeral-volume controller creates for a generic ephemeral volume. */
function ephemeralClaimName(pod: Pod, v: Volume): string {
  return `${pod.metadata.name}-${v.name}`;
}

/** Claim volumes name the lower claim; a generic ephemeral volume becomes a plain claim volume. */
function translateClaimVolume(v: Volume, pod: Pod, ctx: TranslateContext): Volume {
  const upperClaim = v.persistentVolumeClaim?.claimName ?? (v.ephemeral ? ephemeralClaimName(pod, v) : undefined);
  const lower = upperClaim === undefined ? undefined : ctx.lowerClaims?.get(upperClaim);
  if (lower === undefined) return v;
  const readOnly = (v.persistentVolumeClaim as { readOnly?: boolean } | undefined)?.readOnly;
  return { name: v.name, persistentVolumeClaim: { claimName: lower, ...(readOnly ? { readOnly } : {}) } };
}

const downwardRewrites: Record<string, (pod: Pod, ctx: TranslateContext) => string | undefined> = {
  'metadata.namespace': (p) => p.metadata.namespace,
  'metadata.name': (p) => p.metadata.name,
  'metadata.uid': (p) => p.metadata.uid,
  'spec.nodeName': (_p, ctx) => ctx.nodeName,
  'spec.serviceAccountName': (p) => p.spec.serviceAccountName,
};

function rewriteEnv(env: EnvVar[] | undefined, pod: Pod, ctx: TranslateContext): EnvVar[] | undefined {
  if (!env) return env;
  return env.map((e) => {
    const path = e.valueFrom?.fieldRef?.fieldPath;
    const rewrite = path ? downwardRewrites[path] : undefined;
    if (!rewrite) return e;
    return { name: e.name, value: rewrite(pod, ctx) ?? '' };
  });
}

function translateContainer(c: Container, pod: Pod, ctx: TranslateContext): Container {
  const out: Container = { ...c };
  out.env = rewriteEnv(c.env, pod, ctx);
  if (out.env === undefined) delete out.env;
  return out;
}

/** Ownership labels on every lower object; values of upper names go to annotations (labels cap at 63). */
export function ownershipLabels(ctx: { nodeName: string }, upper: { namespace?: string; uid?: string }): Record<string, string> {
  return { [LABEL_ORIGIN]: ctx.nodeName, ...(upper.uid ? { [LABEL_UPPER_UID]: upper.uid } : {}) };
}
export function ownershipAnnotations(upper: { namespace?: string; name?: string }): Record<string, string> {
  return { [LABEL_UPPER_NAMESPACE]: upper.namespace ?? '', [LABEL_UPPER_NAME]: upper.name ?? '' };
}

/**
 * The lower pod for an upper pod that unsupportedField() accepted. Without ephemeral containers: the API
 * refuses them on create; they reach a running lower pod through its ephemeralcontainers subresource
 * (lowerEphemeralContainers).
 */
export function translatePod(pod: Pod, ctx: TranslateContext): Pod {
  const lower = translateWithEphemeral(pod, ctx);
  delete lower.spec.ephemeralContainers;
  return lower;
}

/** The upper pod's ephemeral containers as the lower pod gets them (env and identity as for the others). */
export function lowerEphemeralContainers(pod: Pod, ctx: TranslateContext): Container[] {
  if (!pod.spec.ephemeralContainers?.length) return [];
  return translateWithEphemeral(pod, ctx).spec.ephemeralContainers ?? [];
}

function translateWithEphemeral(pod: Pod, ctx: TranslateContext): Pod {
  const src = pod.spec;
  const spec: PodSpec = { ...src };
  // Scheduling in the upper cluster chose this virtual node; the lower scheduler picks a lower node.
  for (const k of [
    'nodeName',
    'nodeSelector',
    'affinity',
    'topologySpreadConstraints',
    'schedulerName',
    'readinessGates',
    'serviceAccount',
    'resourceClaims',
    'schedulingGates',
    // Classes are kept below only under their lower names (lower-classes.ts). What the upper admission
    // derived from the upper classes goes: the lower admission derives it again from the lower class
    // (or the lower default priority) and refuses a value that differs from its own.
    'runtimeClassName',
    'overhead',
    'priorityClassName',
    'priority',
    'preemptionPolicy',
  ] as const)
    delete spec[k];
  if (ctx.classes?.runtimeClassName) spec.runtimeClassName = ctx.classes.runtimeClassName;
  if (ctx.classes?.priorityClassName) spec.priorityClassName = ctx.classes.priorityClassName;
  // Constraints on lower-node keys (checked by the extender against lower nodes) hold below too, and so
  // do the pool's requirements and the lower-node floor.
  if (ctx.virtualNodeLabels || ctx.pool || ctx.lowerNodeFloor?.length)
    Object.assign(
      spec,
      lowerSchedulingFields(
        withPool(withPool(lowerConstraints(pod, ctx.virtualNodeLabels ?? {}), ctx.pool?.requirements), ctx.lowerNodeFloor),
      ),
    );
  // Tolerations of the lower cluster's system nodes stay upstairs unless the policy keeps them.
  if (ctx.tolerations && src.tolerations) {
    const kept = decideTolerations(pod, ctx.tolerations.policy, ctx.tolerations.denied).kept;
    if (kept.length) spec.tolerations = kept;
    else delete spec.tolerations;
  }
  spec.containers = src.containers.map((c) => translateContainer(c, pod, ctx));
  if (src.initContainers) spec.initContainers = src.initContainers.map((c) => translateContainer(c, pod, ctx));
  if (src.ephemeralContainers) spec.ephemeralContainers = src.ephemeralContainers.map((c) => translateContainer(c, pod, ctx));
  if (ctx.absent) dropAbsent(spec, ctx.absent);
  // Service-account identity and token volumes (see service-account.ts).
  applyServiceAccount(pod, spec, ctx.serviceAccounts ?? { lowerIdentityNamespaces: new Set() });
  if (spec.volumes) spec.volumes = spec.volumes.map((v) => translateClaimVolume(v, pod, ctx));
  // The application sees the upper pod's name as its hostname (a DNS label, at most 63 characters).
  spec.hostname =
    src.hostname ??
    (pod.metadata.name ?? '')
      .slice(0, 63)
      .replace(/[^a-z0-9-]/g, '-')
      .replace(/^-+|-+$/g, '');
  // Tolerations for the virtual node's own taints are harmless in the lower cluster; they stay.
  const annotations = { ...(pod.metadata.annotations ?? {}), ...ownershipAnnotations(pod.metadata) };
  delete annotations[ANNOTATION_LAST_APPLIED];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: pod.metadata.name,
      namespace: ctx.lowerNamespace,
      labels: {
        ...(pod.metadata.labels ?? {}),
        ...ownershipLabels(ctx, pod.metadata),
        ...(ctx.pool ? { [LABEL_POOL]: ctx.pool.name } : {}),
      },
      annotations,
    },
    spec,
  };
}

export type ReferenceKind = 'configmaps' | 'secrets';

/** One ConfigMap/Secret reference of a pod: where it is, and whether the pod runs without the object. */
export interface PodReference {
  kind: ReferenceKind;
  name: string;
  /** The pod runs without it (optional: true; an image pull secret; any reference of an ephemeral container). */
  optional: boolean;
  /** JSON path of the name, e.g. spec.volumes[0].secret.secretName. */
  field: string;
}

/**
 * Every ConfigMap and Secret reference of the pod, in spec order: volumes, projected sources, env,
 * envFrom (containers, init and ephemeral containers) and imagePullSecrets; not the token volume's CA.
 */
export function podReferences(pod: Pod): PodReference[] {
  const out: PodReference[] = [];
  const add = (kind: ReferenceKind, name: string | undefined, optional: boolean | undefined, field: string) => {
    if (name !== undefined) out.push({ kind, name, optional: !!optional, field });
  };
  for (const [i, v] of (pod.spec.volumes ?? []).entries()) {
    add('configmaps', v.configMap?.name, v.configMap?.optional, `spec.volumes[${i}].configMap.name`);
    add('secrets', v.secret?.secretName, v.secret?.optional, `spec.volumes[${i}].secret.secretName`);
    const tokenVolume = isTokenVolume(v);
    for (const [j, s] of (v.projected?.sources ?? []).entries()) {
      // A token volume's CA is the upper one from the token Secret, or the lower namespace's own.
      if (tokenVolume && s.configMap?.name === ROOT_CA_CONFIGMAP) continue;
      const at = `spec.volumes[${i}].projected.sources[${j}]`;
      add('configmaps', s.configMap?.name, s.configMap?.optional, `${at}.configMap.name`);
      add('secrets', s.secret?.name, s.secret?.optional, `${at}.secret.name`);
    }
  }
  // An ephemeral container's missing reference must not hold back a running pod: its objects are
  // reflected when present, and otherwise the container runs without them.
  for (const kind of ['containers', 'initContainers', 'ephemeralContainers'] as const) {
    const ephemeral = kind === 'ephemeralContainers';
    for (const [i, c] of (pod.spec[kind] ?? []).entries()) {
      for (const [j, e] of (c.env ?? []).entries()) {
        const at = `spec.${kind}[${i}].env[${j}].valueFrom`;
        const cm = e.valueFrom?.configMapKeyRef;
        const sec = e.valueFrom?.secretKeyRef;
        add('configmaps', cm?.name, ephemeral || cm?.optional, `${at}.configMapKeyRef.name`);
        add('secrets', sec?.name, ephemeral || sec?.optional, `${at}.secretKeyRef.name`);
      }
      for (const [j, e] of (c.envFrom ?? []).entries()) {
        const at = `spec.${kind}[${i}].envFrom[${j}]`;
        add('configmaps', e.configMapRef?.name, ephemeral || e.configMapRef?.optional, `${at}.configMapRef.name`);
        add('secrets', e.secretRef?.name, ephemeral || e.secretRef?.optional, `${at}.secretRef.name`);
      }
    }
  }
  // A kubelet pulls without an image pull secret it cannot find (with a warning): optional.
  for (const [i, s] of (pod.spec.imagePullSecrets ?? []).entries())
    add('secrets', s.name, true, `spec.imagePullSecrets[${i}].name`);
  return out;
}

export interface DependencyRefs {
  configMaps: Map<string, boolean>; // name → optional
  secrets: Map<string, boolean>;
}

/**
 * The distinct ConfigMaps and Secrets the pod references, each optional only if every reference to it
 * is. Names that are not object names are left out (referenceProblem refuses such a pod).
 */
export function dependencyRefs(pod: Pod): DependencyRefs {
  const refs: DependencyRefs = { configMaps: new Map(), secrets: new Map() };
  for (const r of podReferences(pod)) {
    if (!isObjectName(r.name)) continue;
    const m = r.kind === 'configmaps' ? refs.configMaps : refs.secrets;
    // required wins over optional when the same object is referenced twice
    m.set(r.name, (m.get(r.name) ?? true) && r.optional);
  }
  return refs;
}

/** Why the pod's references cannot go down as they are (a refusal reason and message), or undefined. */
export function referenceProblem(
  pod: Pod,
  ctx: { nodeName: string; maxReferences: number },
): { reason: 'InvalidReference' | 'TooManyReferences'; field?: string; message: string } | undefined {
  const where = `pod ${pod.metadata.namespace}/${pod.metadata.name}`;
  const refs = podReferences(pod);
  for (const r of refs)
    if (!isObjectName(r.name))
      return {
        reason: 'InvalidReference',
        field: r.field,
        message: `${where}: ${r.field} "${r.name.slice(0, 300)}" is not a valid ${r.kind === 'configmaps' ? 'ConfigMap' : 'Secret'} name (lowercase letters, digits, '-' and '.', at most 253 characters); fix the reference`,
      };
  const distinct = new Set(refs.map((r) => `${r.kind}/${r.name}`)).size;
  if (distinct > ctx.maxReferences)
    return {
      reason: 'TooManyReferences',
      message: `${where} references ${distinct} distinct ConfigMaps and Secrets; virtual node ${ctx.nodeName} takes at most ${ctx.maxReferences} per pod (maxReferencesPerPod)`,
    };
  return undefined;
}

/** Optional references that do not resolve in the upper cluster, by kind. */
export interface AbsentReferences {
  configMaps: ReadonlySet<string>;
  secrets: ReadonlySet<string>;
}

/**
 * Removes every reference to an absent optional object from a translated spec, so the lower kubelet sees
 * what a kubelet upstairs would: an optional ConfigMap/Secret volume becomes an empty read-only volume
 * (a projection of nothing), projected sources, env vars, envFrom entries and image pull secrets go.
 * Nothing below is ever looked up by a name that did not resolve upstairs. Mutates `spec` (the caller's copy).
 */
function dropAbsent(spec: PodSpec, absent: AbsentReferences): void {
  const cm = (n: string | undefined) => n !== undefined && absent.configMaps.has(n);
  const sec = (n: string | undefined) => n !== undefined && absent.secrets.has(n);
  if (spec.volumes)
    spec.volumes = spec.volumes.map((v): Volume => {
      if (cm(v.configMap?.name) || sec(v.secret?.secretName)) {
        const mode = (v.configMap ?? v.secret) as { defaultMode?: number };
        return {
          name: v.name,
          projected: { sources: [], ...(mode.defaultMode !== undefined ? { defaultMode: mode.defaultMode } : {}) },
        };
      }
      const sources = v.projected?.sources;
      if (!sources) return v;
      const kept = sources.filter((s) => !cm(s.configMap?.name) && !sec(s.secret?.name));
      return kept.length === sources.length ? v : { ...v, projected: { ...v.projected, sources: kept } };
    });
  const strip = (c: Container): Container => {
    const out: Container = { ...c };
    if (c.env) out.env = c.env.filter((e) => !cm(e.valueFrom?.configMapKeyRef?.name) && !sec(e.valueFrom?.secretKeyRef?.name));
    if (c.envFrom) out.envFrom = c.envFrom.filter((e) => !cm(e.configMapRef?.name) && !sec(e.secretRef?.name));
    return out;
  };
  spec.containers = spec.containers.map(strip);
  if (spec.initContainers) spec.initContainers = spec.initContainers.map(strip);
  if (spec.ephemeralContainers) spec.ephemeralContainers = spec.ephemeralContainers.map(strip);
  if (spec.imagePullSecrets) {
    const kept = spec.imagePullSecrets.filter((s) => !sec(s.name));
    if (kept.length) spec.imagePullSecrets = kept;
    else delete spec.imagePullSecrets;
  }
}
