// The `extender` check of `fedlet doctor`. The extender serves kube-scheduler only, over mutual TLS,
// and kube-scheduler treats it as ignorable: when it is down, pods are still placed, by the virtual
// nodes' aggregate capacity alone, and nothing else says so. So doctor asks the scheduler: a pod that
// fits a virtual node's aggregate free CPU but no single lower node behind it (from the node's own
// summary) is refused only by the extender. Refused with the extender's reason: it answers. Placed: the
// scheduler went on without it. Where the extender runs behind a Service (the chart, the manifests),
// the Service's ready endpoints are counted too.
import { isNotFound, type KubeClient } from '../../src/kube/client.js';
import type { DataObject, EndpointSlice, Lease, Node, Pod, Service } from '../../src/kube/types.js';
import { LABEL_DOCTOR, LABEL_HOSTNAME, TAINT_VIRTUAL_NODE } from '../../src/labels.js';
import { parseSummary, summaryConfigMapName, SUMMARY_DATA_KEY } from '../../src/scheduling/summary.js';
import { podRequests } from '../../src/util/pod-requests.js';
import { parseQuantity } from '../../src/util/quantity.js';
import { leaseFresh } from './node-checks.js';
import { PROBE_MARKER, waitFor } from './probe-streams.js';
import { failed, INSTALL, ok, skipped, type Check } from './report.js';

/** The label the extender's pods carry in the chart and the manifests (its Service selects them by it). */
export const EXTENDER_POD_LABEL = 'app.kubernetes.io/name';
export const EXTENDER_NAME = 'fedlet-extender';

const FIX =
  "the extender is down or kube-scheduler cannot reach it (it is ignorable, so scheduling goes on without it): check that `fedlet extender` runs (its pods and logs, its Service's endpoints), kube-scheduler's extenders[].urlPrefix, and that the client certificate of its tlsConfig is signed by the extender's --client-ca-file (kube-scheduler's log names TLS errors)";

export interface ExtenderOptions {
  namespace: string;
  summaryNamespace: string;
  image: string;
  runId: string;
  /** false: no pod is created (--no-probe, or no right to create pods). */
  placement: boolean;
}

/** The extender Services (selecting its pods) and their ready endpoints; undefined when none or unreadable. */
async function servicePart(upper: KubeClient): Promise<{ text: string; down: boolean } | undefined> {
  const list = await upper.get<{ items: Service[] }>('/api/v1/services', { timeoutMs: 10_000 }).catch(() => undefined);
  const services = (list?.items ?? []).filter((s) => s.spec?.selector?.[EXTENDER_POD_LABEL] === EXTENDER_NAME);
  if (!services.length) return undefined;
  const parts = await Promise.all(
    services.map(async (s) => {
      const ns = s.metadata.namespace!;
      const slices = await upper
        .get<{ items: EndpointSlice[] }>(`/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(ns)}/endpointslices`, {
          query: { labelSelector: `kubernetes.io/service-name=${s.metadata.name}` },
          timeoutMs: 10_000,
        })
        .catch(() => ({ items: [] as EndpointSlice[] }));
      const ready = slices.items.flatMap((x) => x.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
      return { text: `Service ${ns}/${s.metadata.name}: ${ready} ready endpoint(s)`, down: ready === 0 };
    }),
  );
  return { text: parts.map((p) => p.text).join('; '), down: parts.some((p) => p.down) };
}

/** A node and a CPU request over its largest single lower node's free CPU, within its aggregate room. */
async function pickNode(
  upper: KubeClient,
  nodes: Node[],
  o: ExtenderOptions,
): Promise<{ node: string; cpu: bigint; single: bigint } | string> {
  const why: string[] = [];
  for (const node of nodes) {
    const name = node.metadata.name;
    if (!node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) continue;
    const [lease, cm, pods] = await Promise.all([
      upper
        .get<Lease>(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${encodeURIComponent(name)}`)
        .catch(() => undefined),
      upper
        .get<DataObject>(`/api/v1/namespaces/${encodeURIComponent(o.summaryNamespace)}/configmaps/${summaryConfigMapName(name)}`)
        .catch(() => undefined),
      upper.get<{ items: Pod[] }>('/api/v1/pods', { query: { fieldSelector: `spec.nodeName=${name}` } }).catch(() => undefined),
    ]);
    // Without a trusted summary the extender passes the node: no refusal to observe.
    if (!leaseFresh(lease, Date.now()) || !cm || !pods) continue;
    let single = 0n;
    try {
      for (const row of parseSummary(cm.data?.[SUMMARY_DATA_KEY] ?? '').nodes) {
        const free = BigInt(Math.floor(Number(row[2].cpu ?? '0')));
        if (free > single) single = free;
      }
    } catch {
      continue;
    }
    let room = parseQuantity(node.status?.allocatable?.cpu ?? '0');
    for (const p of pods.items)
      if (!['Succeeded', 'Failed'].includes(p.status?.phase ?? '')) room -= podRequests(p.spec).get('cpu') ?? 0n;
    // Halfway between the two, so that neither side's bookkeeping of a few millicores decides.
    if (room - single >= 20n) return { node: name, cpu: single + (room - single) / 2n, single };
    why.push(`${name}: one lower node holds most of its free CPU`);
  }
  return why.length
    ? `no pod fits a virtual node's aggregate CPU but none of its lower nodes (${why.join('; ')})`
    : 'no Ready virtual node with a fresh Lease and summary to place a pod on';
}

function extenderPod(node: string, cpuMilli: bigint, o: ExtenderOptions): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${PROBE_MARKER}-${o.runId}-extender`, namespace: o.namespace, labels: { [LABEL_DOCTOR]: o.runId } },
    spec: {
      nodeSelector: { [LABEL_HOSTNAME]: node },
      tolerations: [{ key: TAINT_VIRTUAL_NODE, operator: 'Exists' }],
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'probe',
          image: o.image,
          command: ['sleep', '3600'],
          resources: { requests: { cpu: `${cpuMilli}m` } },
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  };
}

type Placement = { verdict: 'refused' | 'placed' | 'inconclusive'; detail: string } | { verdict: 'none'; detail: string };

async function placementPart(upper: KubeClient, nodes: Node[], o: ExtenderOptions, created: Set<string>): Promise<Placement> {
  if (!o.placement) return { verdict: 'none', detail: '' };
  const pick = await pickNode(upper, nodes, o);
  if (typeof pick === 'string') return { verdict: 'none', detail: pick };
  const body = extenderPod(pick.node, pick.cpu, o);
  const podPath = `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/pods/${encodeURIComponent(body.metadata.name!)}`;
  try {
    await upper.create(`/api/v1/namespaces/${encodeURIComponent(o.namespace)}/pods`, body);
  } catch (e) {
    return { verdict: 'none', detail: `cannot create the placement probe: ${(e as Error).message}` };
  }
  created.add(podPath);
  const asked = `a pod asking ${pick.cpu}m CPU for ${pick.node} (its largest lower node has ${pick.single}m free)`;
  try {
    let last: Pod | undefined;
    await waitFor(
      async () => {
        last = await upper.get<Pod>(podPath).catch(() => last);
        const cond = last?.status?.conditions?.find((c) => c.type === 'PodScheduled');
        return !!last?.spec.nodeName || (cond?.status === 'False' && !!cond.message);
      },
      20_000,
      500,
    );
    if (last?.spec.nodeName)
      return {
        verdict: 'placed',
        detail: `the scheduler placed ${asked} on ${last.spec.nodeName}: it did not consult the extender`,
      };
    const msg = last?.status?.conditions?.find((c) => c.type === 'PodScheduled')?.message ?? '';
    const reason = /no single node in lower cluster [^(]*\([^)]*\)/.exec(msg)?.[0];
    if (reason) return { verdict: 'refused', detail: `the scheduler consulted the extender: it kept ${asked} off (${reason})` };
    return {
      verdict: 'inconclusive',
      detail: `${asked} stayed unscheduled without the extender's reason: ${msg || 'no decision in 20 s'}`,
    };
  } finally {
    await upper.delete(podPath, { gracePeriodSeconds: 0 }).catch(() => undefined);
    const gone = await waitFor(
      () =>
        upper.get(podPath).then(
          () => false,
          (e: unknown) => isNotFound(e),
        ),
      10_000,
      500,
    );
    if (gone) created.delete(podPath);
  }
}

export async function extenderCheck(upper: KubeClient, nodes: Node[], o: ExtenderOptions, created: Set<string>): Promise<Check> {
  const [service, placement] = await Promise.all([servicePart(upper), placementPart(upper, nodes, o, created)]);
  const serviceText = service ? `; ${service.text}` : '';
  if (placement.verdict === 'placed') return failed(INSTALL, 'extender', `${placement.detail}${serviceText}`, FIX);
  if (service?.down)
    return failed(
      INSTALL,
      'extender',
      `${service.text}: no extender pod is ready${placement.detail ? `; ${placement.detail}` : ''}`,
      FIX,
    );
  if (placement.verdict === 'refused') return ok(INSTALL, 'extender', `${placement.detail}${serviceText}`);
  if (service) return ok(INSTALL, 'extender', `${service.text}${placement.detail ? `; ${placement.detail}` : ''}`);
  return skipped(
    INSTALL,
    'extender',
    placement.detail ||
      (o.placement ? 'nothing to check' : 'skipped with --no-probe (it creates a pod) and no extender Service found'),
    placement.verdict === 'inconclusive' ? 'look at the scheduler events of a pending pod (kubectl describe pod)' : undefined,
  );
}
