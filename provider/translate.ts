// Upper pod → lower pod. Pure: no I/O. Strips what belongs to the upper cluster (node binding,
// scheduling constraints about virtual nodes, the upper service-account token), rewrites downward-API
// env vars that would show lower values, and adds the ownership labels and annotations.
import type { Container, EnvVar, Pod, PodSpec, Volume } from '../src/kube/types.js';
import { LABEL_ORIGIN, LABEL_UPPER_NAME, LABEL_UPPER_NAMESPACE, LABEL_UPPER_UID } from '../src/labels.js';
import { lowerConstraints, lowerSchedulingFields } from './lower-affinity.js';

/** The pod asks for something fedlet cannot provide in a lower cluster. `field` is a JSON path. */
export class UnsupportedPodError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'UnsupportedPodError';
  }
}

export interface TranslateContext {
  nodeName: string;
  clusterName: string;
  lowerNamespace: string;
  allowDaemonSetPods: boolean;
  /**
   * Labels of the virtual node. When given, the pod's node constraints on lower-node keys (those the
   * scheduler extender checked against the lower nodes) are kept on the lower pod.
   */
  virtualNodeLabels?: Record<string, string>;
}

/** Rejects pod features that cannot work in a lower cluster, naming the field. */
export function validatePod(pod: Pod, ctx: TranslateContext): void {
  const s = pod.spec;
  const where = `pod ${pod.metadata.namespace}/${pod.metadata.name}`;
  if (s.hostNetwork)
    throw new UnsupportedPodError(
      'spec.hostNetwork',
      `${where}: spec.hostNetwork is not supported on virtual node ${ctx.nodeName} (the pod would share a lower node's network); remove it or schedule the pod elsewhere`,
    );
  if (s.hostPID)
    throw new UnsupportedPodError('spec.hostPID', `${where}: spec.hostPID is not supported on virtual node ${ctx.nodeName}`);
  if (s.hostIPC)
    throw new UnsupportedPodError('spec.hostIPC', `${where}: spec.hostIPC is not supported on virtual node ${ctx.nodeName}`);
  for (const [i, v] of (s.volumes ?? []).entries()) {
    if (v.hostPath)
      throw new UnsupportedPodError(
        `spec.volumes[${i}].hostPath`,
        `${where}: volume "${v.name}" uses hostPath, which is not supported on virtual node ${ctx.nodeName}`,
      );
    if (v.persistentVolumeClaim)
      throw new UnsupportedPodError(
        `spec.volumes[${i}].persistentVolumeClaim`,
        `${where}: volume "${v.name}" uses persistentVolumeClaim "${v.persistentVolumeClaim.claimName}"; claims are not replicated to lower clusters yet`,
      );
  }
  const all: Array<[string, Container[] | undefined]> = [
    ['containers', s.containers],
    ['initContainers', s.initContainers],
  ];
  for (const [kind, list] of all)
    for (const [i, c] of (list ?? []).entries())
      for (const [j, p] of (c.ports ?? []).entries())
        if (p.hostPort)
          throw new UnsupportedPodError(
            `spec.${kind}[${i}].ports[${j}].hostPort`,
            `${where}: container "${c.name}" asks for hostPort ${p.hostPort}, which is not supported on virtual node ${ctx.nodeName}`,
          );
  const ds = pod.metadata.ownerReferences?.find((o) => o.kind === 'DaemonSet' && o.controller);
  if (ds && !ctx.allowDaemonSetPods)
    throw new UnsupportedPodError(
      'metadata.ownerReferences',
      `${where}: DaemonSet pods (DaemonSet ${ds.name}) are not run on virtual node ${ctx.nodeName}; set allowDaemonSetPods to run them, or add a nodeAffinity excluding type=virtual-kubelet`,
    );
}

const hasTokenSource = (v: Volume) => !!v.projected?.sources?.some((src) => src.serviceAccountToken !== undefined);

/**
 * The volume the ServiceAccount admission plugin injects (kube-api-access-*: token, CA, namespace):
 * without the upper token it means nothing below, so it goes whole (as automountServiceAccountToken).
 */
function isServiceAccountTokenVolume(v: Volume): boolean {
  return v.name.startsWith('kube-api-access-') && hasTokenSource(v);
}

/**
 * Projected volumes the user wrote with a serviceAccountToken source: fedlet keeps every other source
 * (ConfigMap, Secret, downward API) and drops the token source alone. Returns their names.
 */
export function droppedTokenSources(pod: Pod): string[] {
  return (pod.spec.volumes ?? []).filter((v) => hasTokenSource(v) && !isServiceAccountTokenVolume(v)).map((v) => v.name);
}

/** A user's projected volume without its token source(s); undefined when nothing else is left. */
function withoutTokenSources(v: Volume): Volume | undefined {
  if (!hasTokenSource(v) || !v.projected) return v;
  const sources = (v.projected.sources ?? []).filter((src) => src.serviceAccountToken === undefined);
  return sources.length ? { ...v, projected: { ...v.projected, sources } } : undefined;
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

function translateContainer(c: Container, dropMounts: Set<string>, pod: Pod, ctx: TranslateContext): Container {
  const out: Container = { ...c };
  out.env = rewriteEnv(c.env, pod, ctx);
  if (out.env === undefined) delete out.env;
  if (c.volumeMounts) out.volumeMounts = c.volumeMounts.filter((m) => !dropMounts.has(m.name));
  return out;
}

/** Ownership labels on every lower object; values of upper names go to annotations (labels cap at 63). */
export function ownershipLabels(ctx: { nodeName: string }, upper: { namespace?: string; uid?: string }): Record<string, string> {
  return { [LABEL_ORIGIN]: ctx.nodeName, ...(upper.uid ? { [LABEL_UPPER_UID]: upper.uid } : {}) };
}
export function ownershipAnnotations(upper: { namespace?: string; name?: string }): Record<string, string> {
  return { [LABEL_UPPER_NAMESPACE]: upper.namespace ?? '', [LABEL_UPPER_NAME]: upper.name ?? '' };
}

export function translatePod(pod: Pod, ctx: TranslateContext): Pod {
  validatePod(pod, ctx);
  const src = pod.spec;
  const dropVolumes = new Set(
    (src.volumes ?? []).filter((v) => isServiceAccountTokenVolume(v) || !withoutTokenSources(v)).map((v) => v.name),
  );
  const spec: PodSpec = { ...src };
  // Scheduling in the upper cluster chose this virtual node; the lower scheduler picks a lower node.
  for (const k of [
    'nodeName',
    'nodeSelector',
    'affinity',
    'topologySpreadConstraints',
    'schedulerName',
    'priority',
    'priorityClassName',
    'preemptionPolicy',
    'readinessGates',
    'serviceAccount',
    'runtimeClassName',
    // Set by RuntimeClass admission from the class above; without the class the lower admission refuses it.
    'overhead',
    'resourceClaims',
    'schedulingGates',
  ] as const)
    delete spec[k];
  if (ctx.virtualNodeLabels) Object.assign(spec, lowerSchedulingFields(lowerConstraints(pod, ctx.virtualNodeLabels)));
  // The upper service account and its token mean nothing in the lower cluster: run as the lower
  // namespace's default service account, with no token mounted.
  spec.serviceAccountName = 'default';
  spec.automountServiceAccountToken = false;
  spec.volumes = (src.volumes ?? []).filter((v) => !dropVolumes.has(v.name)).map((v) => withoutTokenSources(v)!);
  if (!spec.volumes.length) delete spec.volumes;
  spec.containers = src.containers.map((c) => translateContainer(c, dropVolumes, pod, ctx));
  if (src.initContainers) spec.initContainers = src.initContainers.map((c) => translateContainer(c, dropVolumes, pod, ctx));
  delete spec.ephemeralContainers;
  // The application sees the upper pod's name as its hostname (a DNS label, at most 63 characters).
  spec.hostname =
    src.hostname ??
    (pod.metadata.name ?? '')
      .slice(0, 63)
      .replace(/[^a-z0-9-]/g, '-')
      .replace(/^-+|-+$/g, '');
  // Tolerations for the virtual node's own taints are harmless in the lower cluster; keep them all.
  const annotations = { ...(pod.metadata.annotations ?? {}), ...ownershipAnnotations(pod.metadata) };
  delete annotations['kubectl.kubernetes.io/last-applied-configuration'];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: pod.metadata.name,
      namespace: ctx.lowerNamespace,
      labels: { ...(pod.metadata.labels ?? {}), ...ownershipLabels(ctx, pod.metadata) },
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
    if (isServiceAccountTokenVolume(v)) continue;
    addRef(refs.configMaps, v.configMap?.name, v.configMap?.optional);
    addRef(refs.secrets, v.secret?.secretName, v.secret?.optional);
    for (const s of v.projected?.sources ?? []) {
      addRef(refs.configMaps, s.configMap?.name, s.configMap?.optional);
      addRef(refs.secrets, s.secret?.name, s.secret?.optional);
    }
  }
  for (const c of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) {
    for (const e of c.env ?? []) {
      addRef(refs.configMaps, e.valueFrom?.configMapKeyRef?.name, e.valueFrom?.configMapKeyRef?.optional);
      addRef(refs.secrets, e.valueFrom?.secretKeyRef?.name, e.valueFrom?.secretKeyRef?.optional);
    }
    for (const e of c.envFrom ?? []) {
      addRef(refs.configMaps, e.configMapRef?.name, e.configMapRef?.optional);
      addRef(refs.secrets, e.secretRef?.name, e.secretRef?.optional);
    }
  }
  for (const s of pod.spec.imagePullSecrets ?? []) addRef(refs.secrets, s.name, false);
  return refs;
}
