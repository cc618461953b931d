// What must hold between the upper cluster and every lower cluster once the federation is quiet, no
// matter which faults came before. Reads both sides with admin credentials; never writes. Shared by
// the chaos e2e test and the standalone soak (so it imports nothing from vitest).
import { readFileSync } from 'node:fs';
import { KubeClient, loadKubeConfig } from '../../../src/kube/client.js';
import { dependencyRefs } from '../../../provider/workload/translate.js';
import {
  LABEL_ORIGIN,
  LABEL_SERVICE_ACCOUNT_TOKEN,
  LABEL_UPPER_NAME,
  LABEL_UPPER_NAMESPACE,
  LABEL_UPPER_UID,
} from '../../../src/labels.js';
import type { DataObject, Pod } from '../../../src/kube/types.js';
import type { SandboxState } from '../../../sandbox/sandbox.js';

export interface Violation {
  invariant:
    | 'one-lower-pod-per-upper-pod'
    | 'no-orphan-lower-pod'
    | 'status-agrees'
    | 'nothing-stuck-terminating'
    | 'no-orphan-copy'
    | 'rss-bounded';
  detail: string;
}

const terminal = (p: Pod) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
const ready = (p: Pod) => p.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
const key = (p: { metadata?: { namespace?: string; name?: string } }) => `${p.metadata?.namespace}/${p.metadata?.name}`;

/** Resident set size of a process in bytes (Linux), or undefined if it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface InvariantOptions {
  /** Only pods in these upper namespaces are considered (the workload's), or all when absent. */
  namespaces?: string[];
  /** Per cluster: the fedlet's RSS at the start of the run, and the bound on growth from it. */
  rssBaseline?: Map<string, number>;
  rssBound?: (baseline: number) => number;
}

export async function checkInvariants(state: SandboxState, opts: InvariantOptions = {}): Promise<Violation[]> {
  const v: Violation[] = [];
  const upper = new KubeClient(loadKubeConfig(state.upperKubeconfig));
  const inScope = (ns: string | undefined) => !opts.namespaces || opts.namespaces.includes(ns ?? '');
  const upperPods = (await upper.get<{ items: Pod[] }>('/api/v1/pods', { timeoutMs: 20_000 })).items.filter((p) =>
    inScope(p.metadata.namespace),
  );
  const byUid = new Map(upperPods.map((p) => [p.metadata.uid!, p]));
  for (const p of upperPods)
    if (p.metadata.deletionTimestamp)
      v.push({
        invariant: 'nothing-stuck-terminating',
        detail: `upper pod ${key(p)} Terminating since ${p.metadata.deletionTimestamp}`,
      });

  for (const [i, f] of state.fedlets.entries()) {
    const lower = new KubeClient(loadKubeConfig(state.lowerKubeconfigs[i]!));
    const sel = { labelSelector: `${LABEL_ORIGIN}=${f.nodeName}` };
    const [lowerPods, cms, secrets] = await Promise.all([
      lower.get<{ items: Pod[] }>('/api/v1/pods', { query: sel, timeoutMs: 20_000 }),
      lower.get<{ items: DataObject[] }>('/api/v1/configmaps', { query: sel, timeoutMs: 20_000 }),
      lower.get<{ items: DataObject[] }>('/api/v1/secrets', { query: sel, timeoutMs: 20_000 }),
    ]);
    const mine = lowerPods.items.filter((p) => inScope(p.metadata.annotations?.[LABEL_UPPER_NAMESPACE]));
    const bound = upperPods.filter((p) => p.spec.nodeName === f.nodeName);

    for (const lp of mine) {
      if (lp.metadata.deletionTimestamp)
        v.push({ invariant: 'nothing-stuck-terminating', detail: `lower pod ${f.cluster}:${key(lp)} Terminating` });
      const up = byUid.get(lp.metadata.labels?.[LABEL_UPPER_UID] ?? '');
      if (!up || up.spec.nodeName !== f.nodeName)
        v.push({
          invariant: 'no-orphan-lower-pod',
          detail: `lower pod ${f.cluster}:${key(lp)} (upper ${lp.metadata.annotations?.[LABEL_UPPER_NAMESPACE]}/${lp.metadata.annotations?.[LABEL_UPPER_NAME]}) has no upper pod on ${f.nodeName}`,
        });
    }
    const lowerByUid = new Map<string, Pod[]>();
    for (const lp of mine.filter((p) => !p.metadata.deletionTimestamp)) {
      const uid = lp.metadata.labels?.[LABEL_UPPER_UID] ?? '';
      lowerByUid.set(uid, [...(lowerByUid.get(uid) ?? []), lp]);
    }
    for (const up of bound) {
      if (terminal(up) || up.metadata.deletionTimestamp) continue;
      const backing = lowerByUid.get(up.metadata.uid!) ?? [];
      if (backing.length !== 1) {
        v.push({
          invariant: 'one-lower-pod-per-upper-pod',
          detail: `upper pod ${key(up)} on ${f.nodeName} has ${backing.length} lower pods`,
        });
        continue;
      }
      const lp = backing[0]!;
      if (lp.status?.phase !== up.status?.phase || ready(lp) !== ready(up))
        v.push({
          invariant: 'status-agrees',
          detail: `upper pod ${key(up)}: ${up.status?.phase}/Ready=${ready(up)}, lower ${f.cluster}:${key(lp)}: ${lp.status?.phase}/Ready=${ready(lp)}`,
        });
    }
    // Copies: each needs an upper pod on this node, in the copy's upper namespace, referencing it.
    for (const [kind, list] of [
      ['configmaps', cms.items],
      ['secrets', secrets.items],
    ] as const)
      for (const obj of list) {
        const ns = obj.metadata.annotations?.[LABEL_UPPER_NAMESPACE] ?? obj.metadata.namespace;
        if (!inScope(ns)) continue;
        // A service-account token Secret belongs to one upper pod (by uid), not to a reference by name.
        const tokenOf = obj.metadata.labels?.[LABEL_SERVICE_ACCOUNT_TOKEN] ? obj.metadata.labels?.[LABEL_UPPER_UID] : undefined;
        const referenced = bound.some((p) => {
          if (tokenOf) return p.metadata.uid === tokenOf;
          if (p.metadata.namespace !== ns) return false;
          const refs = dependencyRefs(p);
          return (kind === 'configmaps' ? refs.configMaps : refs.secrets).has(obj.metadata.name!);
        });
        if (!referenced)
          v.push({
            invariant: 'no-orphan-copy',
            detail: `${kind} ${f.cluster}:${key(obj)} is referenced by no pod on ${f.nodeName}`,
          });
      }

    const base = opts.rssBaseline?.get(f.cluster);
    const now = f.process ? rssBytes(f.process.pid) : undefined;
    if (base !== undefined && now !== undefined && opts.rssBound && now > opts.rssBound(base))
      v.push({
        invariant: 'rss-bounded',
        detail: `fedlet ${f.cluster} RSS ${(now / 2 ** 20).toFixed(0)} MiB > bound ${(opts.rssBound(base) / 2 ** 20).toFixed(0)} MiB (start ${(base / 2 ** 20).toFixed(0)} MiB)`,
      });
  }
  return v;
}
