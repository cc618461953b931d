// Checks of the install as a whole: whether the credentials doctor runs with may do what its checks do
// (SelfSubjectAccessReview), whether the admission webhook gives pods the virtual-node toleration, and
// removal of probe pods and Services an interrupted run left behind.
import type { KubeClient } from '../../src/kube/client.js';
import type { KubeObject, Node, Pod } from '../../src/kube/types.js';
import { LABEL_DOCTOR, TAINT_VIRTUAL_NODE } from '../../src/labels.js';
import { failed, INSTALL, ok, skipped, type Check } from './report.js';

export interface Right {
  verb: string;
  resource: string;
  subresource?: string;
  group?: string;
  namespace?: string;
  /** The check that needs it. */
  for: string;
}

export function rightsNeeded(namespace: string, summaryNamespace: string): Right[] {
  return [
    { verb: 'list', resource: 'nodes', for: 'every check' },
    { verb: 'get', resource: 'leases', group: 'coordination.k8s.io', namespace: 'kube-node-lease', for: 'lease-fresh' },
    { verb: 'get', resource: 'configmaps', namespace: summaryNamespace, for: 'extender-summary' },
    { verb: 'get', resource: 'nodes', subresource: 'proxy', for: 'kubelet-port' },
    { verb: 'create', resource: 'pods', namespace, for: 'pod-round-trip' },
    { verb: 'delete', resource: 'pods', namespace, for: 'cleanup' },
    { verb: 'get', resource: 'pods', subresource: 'log', namespace, for: 'logs' },
    { verb: 'create', resource: 'pods', subresource: 'exec', namespace, for: 'exec' },
    { verb: 'create', resource: 'pods', subresource: 'portforward', namespace, for: 'port-forward' },
    { verb: 'create', resource: 'pods', subresource: 'attach', namespace, for: 'attach' },
    { verb: 'get', resource: 'nodes', subresource: 'proxy', for: 'top' },
    { verb: 'create', resource: 'services', namespace, for: 'dns-service' },
    { verb: 'delete', resource: 'services', namespace, for: 'dns-service' },
    { verb: 'create', resource: 'pods', subresource: 'exec', namespace, for: 'token' },
    { verb: 'list', resource: 'pods', for: 'extender' },
    { verb: 'list', resource: 'services', for: 'extender' },
    { verb: 'list', resource: 'endpointslices', group: 'discovery.k8s.io', for: 'extender' },
  ];
}

const describe = (r: Right) =>
  `${r.verb} ${r.group ? `${r.resource}.${r.group}` : r.resource}${r.subresource ? `/${r.subresource}` : ''}${r.namespace ? ` in ${r.namespace}` : ''}`;

/** Asks the upper API server which of the rights the caller lacks; returns the check and the missing ones. */
export async function rbacCheck(upper: KubeClient, rights: Right[]): Promise<{ check: Check; missing: Right[] }> {
  // One review per right, all at once.
  const allowed = await Promise.all(
    rights.map(async (r) => {
      const review = await upper.create<{ status?: { allowed?: boolean } }>(
        '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
        {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: {
            resourceAttributes: {
              verb: r.verb,
              resource: r.resource,
              ...(r.subresource ? { subresource: r.subresource } : {}),
              ...(r.group ? { group: r.group } : {}),
              ...(r.namespace ? { namespace: r.namespace } : {}),
            },
          },
        },
      );
      return review.status?.allowed === true;
    }),
  );
  const missing = rights.filter((_, i) => !allowed[i]);
  const check = missing.length
    ? failed(
        INSTALL,
        'rbac',
        `your credentials may not ${missing.map((r) => `${describe(r)} (${r.for})`).join(', ')}`,
        'run doctor with a kubeconfig holding these rights (e.g. a cluster admin); the checks needing them are skipped',
      )
    : ok(INSTALL, 'rbac', `your credentials may do all ${rights.length} things the checks do (SelfSubjectAccessReview)`);
  return { check, missing };
}

/**
 * Virtual nodes carry the fedlet.io/virtual-node taint unless virtualNodeTaint is off; pods get its
 * toleration from the admission webhook of `fedlet extender`. A dry-run pod shows whether it answers.
 */
export async function webhookCheck(upper: KubeClient, namespace: string, nodes: Node[], canCreatePods: boolean): Promise<Check> {
  if (!nodes.some((n) => n.spec?.taints?.some((t) => t.key === TAINT_VIRTUAL_NODE)))
    return skipped(
      INSTALL,
      'webhook',
      `no virtual node carries the ${TAINT_VIRTUAL_NODE} taint (virtualNodeTaint off): pods need no toleration`,
    );
  if (!canCreatePods) return skipped(INSTALL, 'webhook', `may not create pods in ${namespace} (see rbac)`);
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'fedlet-doctor-webhook', namespace, labels: { [LABEL_DOCTOR]: 'dry-run' } },
    spec: { containers: [{ name: 'c', image: 'busybox' }] },
  };
  try {
    const out = await upper.create<Pod>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`, pod, {
      query: { dryRun: 'All' },
      timeoutMs: 20_000,
    });
    return out.spec.tolerations?.some((t) => t.key === TAINT_VIRTUAL_NODE)
      ? ok(INSTALL, 'webhook', 'the admission webhook adds the virtual-node toleration (dry-run pod)')
      : failed(
          INSTALL,
          'webhook',
          'a new pod gets no virtual-node toleration: the admission webhook did not answer (its failurePolicy is Ignore)',
          'check the extender (fedlet extender --webhook-port), its Service and the MutatingWebhookConfiguration and its caBundle; meanwhile the extender repairs pods late, or not at all without the webhook',
        );
  } catch (e) {
    return failed(
      INSTALL,
      'webhook',
      `the dry-run pod was refused: ${(e as Error).message}`,
      `pass --namespace with a namespace that admits a plain pod`,
    );
  }
}

/** Force-deletes probe pods and Services of earlier runs older than maxAgeMs (a run interrupted before its cleanup). */
export async function removeStaleProbes(upper: KubeClient, now: number, maxAgeMs = 10 * 60_000): Promise<string[]> {
  const removed: string[] = [];
  for (const kind of ['pods', 'services']) {
    const list = await upper
      .get<{ items: KubeObject[] }>(`/api/v1/${kind}`, { query: { labelSelector: LABEL_DOCTOR } })
      .catch(() => ({
        items: [] as KubeObject[],
      }));
    const stale = list.items.filter((p) => now - Date.parse(p.metadata?.creationTimestamp ?? '') > maxAgeMs);
    for (const p of stale) {
      await upper
        .delete(
          `/api/v1/namespaces/${encodeURIComponent(p.metadata!.namespace!)}/${kind}/${encodeURIComponent(p.metadata!.name!)}`,
          {
            gracePeriodSeconds: 0,
          },
        )
        .catch(() => undefined);
      removed.push(`${kind === 'pods' ? 'pod' : 'service'} ${p.metadata!.namespace}/${p.metadata!.name}`);
    }
  }
  return removed;
}
