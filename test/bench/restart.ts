// Bench part `restart`: API writes fedlet makes in the first minute after a restart with unchanged
// Running pods. Goal: none besides the node's heartbeats (its Lease, its status) and the leader Lease.
// fedlet's own counter (fedlet_api_writes_total, by cluster, verb and resource) starts at zero with
// the new process, so one scrape a minute after the start holds exactly the writes of that minute.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { KubeClient } from '../../src/kube/client.js';
import { saveState, startFedlet, stopFedlet, waitForNodesReady, type SandboxState } from '../../sandbox/sandbox.js';
import type { Recorder } from './run.js';
import { LABEL_ORIGIN, LABEL_SERVICE_ACCOUNT_TOKEN } from '../../src/labels.js';
import { fedletWrites, HEARTBEAT, perPodWrites, REVIEWS, total, type Write } from './writes.js';

export interface RestartBenchOptions {
  s: SandboxState;
  upper: KubeClient;
  /** The lower cluster of the restarted fedlet: garbage left by earlier parts is awaited there. */
  lower: KubeClient;
  ns: string;
  /** Pods of a Deployment of their own that run across the restart (other pods of the bench stay too). */
  pods: number;
  /** Creates an N-pod Deployment and waits until all are Ready (run.ts's burst). */
  burst: (c: KubeClient, ns: string, name: string, replicas: number) => Promise<number>;
  countReady: (c: KubeClient, ns: string, selector: string) => Promise<number>;
  /** How long after the restart writes are counted (a minute by default). */
  windowMs: number;
  /** fedlet's /metrics text from its kubelet port. */
  fedletMetrics: () => Promise<string>;
  r: Pick<Recorder, 'measure' | 'note'>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchRestart(o: RestartBenchOptions): Promise<void> {
  const { s, upper, ns } = o;
  const f = s.fedlets[0]!;
  await o.burst(upper, ns, 'restart-steady', o.pods);
  // Let the last status writes of the start-up settle: the restart should find nothing to do.
  await sleep(Math.min(10_000, o.windowMs));
  const managed = await o.countReady(upper, ns, '');
  await leftoversGone(o, f.nodeName, managed);
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
  await sleep(Math.max(0, o.windowMs - (Date.now() - t0)));
  const writes = fedletWrites(await o.fedletMetrics());
  const heartbeats = writes.filter((w) => HEARTBEAT.has(w.resource));
  const others = perPodWrites(writes);
  const reviews = writes.filter((w) => REVIEWS.has(w.resource));
  const detail = (ws: Write[]) =>
    ws
      .filter((w) => w.n > 0)
      .map((w) => `${w.who} ${w.verb} ${w.resource} ${w.n}`)
      .join(', ') || 'none';
  const window = `${(o.windowMs / 1000).toFixed(0)} s`;
  o.r.measure(
    'restart.controller-started-after',
    `restart with ${managed} unchanged Running pods: pod controller started after`,
    syncedAfter,
    's',
  );
  o.r.measure(
    'restart.writes-besides-heartbeats',
    `API writes by fedlet in the first ${window} after a restart with ${managed} unchanged pods, besides heartbeats and reviews`,
    total(others),
    'writes',
  );
  o.r.measure(
    'restart.heartbeat-writes',
    `API writes by fedlet in that window: lease and node heartbeats`,
    total(heartbeats),
    'writes',
  );
  o.r.note('restart: writes besides heartbeats', detail(others));
  o.r.note('restart: heartbeats', detail(heartbeats));
  o.r.note('restart: reviews (persist nothing: the bench scraping /metrics, fedlet checking its rights)', detail(reviews));
}

/** How many times fedlet logged its pod controller's start (a restart is over when the count rises). */
export function controllerStarts(log: string): number {
  try {
    return readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.includes('pod controller started')).length;
  } catch {
    return 0;
  }
}

/**
 * Waits (at most 10 minutes) until the lower cluster holds no more of fedlet's token Secrets than there
 * are managed pods. Earlier parts (a surge of thousands of pods) leave their pods' token Secrets to the
 * lower garbage collector (owned by the lower pods; kube-controller-manager deletes them at its own
 * pace): a restart meanwhile finds them and deletes them itself, cleanup the restart did not cause.
 */
async function leftoversGone(o: RestartBenchOptions, nodeName: string, managed: number): Promise<void> {
  const t0 = Date.now();
  const selector = `${LABEL_ORIGIN}=${nodeName},${LABEL_SERVICE_ACCOUNT_TOKEN}`;
  let left = 0;
  while (Date.now() - t0 < 600_000) {
    const page = await o.lower.get<{ items?: unknown[]; metadata?: { remainingItemCount?: number } }>('/api/v1/secrets', {
      query: { labelSelector: selector, limit: 1 },
    });
    left = (page.items?.length ?? 0) + (page.metadata?.remainingItemCount ?? 0);
    if (left <= managed) break;
    await sleep(2000);
  }
  o.r.note(
    "restart: waited for earlier parts' token Secrets to be collected",
    `${((Date.now() - t0) / 1000).toFixed(0)} s (${left} token Secrets for ${managed} managed pods)`,
  );
}
