// `fedlet doctor`: checks a live install end to end from the upper cluster, the way its users' requests
// go — whether the scheduler consults the extender, then for each virtual node its Ready condition and
// Lease, the summary the extender trusts, the upper API server's dial to the kubelet port and the serving
// certificate there, then a probe pod through fedlet into the lower cluster and back (logs, exec, attach,
// port-forward with the real kubectl, top, a Service resolved below, a call with its token, deletion) —
// and says for every failure what to do. Independent checks run at once. Exit code 1 on any failure.
import { X509Certificate, randomBytes } from 'node:crypto';
import { ConfigError } from '../src/config.js';
import { isNotFound, KubeApiError, KubeClient, loadKubeConfig } from '../src/kube/client.js';
import type { DataObject, Lease, Node } from '../src/kube/types.js';
import { LABEL_TYPE, TYPE_VIRTUAL_KUBELET } from '../src/labels.js';
import { summaryConfigMapName } from '../src/scheduling/summary.js';
import { eachFlag } from './args.js';
import { rbacCheck, removeStaleProbes, rightsNeeded, webhookCheck } from './doctor/cluster-checks.js';
import { extenderCheck } from './doctor/extender-check.js';
import { findKubectl, Kubectl } from './doctor/kubectl.js';
import { kubeletPortCheck, servingCertCheck } from './doctor/kubelet-checks.js';
import { leaseCheck, leaseFresh, nodeReadyCheck, summaryCheck } from './doctor/node-checks.js';
import { forceDelete, PROBE_STEPS, probeChecks, type ProbeOptions } from './doctor/probe-pod.js';
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
  /** Lower-node labels and taint keys for the probe pod (to land it on a real lower node). */
  probeNodeSelector: Record<string, string>;
  probeTolerations: string[];
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
    probeNodeSelector: {},
    probeTolerations: [],
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
    else if (name === '--probe-node-selector') {
      const v = value();
      const eq = v.indexOf('=');
      if (eq < 1) throw new ConfigError(`--probe-node-selector ${v}: use KEY=VALUE`);
      a.probeNodeSelector[v.slice(0, eq)] = v.slice(eq + 1);
    } else if (name === '--probe-toleration') a.probeTolerations.push(value());
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
  const [lease, cm, port] = await Promise.all([
    can('lease-fresh')
      ? upper
          .get<Lease>(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${encodeURIComponent(name)}`)
          .catch(() => undefined)
      : Promise.resolve(undefined),
    can('extender-summary')
      ? upper
          .get<DataObject>(
            `/api/v1/namespaces/${encodeURIComponent(a.summaryNamespace)}/configmaps/${encodeURIComponent(summaryConfigMapName(name))}`,
          )
          .catch((e: unknown) => {
            if (isNotFound(e)) return undefined;
            throw e;
          })
      : Promise.resolve(undefined),
    can('kubelet-port')
      ? kubeletPortCheck(upper, node)
      : Promise.resolve(skipped(name, 'kubelet-port', 'may not get nodes/proxy (see rbac)')),
  ]);
  const fresh = leaseFresh(lease, now);
  checks.push(
    can('lease-fresh')
      ? leaseCheck(node, lease, now)
      : skipped(name, 'lease-fresh', 'may not read Leases in kube-node-lease (see rbac)'),
    can('extender-summary')
      ? summaryCheck(node, cm, a.summaryNamespace, fresh)
      : skipped(name, 'extender-summary', `may not read ConfigMaps in ${a.summaryNamespace} (see rbac)`),
  );
  checks.push(port, await servingCertCheck(node, cas, port.result === 'ok', now));
  const blocked = !a.probe
    ? 'skipped with --no-probe'
    : checks[0]!.result === 'failed'
      ? 'the node is not Ready (see node-ready)'
      : port.result === 'failed'
        ? 'the kubelet port is unreachable (see kubelet-port)'
        : !can('pod-round-trip')
          ? `may not create pods in ${a.namespace} (see rbac)`
          : '';
  if (blocked) return [...checks, ...PROBE_STEPS.map((c) => skipped(name, c, blocked))];
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
    if (can('pod-round-trip')) {
      const stale = await removeStaleProbes(upper, Date.now()).catch(() => []);
      if (stale.length)
        checks.push(
          ok(INSTALL, 'leftovers', `removed ${stale.length} probe object(s) of an interrupted run: ${stale.join(', ')}`),
        );
    }
    const cas = await clusterCAs(upper, a.namespace);
    const probe: ProbeOptions = {
      namespace: a.namespace,
      image: a.image,
      timeoutMs: a.timeoutSeconds * 1000,
      runId,
      lowerNodeSelector: a.probeNodeSelector,
      tolerations: a.probeTolerations,
      can,
      ...(kubectlBinary ? { kubectl: new Kubectl(kubectlBinary, a.kubeconfig ? ['--kubeconfig', a.kubeconfig] : []) } : {}),
    };
    // Independent of each other: the install-wide checks and every node's run at once.
    const [webhook, extender, ...perNode] = await Promise.all([
      webhookCheck(upper, a.namespace, nodes, can('pod-round-trip')),
      can('extender')
        ? extenderCheck(
            upper,
            nodes,
            {
              namespace: a.namespace,
              summaryNamespace: a.summaryNamespace,
              image: a.image,
              runId,
              placement: a.probe && can('pod-round-trip'),
            },
            created,
          )
        : Promise.resolve(skipped(INSTALL, 'extender', 'may not list Services, EndpointSlices or pods (see rbac)')),
      ...nodes.map((n, i) => checkNode(upper, n, i, a, can, cas, probe, created)),
    ]);
    checks.push(webhook, extender, ...perNode.flat());
    io.out(a.output === 'json' ? renderJson(checks) : renderTable(checks));
    return exitCode(checks);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await Promise.allSettled([...created].map((p) => forceDelete(upper, p)));
  }
}
