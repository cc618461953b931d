// Bench part `restart`: API writes fedlet makes in the first minute after a restart with unchanged
// Running pods. Goal: none besides the node's heartbeats (its Lease, its status) and the leader Lease.
// fedlet's own counter (fedlet_api_writes_total, by cluster, verb and resource) starts at zero with
// the new process, so one scrape a minute after the start holds exactly the writes of that minute.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { KubeClient } from '../../src/kube/client.js';
import { saveState, startFedlet, stopFedlet, waitForNodesReady, type SandboxState } from '../../sandbox/sandbox.js';

export interface RestartBenchOptions {
  s: SandboxState;
  upper: KubeClient;
  ns: string;
  /** Pods of a Deployment of their own that run across the restart (other pods of the bench stay too). */
  pods: number;
  /** Creates an N-pod Deployment and waits until all are Ready (run.ts's burst). */
  burst: (c: KubeClient, ns: string, name: string, replicas: number) => Promise<number>;
  countReady: (c: KubeClient, ns: string, selector: string) => Promise<number>;
  /** fedlet's /metrics text from its kubelet port. */
  fedletMetrics: () => Promise<string>;
  note: (name: string, value: string) => void;
}

/** Heartbeats: the node Lease, the leader Lease, the Node and its status. */
const HEARTBEAT = new Set(['leases', 'nodes', 'nodes/status']);
/** Reviews that authorize a kubelet API request: the bench's own scrape of /metrics causes them. */
const SCRAPE = new Set(['subjectaccessreviews', 'tokenreviews']);

interface Write {
  cluster: string;
  verb: string;
  resource: string;
  n: number;
}
export function writesFrom(metrics: string): Write[] {
  const out: Write[] = [];
  for (const m of metrics.matchAll(/^fedlet_api_writes_total\{([^}]*)\} (\d+)/gm)) {
    const l = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    out.push({ cluster: l.cluster ?? '', verb: l.verb ?? '', resource: l.resource ?? '', n: Number(m[2]) });
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchRestart(o: RestartBenchOptions): Promise<void> {
  const { s, upper, ns } = o;
  const f = s.fedlets[0]!;
  await o.burst(upper, ns, 'restart-steady', o.pods);
  // Let the last status writes of the start-up settle: the restart should find nothing to do.
  await sleep(10_000);
  const managed = await o.countReady(upper, ns, '');
  // The restart must stay shorter than the upper node grace period, else the node lifecycle controller
  // marks every pod NotReady and fedlet rightly writes them back: stop just after a node heartbeat, and
  // hand the leader Lease over at once (the old process is gone).
  const deadline = Date.now() + 60_000;
  for (;;) {
    const lease = await upper.get<{ spec?: { renewTime?: string } }>(
      `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${f.nodeName}`,
    );
    if (Date.now() - Date.parse(lease.spec?.renewTime ?? '') < 2000 || Date.now() > deadline) break;
    await sleep(200);
  }
  await stopFedlet(s, f.cluster);
  await upper
    .delete(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${f.nodeName}-leader`)
    .catch(() => undefined);
  const log = path.join(s.dir, `fedlet-${f.cluster}.log`);
  const startsBefore = controllerStarts(log);
  const t0 = Date.now();
  startFedlet(s, f.cluster);
  saveState(s);
  await waitForNodesReady(s, [f.nodeName], 60_000);
  while (controllerStarts(log) <= startsBefore && Date.now() - t0 < 60_000) await sleep(200);
  const syncedAfter = (Date.now() - t0) / 1000;
  await sleep(Math.max(0, 60_000 - (Date.now() - t0)));
  const writes = writesFrom(await o.fedletMetrics());
  const sum = (ws: Write[]) => ws.reduce((a, w) => a + w.n, 0);
  const heartbeats = writes.filter((w) => HEARTBEAT.has(w.resource));
  const others = writes.filter((w) => !HEARTBEAT.has(w.resource) && !SCRAPE.has(w.resource));
  const scrape = writes.filter((w) => SCRAPE.has(w.resource));
  const detail = (ws: Write[]) =>
    ws
      .filter((w) => w.n > 0)
      .map((w) => `${w.cluster} ${w.verb} ${w.resource} ${w.n}`)
      .join(', ') || 'none';
  o.note(`restart with ${managed} unchanged Running pods: pod controller started after`, `${syncedAfter.toFixed(1)} s`);
  o.note(
    `API writes by fedlet in the first minute after a restart with ${managed} unchanged pods, besides heartbeats`,
    `${sum(others)} (goal 0)${sum(others) ? `: ${detail(others)}` : ''}; and ${sum(scrape)} review(s) authorizing the bench's scrape of fedlet's /metrics`,
  );
  o.note('API writes by fedlet in that minute: lease and node heartbeats', `${sum(heartbeats)} (${detail(heartbeats)})`);
}

function controllerStarts(log: string): number {
  try {
    return readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.includes('pod controller started')).length;
  } catch {
    return 0;
  }
}
