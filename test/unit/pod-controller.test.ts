// The pod controller's sync, one row per branch, on an in-memory API server, a fake provider and a
// fake clock. The e2e suite proves the same behaviours through real clusters; this shows each branch.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { GC_RESYNC_MS, PodController } from '../../src/pods/pod-controller.js';
import { EventRecorder } from '../../src/events.js';
import type { Pod, PodStatus } from '../../src/kube/types.js';
import type { PodEnsureResult } from '../../src/provider.js';
import { FakeKube } from './support/fake-kube.js';
import { FakeClock, settle } from './support/fake-clock.js';
import { FakeProvider } from './support/fake-provider.js';
import { STATUS_COALESCE_MS, urgentStatusChange } from '../../src/pods/status-patch.js';

const log = pino({ level: 'silent' });
const T0 = Date.parse('2026-01-01T00:00:00Z');
const KEY = 'd/web';
const PATH = '/api/v1/namespaces/d/pods/web';

function pod(extra: { metadata?: Partial<Pod['metadata']>; status?: PodStatus } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'd', uid: 'u1', ...extra.metadata },
    spec: { nodeName: 'vn', containers: [{ name: 'c', image: 'img' }] },
    status: extra.status ?? { phase: 'Pending' },
  };
}

const stopAll: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stopAll.splice(0)) await s();
});

async function harness(
  o: {
    pod?: Pod;
    setup?: (p: FakeProvider) => void;
    at?: number;
    /** Wraps the upper API server as the node's own client (what a kubelet writes goes through it). */
    nodeClient?: (upper: FakeKube) => FakeKube;
    /** More objects in the upper cluster before the controller starts. */
    seed?: (upper: FakeKube) => void;
  } = {},
) {
  const clock = new FakeClock(o.at ?? T0);
  const upper = new FakeKube(() => clock.now());
  if (o.pod) upper.seed('/api/v1/namespaces/d/pods', o.pod);
  o.seed?.(upper);
  upper.seed('/api/v1/namespaces/d/pods', {
    ...pod(),
    metadata: { name: 'elsewhere', namespace: 'd' },
    spec: { nodeName: 'other', containers: [] },
  });
  const provider = new FakeProvider();
  o.setup?.(provider);
  const events = new EventRecorder({ client: upper, component: 'fedlet', host: 'vn', log });
  const c = new PodController({
    upper,
    nodeClient: o.nodeClient?.(upper),
    nodeName: 'vn',
    provider,
    events,
    workers: 0,
    unreachableDeleteAfterSeconds: 60,
    log,
    clock,
  });
  stopAll.push(() => c.stop());
  c.pods.start();
  await c.pods.waitForSync();
  const addAfter = vi.spyOn(c.queue, 'addAfter');
  const patches = () => upper.calls.filter((x) => x.verb === 'PATCH' && x.path === `${PATH}/status`).length;
  const events_ = () => upper.items<{ reason: string; type: string; message: string }>('/api/v1/events');
  return { clock, upper, provider, c, addAfter, patches, events: events_ };
}

const unreachable = { ready: false, reason: 'LowerClusterUnreachable', message: 'lower cluster c is unreachable' };
const deleting = { deletionTimestamp: new Date(T0).toISOString(), deletionGracePeriodSeconds: 30 };

describe('pod controller sync: one row per branch', () => {
  it('the cache holds only pods bound to this node', async () => {
    const h = await harness({ pod: pod() });
    expect(h.c.pods.list().map((p) => p.metadata.name)).toEqual(['web']);
  });

  it('gone: the backing pod of a pod no longer in the upper cluster is deleted at once', async () => {
    const h = await harness();
    await h.c.sync(KEY);
    expect(h.provider.calls).toEqual([{ op: 'delete', key: KEY, grace: 0 }]);
  });

  it('deleting, reachable, backing pod gone: the upper pod is removed for good', async () => {
    const h = await harness({ pod: pod({ metadata: deleting }) });
    await h.c.sync(KEY);
    expect(h.provider.calls).toEqual([{ op: 'delete', key: KEY, grace: 30 }]);
    expect(h.upper.peek(PATH)).toBeUndefined();
  });

  it('deleting, reachable, backing pod still stopping: the upper pod stays until it is gone', async () => {
    const h = await harness({ pod: pod({ metadata: deleting }), setup: (p) => (p.deleteGone = false) });
    await h.c.sync(KEY);
    expect(h.provider.calls).toEqual([{ op: 'delete', key: KEY, grace: 30 }]);
    expect(h.upper.peek(PATH)).toBeDefined();
  });

  it('deleting, unreachable, before the deadline: nothing is deleted; looked at again just after the deadline', async () => {
    const h = await harness({
      pod: pod({ metadata: deleting }),
      setup: (p) => (p.state = { ...p.state, condition: unreachable }),
      at: T0 + 10_000,
    });
    await h.c.sync(KEY);
    expect(h.provider.calls).toEqual([]);
    expect(h.upper.peek(PATH)).toBeDefined();
    expect(h.addAfter).toHaveBeenCalledWith(KEY, 50_100);
  });

  it('deleting, unreachable, after the deadline: finished without confirmation, with a Warning saying why', async () => {
    const h = await harness({
      pod: pod({ metadata: deleting }),
      setup: (p) => (p.state = { ...p.state, condition: unreachable }),
      at: T0 + 61_000,
    });
    await h.c.sync(KEY);
    await settle();
    expect(h.provider.calls).toEqual([]);
    expect(h.upper.peek(PATH)).toBeUndefined();
    expect(h.events()).toEqual([
      expect.objectContaining({
        type: 'Warning',
        reason: 'LowerClusterUnreachable',
        message: expect.stringMatching(/without confirmation/),
      }),
    ]);
  });

  it('failed by fedlet: a stale cache showing it running never brings a backing pod back', async () => {
    const h = await harness({
      pod: pod({ status: { phase: 'Running' } }),
      setup: (p) => (p.ensureResult = { kind: 'fail', reason: 'LowerPodDeleted', message: 'gone' }),
    });
    await h.c.sync(KEY);
    expect(h.upper.peek<Pod>(PATH)?.status?.phase).toBe('Failed');
    h.upper.seed('/api/v1/namespaces/d/pods', pod({ status: { phase: 'Running' } })); // stale view
    await settle();
    expect(h.c.pods.get(KEY)?.status?.phase).toBe('Running');
    h.provider.calls.length = 0;
    await h.c.sync(KEY);
    expect(h.provider.calls).toEqual([{ op: 'delete', key: KEY, grace: 0 }]);
  });

  it('terminal upper pod, backing pod still active: the backing pod is removed', async () => {
    const h = await harness({
      pod: pod({ status: { phase: 'Failed' } }),
      setup: (p) => p.statuses.set(KEY, { phase: 'Running' }),
    });
    await h.c.sync(KEY);
    expect(h.provider.calls).toEqual([{ op: 'delete', key: KEY, grace: 0 }]);
  });

  it('terminal upper pod, backing pod ended: its final status is written, nothing is created', async () => {
    const final = { phase: 'Succeeded', containerStatuses: [{ name: 'c', state: { terminated: { exitCode: 0 } } }] };
    const h = await harness({ pod: pod({ status: { phase: 'Succeeded' } }), setup: (p) => p.statuses.set(KEY, final) });
    await h.c.sync(KEY);
    expect(h.provider.calls).toEqual([]);
    expect(h.upper.peek<Pod>(PATH)?.status?.containerStatuses).toEqual(final.containerStatuses);
  });

  it.each([
    ['never as it is: not retried', false, undefined],
    ['until something else changes: retried with backoff', true, 'retry'],
  ] as const)('rejected (%s): Pending with the reason on the pod and a Warning', async (_n, retry, outcome) => {
    const rejected: PodEnsureResult = {
      kind: 'rejected',
      reason: 'UnsupportedPodSpec',
      message: 'hostPID is not supported',
      retry,
    };
    const h = await harness({ pod: pod(), setup: (p) => (p.ensureResult = rejected) });
    expect(await h.c.sync(KEY)).toBe(outcome);
    await settle();
    const st = h.upper.peek<Pod>(PATH)?.status;
    expect(st).toMatchObject({ phase: 'Pending', reason: 'UnsupportedPodSpec', message: 'hostPID is not supported' });
    expect(st?.conditions).toContainEqual(
      expect.objectContaining({ type: 'Ready', status: 'False', reason: 'UnsupportedPodSpec' }),
    );
    expect(h.events()).toEqual([expect.objectContaining({ type: 'Warning', reason: 'UnsupportedPodSpec' })]);
  });

  it('fail: the upper pod fails (not Ready) so that its controller replaces it, with a Warning', async () => {
    const h = await harness({
      pod: pod({ status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }),
      setup: (p) => (p.ensureResult = { kind: 'fail', reason: 'LowerUnschedulable', message: 'could not schedule' }),
    });
    await h.c.sync(KEY);
    await settle();
    const st = h.upper.peek<Pod>(PATH)?.status;
    expect(st).toMatchObject({ phase: 'Failed', reason: 'LowerUnschedulable', message: 'could not schedule' });
    expect(st?.conditions).toContainEqual(
      expect.objectContaining({ type: 'Ready', status: 'False', reason: 'LowerUnschedulable' }),
    );
    expect(h.events()).toEqual([expect.objectContaining({ type: 'Warning', reason: 'LowerUnschedulable' })]);
  });

  it('waiting: status untouched, looked at again in a second', async () => {
    const h = await harness({ pod: pod(), setup: (p) => (p.ensureResult = { kind: 'waiting', message: 'old pod going' }) });
    await h.c.sync(KEY);
    expect(h.patches()).toBe(0);
    expect(h.addAfter).toHaveBeenCalledWith(KEY, 1000);
  });

  it('recheck: status written and looked at again when the provider asked', async () => {
    const h = await harness({
      pod: pod(),
      setup: (p) => {
        p.ensureResult = { kind: 'recheck', retryAfterMs: 5000 };
        p.statuses.set(KEY, { phase: 'Pending', reason: 'Unschedulable' });
      },
    });
    await h.c.sync(KEY);
    expect(h.addAfter).toHaveBeenCalledWith(KEY, 5000);
    expect(h.upper.peek<Pod>(PATH)?.status?.reason).toBe('Unschedulable');
  });

  it('ok: the backing status is reflected; in steady state nothing is written', async () => {
    const h = await harness({ pod: pod(), setup: (p) => p.statuses.set(KEY, { phase: 'Running', podIP: '10.1.0.5' }) });
    await h.c.sync(KEY);
    expect(h.upper.peek<Pod>(PATH)?.status).toMatchObject({ phase: 'Running', podIP: '10.1.0.5' });
    expect(h.patches()).toBe(1);
    await settle();
    await h.c.sync(KEY);
    expect(h.patches()).toBe(1);
    expect(h.addAfter).not.toHaveBeenCalled();
  });

  const starting: PodStatus = {
    phase: 'Pending',
    conditions: [
      { type: 'fedlet.io/LowerScheduled', status: 'True' },
      { type: 'Ready', status: 'False', reason: 'ContainersNotReady' },
    ],
    containerStatuses: [
      {
        name: 'c',
        ready: false,
        restartCount: 0,
        image: 'img',
        imageID: '',
        state: { waiting: { reason: 'ContainerCreating' } },
      },
    ],
  };
  const running: PodStatus = {
    phase: 'Running',
    podIP: '10.1.0.5',
    conditions: [
      { type: 'fedlet.io/LowerScheduled', status: 'True' },
      { type: 'Ready', status: 'True' },
    ],
  };

  it('ok, starting: the states a pod passes through on its way are written together with Running, in one patch', async () => {
    const h = await harness({ pod: pod(), setup: (p) => p.statuses.set(KEY, starting) });
    const within = vi.spyOn(h.c.queue, 'addWithin');
    await h.c.sync(KEY);
    expect(h.patches()).toBe(0);
    expect(within).toHaveBeenCalledWith(KEY, STATUS_COALESCE_MS);
    await h.clock.advance(STATUS_COALESCE_MS / 2);
    h.provider.statuses.set(KEY, running);
    await h.c.sync(KEY);
    expect(h.patches()).toBe(1);
    expect(h.upper.peek<Pod>(PATH)?.status).toMatchObject({ phase: 'Running', podIP: '10.1.0.5' });
  });

  it('ok, starting slowly: a held change is written once STATUS_COALESCE_MS has passed', async () => {
    const h = await harness({ pod: pod(), setup: (p) => p.statuses.set(KEY, starting) });
    await h.c.sync(KEY);
    await h.clock.advance(STATUS_COALESCE_MS / 2);
    await h.c.sync(KEY); // another change below meanwhile: still held, no second timer
    expect(h.patches()).toBe(0);
    await h.clock.advance(STATUS_COALESCE_MS / 2);
    expect(h.c.queue.length).toBe(1); // the queue brought the pod back in time
    await h.c.sync(KEY);
    expect(h.patches()).toBe(1);
    expect(h.upper.peek<Pod>(PATH)?.status?.containerStatuses?.[0]?.state).toEqual({ waiting: { reason: 'ContainerCreating' } });
  });

  it('ok, readiness lost: written at once', async () => {
    const h = await harness({
      pod: pod({ status: running }),
      setup: (p) => p.statuses.set(KEY, { ...running, conditions: [{ type: 'Ready', status: 'False' }] }),
    });
    await h.c.sync(KEY);
    expect(h.patches()).toBe(1);
  });
});

describe('urgentStatusChange: what may not wait', () => {
  const pending: PodStatus = { phase: 'Pending' };
  it.each([
    ['the phase', { phase: 'Running' }, true],
    ['the reason (why the pod waits)', { phase: 'Pending', reason: 'LowerNamespaceNotOwned' }, true],
    ['Ready turning True', { phase: 'Pending', conditions: [{ type: 'Ready', status: 'True' }] }, true],
    ['Ready False appearing', { phase: 'Pending', conditions: [{ type: 'Ready', status: 'False' }] }, false],
    ['a condition on the way', { phase: 'Pending', conditions: [{ type: 'Initialized', status: 'True' }] }, false],
    ['the host IP', { phase: 'Pending', hostIP: '10.0.0.1' }, false],
  ] as Array<[string, PodStatus, boolean]>)('%s', (_what, want, urgent) => {
    expect(urgentStatusChange(pending, want)).toBe(urgent);
  });
});

describe('pod controller garbage collection', () => {
  /** A started controller whose provider asks to collect again after `againAfterMs`; counts collections. */
  async function started(againAfterMs: number) {
    const h = await harness({ setup: (p) => (p.gcOutcome = { againAfterMs }) });
    const abort = new AbortController();
    stopAll.push(async () => abort.abort());
    await h.c.start(abort.signal);
    await h.clock.advance(0);
    return { ...h, gcs: () => h.provider.calls.filter((c) => c.op === 'gc').length };
  }

  it('runs again when the provider asks (a namespace kept for its grace period), with the pods as they are then', async () => {
    const h = await started(60_000);
    expect(h.gcs()).toBe(1);
    await h.clock.advance(59_000);
    expect(h.gcs()).toBe(1);
    h.provider.gcOutcome = {};
    await h.clock.advance(1_000);
    expect(h.gcs()).toBe(2);
    // Nothing left for later: the next run is the periodic resync, GC_RESYNC_MS on, then again.
    await h.clock.advance(GC_RESYNC_MS - 1_000);
    expect(h.gcs()).toBe(2);
    await h.clock.advance(1_000);
    expect(h.gcs()).toBe(3);
    await h.clock.advance(GC_RESYNC_MS);
    expect(h.gcs()).toBe(4);
  });

  it('runs one collection at a time; the ones asked for meanwhile become one run right after it', async () => {
    const h = await started(60_000);
    h.provider.gcOutcome = {};
    await h.clock.advance(60_000);
    const before = h.gcs();
    let running = 0;
    let most = 0;
    const releases: Array<() => void> = [];
    h.provider.collectGarbage = () => {
      h.provider.calls.push({ op: 'gc' });
      most = Math.max(most, ++running);
      return new Promise((resolve) =>
        releases.push(() => {
          running--;
          resolve({});
        }),
      );
    };
    // Three pods go, 3 s apart, while the first collection is still deleting.
    for (const name of ['a', 'b', 'c']) {
      await h.c.sync(`d/gone-${name}`);
      await h.clock.advance(3_000);
    }
    expect(h.gcs() - before).toBe(1);
    releases.shift()!();
    await h.clock.advance(0);
    // The three requests made meanwhile: one more run, not three.
    expect(h.gcs() - before).toBe(2);
    releases.shift()!();
    await h.clock.advance(0);
    expect(h.gcs() - before).toBe(2);
    expect(most).toBe(1);
  });

  it('a pod that goes does not wait for a collection scheduled far ahead (a namespace grace period)', async () => {
    const h = await started(300_000);
    expect(h.gcs()).toBe(1);
    // The backing pod of a pod that is gone is deleted: collection runs 2 s later, not in 5 minutes.
    await h.c.sync('d/gone');
    await h.clock.advance(2_000);
    expect(h.gcs()).toBe(2);
  });
});

describe('what the kubelet writes, written as the node', () => {
  it("pod status and the final deletion go through the node's client; nothing through fedlet's own", async () => {
    const asNode: string[] = [];
    const { upper, c } = await harness({
      pod: pod({ metadata: deleting }),
      setup: (p) => p.statuses.set('d/running', { phase: 'Running' }),
      nodeClient: (up) =>
        Object.assign(Object.create(up) as FakeKube, {
          patch: (p: string, body: unknown, type?: 'merge') => (asNode.push(`PATCH ${p}`), up.patch(p, body, type)),
          delete: (p: string, body?: unknown) => (asNode.push(`DELETE ${p}`), up.delete(p, body)),
        }),
      seed: (up) => up.seed('/api/v1/namespaces/d/pods', { ...pod(), metadata: { name: 'running', namespace: 'd', uid: 'u2' } }),
    });
    const before = upper.calls.length;
    await c.sync(KEY);
    await c.sync('d/running');
    expect(asNode).toEqual([`DELETE ${PATH}`, 'PATCH /api/v1/namespaces/d/pods/running/status']);
    // Every write of the two syncs was the node's (the fake records the node client's calls too).
    expect(upper.calls.slice(before).filter((x) => x.verb !== 'GET' && x.verb !== 'WATCH')).toHaveLength(2);
  });
});
