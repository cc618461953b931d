// What `fedlet join` and `fedlet leave` do, step by step, as data: the dry run prints it, the commands
// run it, the unit tests read it. The helm command lines are built here once, so the dry run shows
// exactly what runs.
import { type JoinArgs, joinNames, type LeaveArgs } from './args.js';
import { redact } from './helm.js';

/** One step of join or leave: which cluster it touches and what it does, in words an operator checks. */
export interface PlanStep {
  id: string;
  cluster: 'upper' | 'lower';
  text: string;
  /** The helm command line of the step, if it runs helm. */
  helm?: string[];
}

/** Marks the namespaces join creates, so that leave deletes only those (and only when nothing else is left). */
export const MANAGED_BY_JOIN = { key: 'app.kubernetes.io/managed-by', value: 'fedlet-join' };

export function scopeArgs(kubeconfig: string, namespace: string): string[] {
  return ['--kubeconfig', kubeconfig, '-n', namespace];
}

/** The lower half's chart and values: fedlet's identity only (target=lower; no token that never expires). */
export function lowerValueArgs(a: JoinArgs): string[] {
  return [a.chart, '--set', 'target=lower'];
}

/** The upper half's chart and values: the names join chose, the Secret join wrote, then the user's own. */
export function upperValueArgs(a: JoinArgs): string[] {
  const n = joinNames(a);
  return [
    a.chart,
    '--set',
    `clusterName=${a.cluster}`,
    '--set',
    `nodeName=${a.nodeName}`,
    '--set',
    `lowerKubeconfig.existingSecret=${n.secret}`,
    ...(a.image ? ['--set', `image.repository=${a.image.repository}`, '--set', `image.tag=${a.image.tag}`] : []),
    ...a.values.flatMap((f) => ['--values', f]),
    ...a.set.flatMap((s) => ['--set', s]),
  ];
}

/** `helm upgrade --install` of a half, waiting for its objects to be ready. */
export function installArgs(a: JoinArgs, half: 'upper' | 'lower'): string[] {
  const scope = scopeArgs(half === 'upper' ? a.upperKubeconfig : a.lowerKubeconfig, a.namespace);
  const values = half === 'upper' ? upperValueArgs(a) : lowerValueArgs(a);
  return ['upgrade', '--install', a.release, ...values, ...scope, '--wait', `--timeout=${a.timeoutSeconds}s`];
}

export function joinPlan(a: JoinArgs): PlanStep[] {
  const n = joinNames(a);
  const hours = a.tokenSeconds % 3600 === 0 ? `${a.tokenSeconds / 3600}h` : `${a.tokenSeconds}s`;
  return [
    {
      id: 'lower-namespace',
      cluster: 'lower',
      text: `create namespace ${a.namespace} in the lower cluster if it is missing (labelled ${MANAGED_BY_JOIN.key}=${MANAGED_BY_JOIN.value})`,
    },
    {
      id: 'lower-release',
      cluster: 'lower',
      text: `install or upgrade the lower half of release ${a.release}: ServiceAccount ${a.namespace}/${n.serviceAccount}, ClusterRoles ${n.fullname}:lower and ${n.fullname}:lower-namespace, Role ${n.fullname}:lower-token, admission policy ${n.fullname}-lower-scope (unchanged when the deployed release is the same)`,
      helm: installArgs(a, 'lower'),
    },
    {
      id: 'upper-namespace',
      cluster: 'upper',
      text: `create namespace ${a.namespace} in the upper cluster if it is missing (labelled ${MANAGED_BY_JOIN.key}=${MANAGED_BY_JOIN.value})`,
    },
    {
      id: 'lower-credential',
      cluster: 'upper',
      text: `write Secret ${a.namespace}/${n.secret} in the upper cluster: a kubeconfig for ${a.lowerServer ?? 'the lower kubeconfig’s server'} with a ${hours} token of ${a.namespace}/${n.serviceAccount} (TokenRequest; fedlet renews it at 80% of its lifetime), unless it already holds one with more than half its lifetime left`,
    },
    {
      id: 'upper-release',
      cluster: 'upper',
      text: `install or upgrade the upper half of release ${a.release}: fedlet for cluster ${a.cluster}, virtual node ${a.nodeName} (unchanged when the deployed release is the same)`,
      helm: installArgs(a, 'upper'),
    },
  ];
}

export function leavePlan(a: LeaveArgs): PlanStep[] {
  const n = joinNames(a);
  const t = `${a.timeoutSeconds}s`;
  return [
    { id: 'cordon', cluster: 'upper', text: `cordon virtual node ${a.nodeName} (and its pool nodes ${a.nodeName}-*)` },
    {
      id: 'drain',
      cluster: 'upper',
      text: `evict the pods on it (not DaemonSet pods), retrying while disruption budgets refuse, for at most ${t}; then ${a.force ? 'delete the pods still there (--force)' : 'stop, leaving the node cordoned, if pods are still there (--force deletes them)'}`,
    },
    {
      id: 'upper-release',
      cluster: 'upper',
      text: `uninstall the upper half of release ${a.release} (fedlet's Deployment, RBAC, config)`,
      helm: ['uninstall', a.release, ...scopeArgs(a.upperKubeconfig, a.namespace), '--wait', `--timeout=${t}`],
    },
    {
      id: 'upper-leftovers',
      cluster: 'upper',
      text: `delete Secret ${a.namespace}/${n.secret}, the virtual node(s), their leader Leases (kube-node-lease/<node>-leader), scheduling summaries (fedlet-summary-<node>) and CSRs (fedlet.io/node=<node>)`,
    },
    {
      id: 'lower-leftovers',
      cluster: 'lower',
      text: `delete lower pods labelled fedlet.io/origin=<node> (e.g. DaemonSet copies) and the lower namespaces fedlet created for the node that hold no other pods`,
    },
    {
      id: 'lower-release',
      cluster: 'lower',
      text: `uninstall the lower half of release ${a.release} (fedlet's lower identity: its tokens stop working)`,
      helm: ['uninstall', a.release, ...scopeArgs(a.lowerKubeconfig, a.namespace), '--wait', `--timeout=${t}`],
    },
    {
      id: 'namespaces',
      cluster: 'upper',
      text: `delete namespace ${a.namespace} in either cluster if join created it and it holds no other release`,
    },
  ];
}

/** The plan as the dry run prints it: numbered steps, each with its helm command line. */
export function renderPlan(cmd: 'join' | 'leave', steps: PlanStep[]): string {
  const lines = [`fedlet ${cmd} --dry-run: nothing is changed; these are the steps:`];
  steps.forEach((s, i) => {
    lines.push(`  ${i + 1}. [${s.cluster}] ${s.text}`);
    if (s.helm) lines.push(`       helm ${redact(s.helm).join(' ')}`);
  });
  return `${lines.join('\n')}\n`;
}
