// The probe pod of `fedlet doctor`: one small pod bound straight to a virtual node (no scheduler in the
// way), followed through fedlet into the lower cluster and back — Running and Ready upstairs, then, all
// at once, its logs, exec, attach, port-forward, its usage in the kubelet API's summary (top), a Service
// of its own resolved and reached from inside it (dns-service), a call to the upper API server with its
// projected token (token) — then its deletion. Every probe object is labelled with the run, and deleted
// whatever happens.
import type { KubeClient } from '../../src/kube/client.js';
import { isNotFound } from '../../src/kube/client.js';
import type { Node, Pod } from '../../src/kube/types.js';
import { LABEL_DOCTOR, LABEL_DOCTOR_PROBE, TAINT_VIRTUAL_NODE } from '../../src/labels.js';
import { dnsServiceCheck, PROBE_ENV, probeService, tokenCheck } from './in-pod-checks.js';
import type { Kubectl } from './kubectl.js';
import { fedletName } from './node-checks.js';
import {
  attachCheck,
  execCheck,
  logsCheck,
  noKubectl,
  portForwardCheck,
  PROBE_MARKER,
  PROBE_PORT,
  waitFor,
} from './probe-streams.js';
import { failed, ok, skipped, type Check } from './report.js';
import { topCheck } from './top-check.js';

export { PROBE_MARKER, PROBE_PORT } from './probe-streams.js';

/** The probe's checks, in the order they are reported. */
export const PROBE_STEPS = [
  'pod-round-trip',
  'logs',
  'exec',
  'attach',
  'port-forward',
  'top',
  'dns-service',
  'token',
  'cleanup',
] as const;

export interface ProbeOptions {
  namespace: string;
  image: string;
  /** How long the pod may take to run, and to go away. */
  timeoutMs: number;
  /** Labels the run's pods (and names them). */
  runId: string;
  kubectl?: Kubectl;
  /** Lower-node labels the probe asks for (e.g. to land on a real node beside simulated ones). */
  lowerNodeSelector?: Record<string, string>;
  /** Taint keys the probe tolerates besides the virtual node's. */
  tolerations?: string[];
  /** Whether the credentials may do what a check needs (rbac); the probe's Service needs dns-service. */
  can: (check: string) => boolean;
}

export function probePod(node: string, index: number, o: ProbeOptions): Pod {
  const name = `${PROBE_MARKER}-${o.runId}-${index}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: o.namespace, labels: { [LABEL_DOCTOR]: o.runId, [LABEL_DOCTOR_PROBE]: name } },
    spec: {
      nodeName: node,
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
      // The token check calls the upper API server with the projected token fedlet mounts.
      automountServiceAccountToken: true,
      ...(o.lowerNodeSelector && Object.keys(o.lowerNodeSelector).length ? { nodeSelector: o.lowerNodeSelector } : {}),
      tolerations: [
        { key: TAINT_VIRTUAL_NODE, operator: 'Exists' },
        ...(o.tolerations ?? []).map((key) => ({ key, operator: 'Exists' })),
      ],
      securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'probe',
          image: o.image,
          // A line every two seconds from the main process: what `kubectl attach` shows.
          command: [
            'sh',
            '-c',
            `echo ${PROBE_MARKER} probe started; httpd -f -p ${PROBE_PORT} -h /tmp & while true; do echo ${PROBE_MARKER} probe alive; sleep 2; done`,
          ],
          env: [{ name: PROBE_ENV, value: o.runId }],
          ports: [{ containerPort: PROBE_PORT, protocol: 'TCP' }],
          resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '32Mi' } },
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  };
}

/** What the pod's status says about why it is not running, and what to do. */
export function whyNotRunning(pod: Pod, image: string, fedlet: string): { detail: string; fix: string } {
  const st = pod.status ?? {};
  const conditions = st.conditions ?? [];
  const containers = st.containerStatuses ?? [];
  const reason = st.reason;
  const message = st.message ?? '';
  const phase = st.phase ?? 'Pending';
  const waiting = containers.map((c) => c.state?.waiting).find((w) => w?.reason);
  const lowerSched = conditions.find((c) => c.type === 'fedlet.io/LowerScheduled' && c.status === 'False');
  const detail = [
    `phase ${phase}`,
    reason ? `reason ${reason}${message ? `: ${message}` : ''}` : '',
    waiting ? `container waiting: ${waiting.reason}${waiting.message ? ` (${waiting.message})` : ''}` : '',
    lowerSched ? `lower scheduler: ${lowerSched.message ?? lowerSched.reason ?? ''}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  if (reason === 'LowerRejected')
    return {
      detail,
      fix: 'the lower cluster refuses the probe pod (PodSecurity, quota, a webhook): pass --namespace with a namespace whose lower copy admits it',
    };
  if (/^(ServiceAccount|NodeCredentialsPending|UpperCANotFound)/.test(reason ?? ''))
    return {
      detail,
      fix: `${fedlet} cannot issue the probe's service-account token (the pod mounts one for the token check): see docs/tokens.md for ${reason}`,
    };
  if (reason === 'NodeAffinity')
    return {
      detail,
      fix: 'no lower node offered by the virtual node matches --probe-node-selector: name a label those nodes carry',
    };
  if (reason === 'UnsupportedPodSpec')
    return { detail, fix: 'fedlet refuses the probe pod itself: this is a bug, please report it with this output' };
  if (waiting && /ImagePull|ErrImage|InvalidImage/.test(waiting.reason ?? ''))
    return {
      detail,
      fix: `the lower cluster cannot pull ${image}: pass --image with an image (with sh and httpd, e.g. busybox) it can pull`,
    };
  if (lowerSched)
    return { detail, fix: 'the lower cluster has no node for the probe (10m CPU, 16Mi): check its nodes and taints' };
  if (phase === 'Pending' && !reason && !containers.length)
    return { detail, fix: `${fedlet} did not act on the pod: check that it runs and leads, and its logs` };
  return { detail, fix: `look at 'kubectl describe pod' of the probe and ${fedlet}'s logs` };
}

const isReady = (p: Pod) =>
  p.status?.phase === 'Running' && (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** The checks on the running probe, all at once (each waits on its own stream or call). */
function runningChecks(
  upper: KubeClient,
  node: Node,
  pod: Pod,
  podPath: string,
  o: ProbeOptions,
  service?: string,
): Promise<Check[]> {
  const name = node.metadata.name;
  const fix = `the path API server → fedlet → lower API server → lower kubelet broke: check ${fedletName(node)}'s logs (relay errors) and the lower RBAC (pods/exec, pods/attach, pods/portforward)`;
  const k = o.kubectl;
  const gated = (check: string, run: (k: Kubectl) => Promise<Check>): Promise<Check> =>
    !o.can(check)
      ? Promise.resolve(skipped(name, check, 'your credentials lack a right it needs (see rbac)'))
      : k
        ? run(k)
        : Promise.resolve(noKubectl(name, check));
  const exec = k && o.can('exec') ? execCheck(k, name, pod, o.runId, fix) : undefined;
  const inContainer = exec ? exec.then((r) => r.inContainer) : Promise.resolve(undefined);
  return Promise.all([
    logsCheck(upper, name, podPath, fix),
    exec
      ? exec.then((r) => r.check)
      : Promise.resolve(o.can('exec') ? noKubectl(name, 'exec') : skipped(name, 'exec', 'may not create pods/exec (see rbac)')),
    gated('attach', (k) => attachCheck(k, name, pod, fix, inContainer)),
    gated('port-forward', (k) => portForwardCheck(k, name, pod, fix)),
    o.can('top')
      ? topCheck(upper, node, { name: pod.metadata.name!, namespace: o.namespace })
      : Promise.resolve(skipped(name, 'top', 'may not get nodes/proxy (see rbac)')),
    gated('dns-service', (k) => dnsServiceCheck(k, name, pod, o.runId, service)),
    gated('token', (k) => tokenCheck(upper, k, name, pod, o.runId)),
  ]);
}

/** Creates the probe's Service (the dns-service check resolves it); undefined when it may not or cannot. */
async function createService(upper: KubeClient, pod: Pod, o: ProbeOptions, created: Set<string>): Promise<string | undefined> {
  if (!o.can('dns-service')) return undefined;
  const base = `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/services`;
  try {
    await upper.create(base, probeService(pod, o.runId));
  } catch {
    return undefined;
  }
  created.add(`${base}/${encodeURIComponent(pod.metadata.name!)}`);
  return pod.metadata.name!;
}

/** Runs the probe pod on one virtual node; returns one check per PROBE_STEPS entry. */
export async function probeChecks(
  upper: KubeClient,
  node: Node,
  index: number,
  o: ProbeOptions,
  created: Set<string>,
): Promise<Check[]> {
  const name = node.metadata.name;
  const fedlet = fedletName(node);
  const body = probePod(name, index, o);
  const path = `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/pods`;
  const podPath = `${path}/${encodeURIComponent(body.metadata.name!)}`;
  const checks: Check[] = [];
  // The Service first: fedlet copies it below as soon as the probe's namespace is used there.
  const service = await createService(upper, body, o, created);
  try {
    await upper.create(path, body);
  } catch (e) {
    return [
      failed(
        name,
        'pod-round-trip',
        `cannot create the probe pod in ${o.namespace}: ${(e as Error).message}`,
        'pass --namespace with a namespace where you may create pods',
      ),
      ...PROBE_STEPS.slice(1, -1).map((c) => skipped(name, c, 'the probe pod was not created')),
      await removeService(upper, name, service, o.namespace, created),
    ];
  }
  created.add(podPath);
  try {
    let last: Pod = body;
    const started = Date.now();
    const running = await waitFor(async () => {
      last = await upper.get<Pod>(podPath).catch(() => last);
      return isReady(last) || ['Failed', 'Succeeded'].includes(last.status?.phase ?? '');
    }, o.timeoutMs);
    const took = Math.round((Date.now() - started) / 1000);
    if (!running || !isReady(last)) {
      const why = whyNotRunning(last, o.image, fedlet);
      checks.push(failed(name, 'pod-round-trip', `not Running and Ready after ${took}s: ${why.detail}`, why.fix));
      for (const c of PROBE_STEPS.slice(1, -1)) checks.push(skipped(name, c, 'the probe pod did not run'));
    } else {
      checks.push(
        ok(name, 'pod-round-trip', `probe pod Running and Ready after ${took}s (pod IP ${String(last.status?.podIP ?? 'none')})`),
      );
      checks.push(...(await runningChecks(upper, node, last, podPath, o, service)));
    }
  } finally {
    const pod = await removeProbe(upper, name, podPath, o.timeoutMs, fedlet, created);
    const svc = await removeService(upper, name, service, o.namespace, created);
    checks.push(
      svc.result === 'failed' ? { ...pod, result: 'failed', detail: `${pod.detail}; ${svc.detail}`, fix: svc.fix } : pod,
    );
  }
  return checks;
}

async function removeService(
  upper: KubeClient,
  node: string,
  service: string | undefined,
  namespace: string,
  created: Set<string>,
): Promise<Check> {
  if (!service) return ok(node, 'cleanup', 'nothing was created');
  const p = `/api/v1/namespaces/${encodeURIComponent(namespace)}/services/${encodeURIComponent(service)}`;
  try {
    await upper.delete(p);
  } catch (e) {
    if (!isNotFound(e))
      return failed(
        node,
        'cleanup',
        `cannot delete the probe's Service: ${(e as Error).message}`,
        `kubectl delete svc -A -l ${LABEL_DOCTOR}`,
      );
  }
  created.delete(p);
  return ok(node, 'cleanup', 'Service deleted');
}

/**
 * Deletes the probe pod gracefully and waits until the upper pod is gone: fedlet removes it only once the
 * lower pod is gone, so this checks deletion in both clusters. Past the timeout it is force-deleted.
 */
async function removeProbe(
  upper: KubeClient,
  node: string,
  podPath: string,
  timeoutMs: number,
  fedlet: string,
  created: Set<string>,
): Promise<Check> {
  const gone = () =>
    upper.get(podPath).then(
      () => false,
      (e: unknown) => isNotFound(e),
    );
  try {
    await upper.delete(podPath, { gracePeriodSeconds: 1 });
  } catch (e) {
    if (!isNotFound(e))
      return failed(
        node,
        'cleanup',
        `cannot delete the probe pod: ${(e as Error).message}`,
        `delete it yourself: kubectl delete pod -A -l ${LABEL_DOCTOR}`,
      );
  }
  if (await waitFor(gone, timeoutMs)) {
    created.delete(podPath);
    return ok(node, 'cleanup', 'probe pod deleted in both clusters (fedlet removed the lower pod first)');
  }
  await forceDelete(upper, podPath).catch(() => undefined);
  if (await waitFor(gone, 10_000)) created.delete(podPath);
  return failed(
    node,
    'cleanup',
    `the probe pod was still there ${Math.round(timeoutMs / 1000)}s after its deletion; force-deleted it`,
    `${fedlet} completes a deletion once the lower pod is gone: check its logs (its lower pod is removed when fedlet resyncs)`,
  );
}

/** Removes a probe pod at once (grace period 0), e.g. when doctor is interrupted. */
export function forceDelete(upper: KubeClient, podPath: string): Promise<unknown> {
  return upper.delete(podPath, { gracePeriodSeconds: 0 });
}
