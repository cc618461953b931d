// The probe pod of `fedlet doctor`: one small pod bound straight to a virtual node (no scheduler in the
// way), followed through fedlet into the lower cluster and back — Running and Ready upstairs, then its
// logs, exec and port-forward through the upper API server, then its deletion. Every probe pod is
// labelled with the run, and deleted whatever happens.
import net from 'node:net';
import type { KubeClient } from '../../src/kube/client.js';
import { isNotFound } from '../../src/kube/client.js';
import type { Node, Pod } from '../../src/kube/types.js';
import { LABEL_DOCTOR, TAINT_VIRTUAL_NODE } from '../../src/labels.js';
import { fedletName } from './node-checks.js';
import type { Kubectl } from './kubectl.js';
import { failed, ok, skipped, type Check } from './report.js';

export const PROBE_PORT = 8080;
export const PROBE_MARKER = 'fedlet-doctor';

export interface ProbeOptions {
  namespace: string;
  image: string;
  /** How long the pod may take to run, and to go away. */
  timeoutMs: number;
  /** Labels the run's pods (and names them). */
  runId: string;
  kubectl?: Kubectl;
}

export function probePod(node: string, index: number, o: ProbeOptions): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${PROBE_MARKER}-${o.runId}-${index}`, namespace: o.namespace, labels: { [LABEL_DOCTOR]: o.runId } },
    spec: {
      nodeName: node,
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
      // No service-account token: the probe checks the pod path, not token issuance.
      automountServiceAccountToken: false,
      tolerations: [{ key: TAINT_VIRTUAL_NODE, operator: 'Exists' }],
      securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'probe',
          image: o.image,
          command: ['sh', '-c', `echo ${PROBE_MARKER} probe started; exec httpd -f -p ${PROBE_PORT} -h /tmp`],
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

async function waitFor(pred: () => Promise<boolean>, timeoutMs: number, intervalMs = 1000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return true;
    if (Date.now() + intervalMs > deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Port-forwards to the probe's port with kubectl; the stream is up once kubectl listens locally. */
async function portForwardCheck(kubectl: Kubectl, node: string, pod: Pod, fix: string): Promise<Check> {
  const child = kubectl.start(['port-forward', '-n', pod.metadata.namespace!, `pod/${pod.metadata.name}`, `:${PROBE_PORT}`]);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  try {
    const listening = await waitFor(
      async () => /Forwarding from 127\.0\.0\.1:\d+/.test(out) || child.exitCode !== null,
      20_000,
      100,
    );
    const port = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out)?.[1];
    if (!listening || !port)
      return failed(
        node,
        'port-forward',
        `kubectl port-forward did not get a stream: ${(err || out).trim() || 'no answer in 20 s'}`,
        fix,
      );
    const answer = await new Promise<string>((resolve) => {
      const s = net.connect(Number(port), '127.0.0.1');
      let got = '';
      s.setTimeout(5000, () => s.destroy());
      s.on('connect', () => s.write('GET / HTTP/1.0\r\n\r\n'));
      s.on('data', (c: Buffer) => (got += c.toString('latin1')));
      s.on('close', () => resolve(got));
      s.on('error', () => undefined);
    });
    return ok(
      node,
      'port-forward',
      answer.startsWith('HTTP/')
        ? `HTTP answer from the probe pod's port ${PROBE_PORT} (${answer.split('\r\n')[0]})`
        : `stream established through the upper API server and fedlet to the lower kubelet (port ${PROBE_PORT} in the pod gave no answer${/refused/.test(err) ? ': connection refused there' : ''})`,
    );
  } finally {
    child.kill('SIGTERM');
  }
}

/** Runs the probe pod on one virtual node; returns pod-round-trip, logs, exec, port-forward and cleanup. */
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
  const streamFix = `the path API server → fedlet → lower API server → lower kubelet broke: check ${fedlet}'s logs (relay errors) and the lower RBAC (pods/exec, pods/portforward)`;
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
    if (!running || !isReady(last)) {
      const why = whyNotRunning(last, o.image, fedlet);
      checks.push(
        failed(
          name,
          'pod-round-trip',
          `not Running and Ready after ${Math.round((Date.now() - started) / 1000)}s: ${why.detail}`,
          why.fix,
        ),
      );
      for (const c of ['logs', 'exec', 'port-forward']) checks.push(skipped(name, c, 'the probe pod did not run'));
    } else {
      checks.push(
        ok(
          name,
          'pod-round-trip',
          `probe pod Running and Ready after ${Math.round((Date.now() - started) / 1000)}s (pod IP ${String(last.status?.podIP ?? 'none')})`,
        ),
      );
      try {
        const logs = await upper.getText(`${podPath}/log?container=probe&tailLines=20`, { timeoutMs: 15_000 });
        checks.push(
          ok(
            name,
            'logs',
            `${logs.split('\n').filter(Boolean).length} line(s) through the upper API server${logs.trim() ? `, last: ${logs.trim().split('\n').pop()!.slice(0, 80)}` : ''}`,
          ),
        );
      } catch (e) {
        checks.push(failed(name, 'logs', `kubectl logs would fail: ${(e as Error).message}`, streamFix));
      }
      if (!o.kubectl) {
        for (const c of ['exec', 'port-forward'])
          checks.push(
            skipped(
              name,
              c,
              'kubectl not found',
              'put kubectl on PATH or set KUBECTL: exec and port-forward are checked with the real kubectl',
            ),
          );
      } else {
        const marker = `${PROBE_MARKER}-exec-${o.runId}`;
        const r = await o.kubectl.run(
          ['exec', '-n', o.namespace, body.metadata.name!, '-c', 'probe', '--', 'echo', marker],
          30_000,
        );
        checks.push(
          r.code === 0 && r.stdout.includes(marker)
            ? ok(name, 'exec', `kubectl exec ran echo in the probe pod (exit 0)`)
            : failed(name, 'exec', `kubectl exec: exit ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`, streamFix),
        );
        checks.push(await portForwardCheck(o.kubectl, name, last, streamFix));
      }
    }
  } finally {
    checks.push(await removeProbe(upper, name, podPath, o.timeoutMs, fedlet, created));
  }
  return checks;
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
