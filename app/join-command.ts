// `fedlet join`: joins a lower cluster in one command — the chart's lower half (fedlet's least-privilege
// identity) in the lower cluster, a kubeconfig with a token that expires (and that fedlet renews) in a
// Secret of the upper cluster, and the chart's upper half pointing at that Secret. Each step first looks
// at what is there and changes only what differs, so a second join changes nothing; --dry-run prints the
// steps (app/join/plan.ts) and touches nothing.
import { KubeApiError, KubeClient, isNotFound, loadKubeConfig } from '../src/kube/client.js';
import { kubeconfigCluster } from '../src/kube/kubeconfig.js';
import type { DataObject, KubeObject } from '../src/kube/types.js';
import { type JoinArgs, joinArgs, joinNames } from './join/args.js';
import { findHelm, Helm, JoinError } from './join/helm.js';
import { lowerKubeconfigYaml, staleReason } from './join/lower-credential.js';
import { installArgs, joinPlan, lowerValueArgs, MANAGED_BY_JOIN, renderPlan, scopeArgs, upperValueArgs } from './join/plan.js';
import type { CliIO } from './io.js';

const ns = (name: string) => `/api/v1/namespaces/${encodeURIComponent(name)}`;

/** Creates the namespace unless it exists; says which. */
export async function ensureNamespace(kube: KubeClient, name: string): Promise<string> {
  try {
    await kube.get<KubeObject>(ns(name));
    return 'exists';
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  await kube.create('/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { [MANAGED_BY_JOIN.key]: MANAGED_BY_JOIN.value } },
  });
  return 'created';
}

/** Installs a half of the release, or upgrades it only when the upgrade would change something. */
async function installHalf(helm: Helm, a: JoinArgs, half: 'upper' | 'lower'): Promise<string> {
  const scope = scopeArgs(half === 'upper' ? a.upperKubeconfig : a.lowerKubeconfig, a.namespace);
  const before = await helm.release(a.release, scope);
  if (before?.status === 'deployed') {
    const values = half === 'upper' ? upperValueArgs(a) : lowerValueArgs(a);
    if (!(await helm.wouldChange(a.release, scope, values)))
      return `unchanged (revision ${before.revision}, ${before.chart}, deployed)`;
  }
  await helm.ok(
    installArgs(a, half),
    `${before ? 'upgrading' : 'installing'} the ${half} half of ${a.release}`,
    (a.timeoutSeconds + 60) * 1000,
  );
  const after = await helm.release(a.release, scope);
  return `${before ? 'upgraded' : 'installed'} (revision ${after?.revision ?? '?'}, ${after?.chart ?? '?'})`;
}

/** The Secret with fedlet's lower kubeconfig: kept while its token serves, else a new token is minted. */
async function writeCredential(upper: KubeClient, lower: KubeClient, a: JoinArgs): Promise<string> {
  const n = joinNames(a);
  const cluster = { ...kubeconfigCluster(a.lowerKubeconfig), ...(a.lowerServer ? { server: a.lowerServer } : {}) };
  const secretPath = `${ns(a.namespace)}/secrets/${encodeURIComponent(n.secret)}`;
  const existing = await upper.get<DataObject>(secretPath).catch((e: unknown) => {
    if (isNotFound(e)) return undefined;
    throw e;
  });
  const saPath = `${ns(a.namespace)}/serviceaccounts/${encodeURIComponent(n.serviceAccount)}`;
  const sa = await lower.get<KubeObject>(saPath);
  const text = existing?.data?.kubeconfig ? Buffer.from(existing.data.kubeconfig, 'base64').toString('utf8') : undefined;
  const why = staleReason(
    text,
    { cluster, namespace: a.namespace, serviceAccount: n.serviceAccount, uid: sa.metadata?.uid, tokenSeconds: a.tokenSeconds },
    Date.now(),
  );
  if (!why) return `unchanged (its token of ${a.namespace}/${n.serviceAccount} serves for more than half its lifetime)`;
  const tr = await lower.create<{ status?: { token?: string; expirationTimestamp?: string } }>(`${saPath}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: a.tokenSeconds },
  });
  const token = tr.status?.token;
  if (!token) throw new Error('the TokenRequest answer holds no token');
  const body: DataObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: n.secret,
      namespace: a.namespace,
      labels: {
        [MANAGED_BY_JOIN.key]: MANAGED_BY_JOIN.value,
        'app.kubernetes.io/name': 'fedlet',
        'app.kubernetes.io/instance': a.release,
        'fedlet.io/cluster': a.cluster,
      },
      ...(existing?.metadata.resourceVersion ? { resourceVersion: existing.metadata.resourceVersion } : {}),
    },
    type: 'Opaque',
    data: { kubeconfig: Buffer.from(lowerKubeconfigYaml(a.cluster, cluster, n.serviceAccount, token)).toString('base64') },
  };
  if (existing) await upper.replace(secretPath, body);
  else await upper.create(`${ns(a.namespace)}/secrets`, body);
  return `${existing ? 'renewed' : 'written'}: ${why}; token expires ${tr.status?.expirationTimestamp ?? '?'}`;
}

/** What to do when a step fails, by step. */
const HINTS: Record<string, string> = {
  'lower-namespace':
    "check that --lower-kubeconfig is a cluster admin's kubeconfig of the lower cluster and that its API server answers",
  'lower-release': "see helm's message; inspect with: helm status RELEASE -n NAMESPACE --kubeconfig LOWER",
  'upper-namespace':
    "check that --upper-kubeconfig is a cluster admin's kubeconfig of the upper cluster and that its API server answers",
  'lower-credential':
    'the lower ServiceAccount must exist (the lower half installed) and your lower credentials must be allowed to create its tokens (serviceaccounts/token create); your upper ones to write Secrets in the namespace',
  'upper-release':
    "see helm's message; check fedlet's pods: kubectl -n NAMESPACE get pods -l app.kubernetes.io/instance=RELEASE, and that the upper cluster's nodes can pull the image (--image)",
};

/** The fedlet leave command line that undoes this join (defaults left out). */
export function leaveCommand(a: JoinArgs): string {
  return [
    'fedlet leave',
    `--upper-kubeconfig ${a.upperKubeconfig}`,
    `--lower-kubeconfig ${a.lowerKubeconfig}`,
    `--cluster ${a.cluster}`,
    ...(a.release !== `fedlet-${a.cluster}` ? [`--release ${a.release}`] : []),
    ...(a.nodeName !== joinNames(a).fullname ? [`--node-name ${a.nodeName}`] : []),
    ...(a.namespace !== 'fedlet-system' ? [`-n ${a.namespace}`] : []),
  ].join(' ');
}

export async function cmdJoin(argv: string[], io: CliIO): Promise<number> {
  const a = joinArgs(argv);
  const plan = joinPlan(a);
  if (a.dryRun) {
    io.out(renderPlan('join', plan));
    return 0;
  }
  const helm = new Helm(findHelm());
  const upper = new KubeClient(loadKubeConfig(a.upperKubeconfig), { userAgent: 'fedlet-join' });
  const lower = new KubeClient(loadKubeConfig(a.lowerKubeconfig), { userAgent: 'fedlet-join' });
  const run: Record<string, () => Promise<string>> = {
    'lower-namespace': () => ensureNamespace(lower, a.namespace),
    'lower-release': () => installHalf(helm, a, 'lower'),
    'upper-namespace': () => ensureNamespace(upper, a.namespace),
    'lower-credential': () => writeCredential(upper, lower, a),
    'upper-release': () => installHalf(helm, a, 'upper'),
  };
  for (const [i, step] of plan.entries()) {
    io.err(`[${i + 1}/${plan.length}] ${step.cluster}: ${step.id} ... `);
    try {
      io.err(`${await run[step.id]!()}\n`);
    } catch (e) {
      io.err('failed\n');
      const hint = (HINTS[step.id] ?? '').replaceAll('RELEASE', a.release).replaceAll('NAMESPACE', a.namespace);
      const msg = e instanceof KubeApiError || e instanceof JoinError ? e.message : String((e as Error).message ?? e);
      io.err(
        `fedlet join: step ${step.id} (${step.cluster} cluster) failed: ${msg}\n  what to do: ${hint.replaceAll('LOWER', a.lowerKubeconfig)}\n`,
      );
      return 1;
    }
  }
  io.out(
    [
      `joined: lower cluster ${a.cluster} is virtual node ${a.nodeName} (release ${a.release} in namespace ${a.namespace} of both clusters)`,
      `  kubectl --kubeconfig ${a.upperKubeconfig} get node ${a.nodeName} -L fedlet.io/cluster`,
      `  with servingCert.mode=csr (the default), approve the leader's serving certificate for logs/exec/port-forward:`,
      `  kubectl --kubeconfig ${a.upperKubeconfig} get csr -l fedlet.io/node=${a.nodeName}`,
      `  remove it again with: ${leaveCommand(a)}`,
      '',
    ].join('\n'),
  );
  return 0;
}
