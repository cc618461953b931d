// `fedlet doctor`: checks a live install end to end from the upper cluster, the way its users' requests
// go — each virtual node's Ready condition and Lease, the summary the extender trusts, the upper API
// server's dial to the kubelet port and the serving certificate there, then a probe pod through fedlet
// into the lower cluster and back (logs, exec, port-forward with the real kubectl, deletion) — and says
// for every failure what to do. Exit code 1 when any check failed.
import { X509Certificate, randomBytes } from 'node:crypto';
import { ConfigError } from '../src/config.js';
import { isNotFound, KubeApiError, KubeClient, loadKubeConfig } from '../src/kube/client.js';
import type { DataObject, Lease, Node } from '../src/kube/types.js';
import { LABEL_TYPE, TYPE_VIRTUAL_KUBELET } from '../src/labels.js';
import { summaryConfigMapName } from '../src/scheduling/summary.js';
import { eachFlag } from './args.js';
import { rbacCheck, removeStaleProbes, rightsNeeded, webhookCheck } from './doctor/cluster-checks.js';
import { findKubectl, Kubectl } from './doctor/kubectl.js';
import { kubeletPortCheck, servingCertCheck } from './doctor/kubelet-checks.js';
import { leaseCheck, leaseFresh, nodeReadyCheck, summaryCheck } from './doctor/node-checks.js';
import { forceDelete, probeChecks, type ProbeOptions } from './doctor/probe-pod.js';
import { exitCode, failed, INSTALL, ok, renderJson, renderTable, skipped, type Check } from './doctor/report.js';
import type { CliIO } from './io.js';

export interface DoctorArgs {
  kubeconfig?: string;
  nodes: string[];
  output: 'table' | 'json';
  namespace: string;
  summaryNamespace: string;
  image: string;
  timeoutSeconds: number;
  probe: boolean;
}

export function doctorArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): DoctorArgs {
  const a: DoctorArgs = {
    kubeconfig: env.FEDLET_UPPER_KUBECONFIG,
    nodes: [],
    output: 'table',
    namespace: 'default',
    summaryNamespace: 'fedlet-system',
    image: 'busybox:1.36',
    timeoutSeconds: 90,
    probe: true,
  };
  eachFlag(argv, (name, value, raw) => {
    if (name === '--upper-kubeconfig' || name === '--kubeconfig') a.kubeconfig = value();
    else if (name === '--node') a.nodes.push(value());
    else if (name === '-o' || name === '--output') {
      const o = value();
      if (o !== 'table' && o !== 'json') throw new ConfigError(`-o ${o}: use table or json`);
      a.output = o;
    } else if (name === '--namespace' || name === '-n') a.namespace = value();
    else if (name === '--summary-namespace') a.summaryNamespace = value();
    else if (name === '--image') a.image = value();
    else if (name === '--timeout') {
      a.timeoutSeconds = Number(value());
      if (!Number.isInteger(a.timeoutSeconds) || a.timeoutSeconds < 5)
        throw new ConfigError('--timeout must be a whole number of seconds, at least 5');
    } else if (name === '--no-probe') a.probe = false;
    else throw new ConfigError(`unknown doctor option ${raw}; see 'fedlet doctor --help'`);
  });
  for (const n of a.nodes)
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(n)) throw new ConfigError(`--node ${n}: not a valid Node name`);
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(a.namespace))
    throw new ConfigError(`--namespace ${a.namespace}: not a namespace name`);
  return a;
}

/** The virtual nodes to check: the ones named, or every node labelled type=virtual-kubelet. */
async function virtualNodes(upper: KubeClient, names: string[]): Promise<{ nodes: Node[]; checks: Check[] }> {
  if (!names.length) {
    const list = await upper.get<{ items: Node[] }>('/api/v1/nodes', {
      query: { labelSelector: `${LABEL_TYPE}=${TYPE_VIRTUAL_KUBELET}` },
    });
    const nodes = list.items.sort((x, y) => x.metadata.name.localeCompare(y.metadata.name));
    return {
      nodes,
      checks: nodes.length
        ? []
        : [
            failed(
              INSTALL,
              'virtual-nodes',
              `no node labelled ${LABEL_TYPE}=${TYPE_VIRTUAL_KUBELET}`,
              'no fedlet has registered a node: check that fedlet runs (its pods, their logs) and reaches the upper API server',
            ),
          ],
    };
  }
  const nodes: Node[] = [];
  const checks: Check[] = [];
  for (const n of names) {
    try {
      const node = await upper.get<Node>(`/api/v1/nodes/${encodeURIComponent(n)}`);
      if (node.metadata.labels?.[LABEL_TYPE] !== TYPE_VIRTUAL_KUBELET)
        checks.push(
          failed(
            n,
            'virtual-nodes',
            `${n} is not a virtual node (no ${LABEL_TYPE}=${TYPE_VIRTUAL_KUBELET})`,
            'name a node fedlet registered (kubectl get nodes -l type=virtual-kubelet)',
          ),
        );
      else nodes.push(node);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      checks.push(
        failed(
          n,
          'virtual-nodes',
          `no node ${n}`,
          'name a node fedlet registered (kubectl get nodes -l type=virtual-kubelet), or check that its fedlet runs',
        ),
      );
    }
  }
  return { nodes, checks };
}

/** The cluster CA pods trust (kube-root-ca.crt), to say whether serving certificates chain to it. */
async function clusterCAs(upper: KubeClient, namespace: string): Promise<X509Certificate[]> {
  const cm = await upper
    .get<DataObject>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/kube-root-ca.crt`)
    .catch(() => undefined);
  const pem = cm?.data?.['ca.crt'] ?? '';
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].flatMap((m) => {
    try {
      return [new X509Certificate(m[0])];
    } catch {
      return [];
    }
  });
}

async function checkNode(
  upper: KubeClient,
  node: Node,
  index: number,
  a: DoctorArgs,
  can: (check: string) => boolean,
  cas: X509Certificate[],
  probe: ProbeOptions,
  created: Set<string>,
): Promise<Check[]> {
  const name = node.metadata.name;
  const now = Date.now();
  const checks = [nodeReadyCheck(node)];
  let fresh = false;
  if (can('lease-fresh')) {
    const lease = await upper
      .get<Lease>(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${encodeURIComponent(name)}`)
      .catch(() => undefined);
    fresh = leaseFresh(lease, now);
    checks.push(leaseCheck(node, lease, now));
  } else checks.push(skipped(name, 'lease-fresh', 'may not read Leases in kube-node-lease (see rbac)'));
  if (can('extender-summary')) {
    const cm = await upper
      .get<DataObject>(
        `/api/v1/namespaces/${encodeURIComponent(a.summaryNamespace)}/configmaps/${encodeURIComponent(summaryConfigMapName(name))}`,
      )
      .catch((e: unknown) => {
        if (isNotFound(e)) return undefined;
        throw e;
      });
    checks.push(summaryCheck(node, cm, a.summaryNamespace, fresh));
  } else checks.push(skipped(name, 'extender-summary', `may not read ConfigMaps in ${a.summaryNamespace} (see rbac)`));
  const port = can('kubelet-port')
    ? await kubeletPortCheck(upper, node)
    : skipped(name, 'kubelet-port', 'may not get nodes/proxy (see rbac)');
  checks.push(port, await servingCertCheck(node, cas, port.result === 'ok', now));
  const probeSteps = ['pod-round-trip', 'logs', 'exec', 'port-forward', 'cleanup'];
  const blocked = !a.probe
    ? 'skipped with --no-probe'
    : checks[0]!.result === 'failed'
      ? 'the node is not Ready (see node-ready)'
      : port.result === 'failed'
        ? 'the kubelet port is unreachable (see kubelet-port)'
        : !can('pod-round-trip')
          ? `may not create pods in ${a.namespace} (see rbac)`
          : '';
  if (blocked) return [...checks, ...probeSteps.map((c) => skipped(name, c, blocked))];
  return [...checks, ...(await probeChecks(upper, node, index, probe, created))];
}

export async function cmdDoctor(argv: string[], io: CliIO): Promise<number> {
  const a = doctorArgs(argv);
  const upper = new KubeClient(loadKubeConfig(a.kubeconfig), { userAgent: 'fedlet-doctor' });
  const kubectlBinary = findKubectl();
  const runId = randomBytes(3).toString('hex');
  const created = new Set<string>();
  // Interrupted: the probe pods go anyway.
  const onSignal = () => {
    void Promise.allSettled([...created].map((p) => forceDelete(upper, p))).then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const checks: Check[] = [];
    let reviewed: Awaited<ReturnType<typeof rbacCheck>>;
    try {
      reviewed = await rbacCheck(upper, rightsNeeded(a.namespace, a.summaryNamespace));
    } catch (e) {
      const refused = e instanceof KubeApiError && (e.code === 401 || e.code === 403);
      checks.push(
        failed(
          INSTALL,
          'api-server',
          `the upper API server at ${upper.server.origin} ${refused ? 'refuses the credentials' : 'does not answer'}: ${(e as Error).message}`,
          refused
            ? "the kubeconfig's credentials are not accepted (expired token or certificate?): use a current kubeconfig of the upper cluster"
            : 'check the kubeconfig (server address) and that this machine reaches the API server',
        ),
      );
      io.out(a.output === 'json' ? renderJson(checks) : renderTable(checks));
      return 1;
    }
    const { check: rbac, missing } = reviewed;
    const can = (check: string) => !missing.some((r) => r.for === check || r.for === 'every check');
    checks.push(rbac);
    if (!can('every check')) {
      io.out(a.output === 'json' ? renderJson(checks) : renderTable(checks));
      return 1;
    }
    const { nodes, checks: found } = await virtualNodes(upper, a.nodes);
    checks.push(...found);
    checks.push(await webhookCheck(upper, a.namespace, nodes, can('pod-round-trip')));
    if (can('pod-round-trip')) {
      const stale = await removeStaleProbes(upper, Date.now()).catch(() => []);
      if (stale.length)
        checks.push(ok(INSTALL, 'leftovers', `removed ${stale.length} probe pod(s) of an interrupted run: ${stale.join(', ')}`));
    }
    const cas = await clusterCAs(upper, a.namespace);
    const probe: ProbeOptions = {
      namespace: a.namespace,
      image: a.image,
      timeoutMs: a.timeoutSeconds * 1000,
      runId,
      ...(kubectlBinary ? { kubectl: new Kubectl(kubectlBinary, a.kubeconfig ? ['--kubeconfig', a.kubeconfig] : []) } : {}),
    };
    const perNode = await Promise.all(nodes.map((n, i) => checkNode(upper, n, i, a, can, cas, probe, created)));
    checks.push(...perNode.flat());
    io.out(a.output === 'json' ? renderJson(checks) : renderTable(checks));
    return exitCode(checks);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await Promise.allSettled([...created].map((p) => forceDelete(upper, p)));
  }
}
