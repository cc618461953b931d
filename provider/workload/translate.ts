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
  // Constraints on lower-node keys (checked by the extender against lower nodes) hold below too.
  if (ctx.virtualNodeLabels || ctx.pool)
    Object.assign(
      spec,
      lowerSchedulingFields(withPool(lowerConstraints(pod, ctx.virtualNodeLabels ?? {}), ctx.pool?.requirements)),
    );
  spec.containers = src.containers.map((c) => translateContainer(c, pod, ctx));
  if (src.initContainers) spec.initContainers = src.initContainers.map((c) => translateContainer(c, pod, ctx));
  if (src.ephemeralContainers) spec.ephemeralContainers = src.ephemeralContainers.map((c) => translateContainer(c, pod, ctx));
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
  // Tolerations for the virtual node's own taints are harmless in the lower cluster; keep them all.
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

export interface DependencyRefs {
  configMaps: Map<string, boolean>; // name → optional
  secrets: Map<string, boolean>;
}

function addRef(m: Map<string, boolean>, name: string | undefined, optional: boolean | undefined): void {
  if (!name) return;
  // required wins over optional when the same object is referenced twice
  m.set(name, (m.get(name) ?? true) && !!optional);
}

/** Every ConfigMap and Secret the pod references (volumes, projected, env, envFrom, imagePullSecrets). */
export function dependencyRefs(pod: Pod): DependencyRefs {
  const refs: DependencyRefs = { configMaps: new Map(), secrets: new Map() };
  for (const v of pod.spec.volumes ?? []) {
    addRef(refs.configMaps, v.configMap?.name, v.configMap?.optional);
    addRef(refs.secrets, v.secret?.secretName, v.secret?.optional);
    const tokenVolume = isTokenVolume(v);
    for (const s of v.projected?.sources ?? []) {
      // A token volume's CA is the upper one from the token Secret, or the lower namespace's own.
      if (tokenVolume && s.configMap?.name === ROOT_CA_CONFIGMAP) continue;
      addRef(refs.configMaps, s.configMap?.name, s.configMap?.optional);
      addRef(refs.secrets, s.secret?.name, s.secret?.optional);
    }
  }
  // An ephemeral container's missing reference must not hold back a running pod: its objects are
  // reflected when present, and otherwise the lower kubelet fails that container alone, as a kubelet does.
  const containers: Array<[Container, boolean]> = [
    ...[...pod.spec.containers, ...(pod.spec.initContainers ?? [])].map((c): [Container, boolean] => [c, false]),
    ...(pod.spec.ephemeralContainers ?? []).map((c): [Container, boolean] => [c, true]),
  ];
  for (const [c, ephemeral] of containers) {
    for (const e of c.env ?? []) {
      addRef(refs.configMaps, e.valueFrom?.configMapKeyRef?.name, ephemeral || e.valueFrom?.configMapKeyRef?.optional);
      addRef(refs.secrets, e.valueFrom?.secretKeyRef?.name, ephemeral || e.valueFrom?.secretKeyRef?.optional);
    }
    for (const e of c.envFrom ?? []) {
      addRef(refs.configMaps, e.configMapRef?.name, ephemeral || e.configMapRef?.optional);
      addRef(refs.secrets, e.secretRef?.name, ephemeral || e.secretRef?.optional);
    }
  }
  for (const s of pod.spec.imagePullSecrets ?? []) addRef(refs.secrets, s.name, false);
  return refs;
}
