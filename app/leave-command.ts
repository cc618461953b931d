// `fedlet leave`: undoes `fedlet join` — cordons the virtual node, lets its workloads go (app/join/drain.ts),
// uninstalls both halves of the release, removes the Secret join wrote and what fedlet made at run time
// (the Node, its Leases, summary, CSRs, leftover lower pods and the lower namespaces it created), the
// namespaces join created when nothing else lives there, and says what it left. Every step accepts that
// its object is already gone, so leave can be run again after an interruption.
import { KubeApiError, KubeClient, isNotFound, loadKubeConfig } from '../src/kube/client.js';
import type { DataObject, KubeObject, Pod } from '../src/kube/types.js';
import { LABEL_NODE, LABEL_ORIGIN } from '../src/labels.js';
import { summaryConfigMapName } from '../src/scheduling/summary.js';
import { type LeaveArgs, joinNames, leaveArgs } from './join/args.js';
import { cordon, drain, nodesOf, podsOn } from './join/drain.js';
import { findHelm, Helm, JoinError } from './join/helm.js';
import { leavePlan, MANAGED_BY_JOIN, renderPlan, scopeArgs } from './join/plan.js';
import type { CliIO } from './io.js';

const gone = (e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e));
const nsPath = (n: string) => `/api/v1/namespaces/${encodeURIComponent(n)}`;

interface LeaveState {
  nodes: string[];
  summaryNamespace: string;
  /** What leave did not remove, and why: printed at the end. */
  left: string[];
  /** What the rest of the upper cluster lost with this release: printed at the end. */
  notes: string[];
}

/** Uninstalls a half of the release if it is there; reads the summary namespace first (upper half). */
async function uninstall(helm: Helm, a: LeaveArgs, half: 'upper' | 'lower', st: LeaveState): Promise<string> {
  const scope = scopeArgs(half === 'upper' ? a.upperKubeconfig : a.lowerKubeconfig, a.namespace);
  const r = await helm.release(a.release, scope);
  if (!r) return 'no such release';
  if (half === 'upper') {
    const v = JSON.parse(
      (await helm.ok(['get', 'values', a.release, ...scope, '-o', 'json'], 'reading the release values')) || '{}',
    ) as {
      summaryNamespace?: string;
      extender?: { enabled?: boolean };
      storageClass?: { create?: boolean };
    };
    if (v.summaryNamespace) st.summaryNamespace = v.summaryNamespace;
    // Once-per-upper-cluster parts go with this release: the other clusters' nodes lose them too.
    if (v.extender?.enabled)
      st.notes.push('no scheduler extender any more (this release ran it): enable extender.enabled=true in another release');
    if (v.storageClass?.create)
      st.notes.push('no StorageClass fedlet any more (this release created it): set storageClass.create=true in another release');
  }
  await helm.ok(
    ['uninstall', a.release, ...scope, '--wait', `--timeout=${a.timeoutSeconds}s`],
    `uninstalling the ${half} half of ${a.release}`,
    (a.timeoutSeconds + 60) * 1000,
  );
  return `uninstalled (was revision ${r.revision}, ${r.status})`;
}

/** Waits until fedlet's pods of the release are gone: a stopping leader must not re-register the node. */
async function fedletPodsGone(upper: KubeClient, a: LeaveArgs): Promise<void> {
  const until = Date.now() + a.timeoutSeconds * 1000;
  const sel = `app.kubernetes.io/name=fedlet,app.kubernetes.io/instance=${a.release}`;
  while (Date.now() < until) {
    const pods = await upper.get<{ items: Pod[] }>(`${nsPath(a.namespace)}/pods`, { query: { labelSelector: sel } });
    if (!pods.items.length) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new JoinError(`fedlet's pods (${sel}) in ${a.namespace} are still there ${a.timeoutSeconds}s after the uninstall`);
}

async function upperLeftovers(upper: KubeClient, a: LeaveArgs, st: LeaveState): Promise<string> {
  const done: string[] = [];
  const secretPath = `${nsPath(a.namespace)}/secrets/${encodeURIComponent(joinNames(a).secret)}`;
  const secret = await upper.get<DataObject>(secretPath).catch(gone);
  if (secret?.metadata.labels?.[MANAGED_BY_JOIN.key] === MANAGED_BY_JOIN.value) {
    await upper.delete(secretPath).catch(gone);
    done.push('Secret');
  } else if (secret) st.left.push(`upper Secret ${a.namespace}/${secret.metadata.name}: not written by fedlet join`);
  // The nodes found before the drain, and any the fedlet registered since (it was running until now).
  const nodes = [...new Set([...st.nodes, ...(await nodesOf(upper, a.nodeName, a.cluster))])];
  for (const n of nodes) {
    await upper.delete(`/api/v1/nodes/${encodeURIComponent(n)}`).catch(gone);
    for (const lease of [n, `${n}-leader`])
      await upper
        .delete(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${encodeURIComponent(lease)}`)
        .catch(gone);
    await upper.delete(`${nsPath(st.summaryNamespace)}/configmaps/${encodeURIComponent(summaryConfigMapName(n))}`).catch(gone);
    await upper.delete('/apis/certificates.k8s.io/v1/certificatesigningrequests', undefined, {
      query: { labelSelector: `${LABEL_NODE}=${n}` },
    });
  }
  // DaemonSet pods (never evicted) were bound to the deleted node: nothing runs them any more.
  for (const p of await podsOn(upper, nodes))
    await upper
      .delete(`${nsPath(p.metadata.namespace!)}/pods/${encodeURIComponent(p.metadata.name!)}`, { gracePeriodSeconds: 0 })
      .catch(gone);
  if (nodes.length) done.push(`node(s) ${nodes.join(', ')} with their Leases, summaries and CSRs`);
  st.nodes = nodes.length ? nodes : [a.nodeName];
  return done.length ? `deleted ${done.join('; ')}` : 'nothing left';
}

async function lowerLeftovers(lower: KubeClient, st: LeaveState): Promise<string> {
  let pods = 0;
  const deleted: string[] = [];
  for (const n of st.nodes) {
    const sel = { labelSelector: `${LABEL_ORIGIN}=${n}` };
    for (const p of (await lower.get<{ items: Pod[] }>('/api/v1/pods', { query: sel })).items) {
      await lower
        .delete(`${nsPath(p.metadata.namespace!)}/pods/${encodeURIComponent(p.metadata.name!)}`, { gracePeriodSeconds: 0 })
        .catch(gone);
      pods++;
    }
    for (const ns of (await lower.get<{ items: KubeObject[] }>('/api/v1/namespaces', { query: sel })).items) {
      const name = ns.metadata!.name!;
      const others = (await lower.get<{ items: Pod[] }>(`${nsPath(name)}/pods`)).items.filter(
        (p) => p.metadata.labels?.[LABEL_ORIGIN] !== n,
      );
      if (others.length)
        st.left.push(`lower namespace ${name}: fedlet created it, but it holds ${others.length} pod(s) fedlet did not make`);
      else {
        await lower.delete(nsPath(name)).catch(gone);
        deleted.push(name);
      }
    }
  }
  return `deleted ${pods} pod(s) and ${deleted.length ? `namespace(s) ${deleted.join(', ')}` : 'no namespace'}`;
}

/** Deletes the release namespace in one cluster when join created it and no release or pod lives there. */
async function dropNamespace(kube: KubeClient, helm: Helm, kubeconfig: string, a: LeaveArgs, st: LeaveState, where: string) {
  const ns = await kube.get<KubeObject>(nsPath(a.namespace)).catch(gone);
  if (!ns) return `${where}: gone`;
  if (ns.metadata?.labels?.[MANAGED_BY_JOIN.key] !== MANAGED_BY_JOIN.value) return `${where}: kept (join did not create it)`;
  const releases = JSON.parse(
    (await helm.ok(['list', ...scopeArgs(kubeconfig, a.namespace), '--all', '-o', 'json'], 'listing helm releases')) || '[]',
  ) as unknown[];
  const pods = (await kube.get<{ items: Pod[] }>(`${nsPath(a.namespace)}/pods`)).items.filter(
    (p) => !p.metadata.deletionTimestamp,
  );
  if (releases.length || pods.length) {
    st.left.push(`${where} namespace ${a.namespace}: still holds ${releases.length} other release(s) and ${pods.length} pod(s)`);
    return `${where}: kept (in use)`;
  }
  await kube.delete(nsPath(a.namespace)).catch(gone);
  return `${where}: deleted`;
}

export async function cmdLeave(argv: string[], io: CliIO): Promise<number> {
  const a = leaveArgs(argv);
  const plan = leavePlan(a);
  if (a.dryRun) {
    io.out(renderPlan('leave', plan));
    return 0;
  }
  const helm = new Helm(findHelm());
  const upper = new KubeClient(loadKubeConfig(a.upperKubeconfig), { userAgent: 'fedlet-leave' });
  const lower = new KubeClient(loadKubeConfig(a.lowerKubeconfig), { userAgent: 'fedlet-leave' });
  const st: LeaveState = { nodes: [], summaryNamespace: a.namespace, left: [], notes: [] };
  const run: Record<string, () => Promise<string>> = {
    cordon: async () => cordon(upper, (st.nodes = await nodesOf(upper, a.nodeName, a.cluster))),
    drain: () => drain(upper, st.nodes, { timeoutMs: a.timeoutSeconds * 1000, force: a.force, progress: (m) => io.err(m) }),
    'upper-release': async () => {
      const said = await uninstall(helm, a, 'upper', st);
      await fedletPodsGone(upper, a);
      return said;
    },
    'upper-leftovers': () => upperLeftovers(upper, a, st),
    'lower-leftovers': () => lowerLeftovers(lower, st),
    'lower-release': () => uninstall(helm, a, 'lower', st),
    namespaces: async () =>
      [
        await dropNamespace(upper, helm, a.upperKubeconfig, a, st, 'upper'),
        await dropNamespace(lower, helm, a.lowerKubeconfig, a, st, 'lower'),
      ].join(', '),
  };
  for (const [i, step] of plan.entries()) {
    io.err(`[${i + 1}/${plan.length}] ${step.cluster}: ${step.id} ... `);
    try {
      io.err(`${await run[step.id]!()}\n`);
    } catch (e) {
      io.err('failed\n');
      const msg = e instanceof KubeApiError || e instanceof JoinError ? e.message : String((e as Error).message ?? e);
      io.err(
        `fedlet leave: step ${step.id} (${step.cluster} cluster) failed: ${msg}\n  what to do: fix the cause and run the same fedlet leave again (every step skips what is already gone)\n`,
      );
      return 1;
    }
  }
  io.out(
    `left cluster ${a.cluster}: nothing of virtual node ${a.nodeName} or release ${a.release} remains in either cluster\n` +
      (st.left.length ? `left behind:\n${st.left.map((l) => `  - ${l}\n`).join('')}` : 'left behind: nothing\n') +
      st.notes.map((n) => `note: ${n}\n`).join(''),
  );
  return 0;
}
