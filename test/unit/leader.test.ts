// Leader election and the write fence on an in-memory lease store and a virtual clock: takeover after
// the lease duration, the renew deadline, fencing (by time, before the elector notices), re-acquiring,
// and the controllers' reaction to a closed fence (no retry storm, a resync on regain).
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { LeaderElector, type LeaderClock } from '../../src/leader.js';
import { KubeApiError, KubeClient } from '../../src/kube/client.js';
import { NotLeaderError, WriteFence, isNotLeader } from '../../src/kube/fence.js';
import { WorkQueue } from '../../src/kube/work-queue.js';
import { Informer } from '../../src/kube/informer.js';
import { CacheHealth } from '../../src/kube/cache-health.js';

const log = pino({ level: 'silent' });
const LEASE = '/apis/coordination.k8s.io/v1/namespaces/ns/leases/node-leader';

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  renewTime?: string;
  acquireTime?: string;
  leaseTransitions?: number;
}
interface LeaseObj {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

/** One Lease object with optimistic concurrency, and an API that can be switched off. */
class FakeLeaseApi {
  lease?: LeaseObj;
  rv = 0;
  down = false;
  writes = 0;
  /** Runs inside each replace, before it succeeds (a slow API server). */
  duringReplace?: () => void;

  private check(method: string): void {
    if (this.down) throw new KubeApiError(0, 'TransportError', `${method} ${LEASE}: connect ECONNREFUSED`, method, LEASE);
  }
  get<T>(path: string): Promise<T> {
    this.check('GET');
    if (path !== LEASE || !this.lease) return Promise.reject(new KubeApiError(404, 'NotFound', 'not found', 'GET', path));
    return Promise.resolve(structuredClone(this.lease) as T);
  }
  create<T>(_path: string, body: LeaseObj): Promise<T> {
    this.check('POST');
    if (this.lease) return Promise.reject(new KubeApiError(409, 'AlreadyExists', 'exists', 'POST', LEASE));
    this.writes++;
    this.lease = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(++this.rv) } };
    return Promise.resolve(structuredClone(this.lease) as T);
  }
  replace<T>(_path: string, body: LeaseObj): Promise<T> {
    this.check('PUT');
    this.duringReplace?.();
    if (body.metadata.resourceVersion !== this.lease?.metadata.resourceVersion)
      return Promise.reject(new KubeApiError(409, 'Conflict', 'conflict', 'PUT', LEASE));
    this.writes++;
    this.lease = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(++this.rv) } };
    return Promise.resolve(structuredClone(this.lease) as T);
  }
  /** Another replica renews (or takes) the lease. */
  renewAs(identity: string): void {
    const spec = { ...this.lease?.spec, holderIdentity: identity, renewTime: new Date(Date.now() + this.rv).toISOString() };
    this.lease = { metadata: { name: 'node-leader', namespace: 'ns', resourceVersion: String(++this.rv) }, spec };
  }
}

/** Virtual time: sleeping advances the clock; `onSleep` lets a test act between rounds. */
class FakeClock implements LeaderClock {
  t = 1_000_000;
  onSleep?: () => void;
  now(): number {
    return this.t;
  }
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (!signal.aborted) {
      this.t += ms;
      this.onSleep?.();
    }
    return Promise.resolve();
  }
}

/** Replica 'a' holds the lease and its write fence is open. */
async function leadingWithFence() {
  const api = new FakeLeaseApi();
  const clock = new FakeClock();
  const fence = new WriteFence(() => clock.now());
  const e = elector(api, clock, 'a', fence);
  await e.acquire(new AbortController().signal);
  fence.open(e.validUntil);
  return { api, clock, fence, e };
}

function elector(api: FakeLeaseApi, clock: FakeClock, identity: string, fence?: WriteFence): LeaderElector {
  return new LeaderElector({
    client: api as unknown as KubeClient,
    namespace: 'ns',
    name: 'node-leader',
    identity,
    leaseDurationSeconds: 15,
    renewDeadlineSeconds: 10,
    retryPeriodSeconds: 2,
    log,
    fence,
    clock,
  });
}

describe('leader election', () => {
  it('creates a missing lease and holds it for the renew deadline from the attempt start', async () => {
    const api = new FakeLeaseApi();
    const clock = new FakeClock();
    const e = elector(api, clock, 'a');
    await e.acquire(new AbortController().signal);
    expect(api.lease?.spec.holderIdentity).toBe('a');
    expect(e.validUntil).toBe(clock.t + 10_000);
  });

  it('takes over only after the holder stopped renewing for a whole lease duration (on its own clock)', async () => {
    const api = new FakeLeaseApi();
    api.renewAs('b');
    const clock = new FakeClock();
    const e = elector(api, clock, 'a');
    const start = clock.t;
    let rounds = 0;
    // b renews for the first 5 rounds (10 s), then dies.
    clock.onSleep = () => {
      if (++rounds <= 5) api.renewAs('b');
    };
    await e.acquire(new AbortController().signal);
    expect(api.lease?.spec.holderIdentity).toBe('a');
    expect(api.lease?.spec.leaseTransitions).toBe(1);
    // Last change seen at start+10 s; taken no earlier than 15 s after that.
    expect(clock.t - start).toBeGreaterThan(25_000);
  });

  it('never takes a lease whose holder keeps renewing', async () => {
    const api = new FakeLeaseApi();
    api.renewAs('b');
    const clock = new FakeClock();
    const e = elector(api, clock, 'a');
    const ac = new AbortController();
    let rounds = 0;
    clock.onSleep = () => {
      api.renewAs('b');
      if (++rounds === 100) ac.abort();
    };
    await expect(e.acquire(ac.signal)).rejects.toThrow(/stopped before becoming leader/);
    expect(api.lease?.spec.holderIdentity).toBe('b');
  });

  it('gives up at the renew deadline while the API server is away, and the fence closes by itself first', async () => {
    const { api, clock, fence, e } = await leadingWithFence();
    const acquiredAt = clock.t;
    expect(() => fence.check('POST', '/api/v1/namespaces/x/pods')).not.toThrow();
    let writesAllowedAfterDeadline = 0;
    clock.onSleep = () => {
      api.down = clock.t - acquiredAt >= 4_000;
      if (clock.t >= e.validUntil && fence.isOpen) writesAllowedAfterDeadline++;
    };
    expect(await e.holdUntilLost(new AbortController().signal)).toBe('lost');
    expect(writesAllowedAfterDeadline).toBe(0);
    expect(fence.isOpen).toBe(false);
    expect(() => fence.check('PATCH', '/api/v1/nodes/n/status')).toThrow(NotLeaderError);
    // The renewal at +2 s succeeded; the one at +4 s did not: the deadline counts from +2 s.
    expect(clock.t).toBeGreaterThanOrEqual(acquiredAt + 2_000 + 10_000);
  });

  it('after a pause longer than the lease (SIGSTOP) refuses writes before any renewal is attempted', async () => {
    const { api, clock, fence, e } = await leadingWithFence();
    clock.t += 60_000; // stopped for a minute
    expect(() => fence.check('DELETE', '/api/v1/namespaces/x/pods/p')).toThrow(/renew deadline/);
    const writes = api.writes;
    expect(await e.holdUntilLost(new AbortController().signal)).toBe('lost');
    expect(api.writes).toBe(writes);
  });

  it('a renewal that lands after the deadline does not silently reopen a fence that already refused writes', async () => {
    const { api, clock, fence, e } = await leadingWithFence();
    const t0 = clock.t;
    clock.onSleep = () => {
      api.down = clock.t - t0 < 8_000;
    };
    api.duringReplace = () => {
      clock.t += 3_000; // the renewal started at +8 s takes 3 s; at +10 s a write was refused
      expect(fence.isOpen).toBe(false);
    };
    expect(await e.holdUntilLost(new AbortController().signal)).toBe('lost');
    expect(fence.isOpen).toBe(false);
  });

  it('notices another holder at once', async () => {
    const api = new FakeLeaseApi();
    const clock = new FakeClock();
    const e = elector(api, clock, 'a');
    await e.acquire(new AbortController().signal);
    clock.onSleep = () => api.renewAs('b');
    expect(await e.holdUntilLost(new AbortController().signal)).toBe('lost');
  });

  it('a released lease is free for the next replica, and the releasing one never takes it back', async () => {
    const { api, clock, e } = await leadingWithFence();
    await e.release();
    expect(api.lease?.spec.holderIdentity).toBe('');
    // Its renew loop may still be running: the next round must not re-take the free lease.
    expect(await e.holdUntilLost(new AbortController().signal)).toBe('lost');
    expect(api.lease?.spec.holderIdentity).toBe('');
    const b = elector(api, clock, 'b');
    await b.acquire(new AbortController().signal);
    expect(api.lease?.spec.holderIdentity).toBe('b');
  });

  it('re-acquires its own lease at once when the API server returns, and renewals extend the reopened fence', async () => {
    const { api, clock, fence, e } = await leadingWithFence();
    api.down = true;
    expect(await e.holdUntilLost(new AbortController().signal)).toBe('lost');
    expect(fence.isOpen).toBe(false);
    let rounds = 0;
    clock.onSleep = () => {
      if (++rounds === 10) api.down = false; // a 20 s outage
    };
    const before = clock.t;
    await e.acquire(new AbortController().signal);
    // Still the recorded holder: no need to wait out the lease duration.
    expect(clock.t - before).toBe(20_000);
    expect(api.lease?.spec.holderIdentity).toBe('a');
    expect(api.lease?.spec.leaseTransitions ?? 0).toBe(0);
    fence.open(e.validUntil);
    expect(fence.isOpen).toBe(true);
    const ac = new AbortController();
    rounds = 0;
    clock.onSleep = () => {
      if (++rounds === 20) ac.abort();
    };
    expect(await e.holdUntilLost(ac.signal)).toBe('aborted');
    // 40 s later the fence is open thanks to the renewals.
    expect(fence.isOpen).toBe(true);
  });
});

describe('the write fence', () => {
  const client = (fence: WriteFence) =>
    new KubeClient({ server: 'http://127.0.0.1:9', apply: () => Promise.resolve() }, { fence, writeQps: 1000, writeBurst: 1000 });

  it('refuses every mutating verb of a client with NotLeaderError without touching the network', async () => {
    const c = client(new WriteFence());
    for (const call of [
      () => c.create('/api/v1/namespaces/x/pods', {}),
      () => c.replace('/api/v1/namespaces/x/configmaps/y', {}),
      () => c.patch('/api/v1/nodes/n/status', {}),
      () => c.delete('/api/v1/namespaces/x/pods/p'),
    ])
      await expect(call()).rejects.toBeInstanceOf(NotLeaderError);
    expect(c.requestCounts.size).toBe(0);
  });

  it('lets reads, token/access reviews and server-side dry runs through', () => {
    const f = new WriteFence();
    expect(() => f.check('GET', '/api/v1/pods')).not.toThrow();
    expect(() => f.check('POST', '/apis/authentication.k8s.io/v1/tokenreviews')).not.toThrow();
    expect(() => f.check('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews')).not.toThrow();
    expect(() => f.check('POST', '/api/v1/namespaces/x/pods', { dryRun: 'All' })).not.toThrow();
    expect(() => f.check('POST', '/api/v1/namespaces/x/pods')).toThrow(NotLeaderError);
  });

  it('wakes waiters when it opens and reports why it is closed', async () => {
    let now = 0;
    const f = new WriteFence(() => now);
    expect(f.closedReason).toMatch(/not yet acquired/);
    const waiting = f.whenOpen(new AbortController().signal);
    f.open(10_000);
    await waiting;
    expect(f.closedReason).toBeUndefined();
    const closed: string[] = [];
    f.onClose((r) => closed.push(r));
    now = 10_000;
    expect(f.isOpen).toBe(false);
    expect(closed).toEqual(['the leader lease was not renewed within its renew deadline']);
    f.extend(20_000); // a late renewal does not reopen a closed fence
    expect(f.isOpen).toBe(false);
  });
});

describe('controllers and a closed fence', () => {
  it('the work queue parks keys that failed with NotLeaderError instead of retrying them', async () => {
    let calls = 0;
    const q = new WorkQueue({
      concurrency: 1,
      maxSize: 10,
      baseDelayMs: 1,
      log,
      handler: () => {
        calls++;
        return Promise.reject(new NotLeaderError('POST', '/x', 'not the leader'));
      },
    });
    q.start();
    q.add('a/b');
    await new Promise((r) => setTimeout(r, 50));
    await q.stop();
    expect(calls).toBe(1);
    expect(isNotLeader(new NotLeaderError('GET', '/', ''))).toBe(true);
  });

  it('an informer reports its cache stale while its watch is broken and fresh once it reconnects', async () => {
    const caches = new CacheHealth();
    let watchAttempts = 0;
    let release: () => void = () => undefined;
    const fake = {
      server: new URL('https://upper:6443'),
      caches,
      get: () => Promise.resolve({ metadata: { resourceVersion: '1' }, items: [] }),
      async *watch(_p: string, _q: unknown, signal: AbortSignal, _h: unknown, onConnected?: () => void) {
        if (++watchAttempts < 3) throw new KubeApiError(0, 'TransportError', 'connect ECONNREFUSED', 'WATCH', '/api/v1/pods');
        onConnected?.();
        await new Promise<void>((r) => {
          release = r;
          signal.addEventListener('abort', () => r(), { once: true });
        });
      },
    };
    const inf = new Informer({ client: fake as unknown as KubeClient, path: '/api/v1/pods', log });
    inf.start();
    expect(caches.staleCaches().join()).toMatch(/upper:6443\/api\/v1\/pods/);
    expect(await caches.waitFresh(10_000)).toBe(true);
    expect(watchAttempts).toBe(3);
    release();
    await inf.stop();
    expect(caches.staleCaches()).toEqual([]);
  });
});

describe('kubelet API while fenced', () => {
  it('refuses exec/attach/port-forward with 503 and the reason, after authenticating', async () => {
    const { KubeletServer } = await import('../../src/kubelet/server.js');
    const { FedletMetrics } = await import('../../src/metrics.js');
    const { PassThrough } = await import('node:stream');
    const fence = new WriteFence();
    let relayed = 0;
    const server = new KubeletServer({
      port: 0,
      tls: { cert: '', key: '' },
      auth: { check: () => Promise.resolve({ ok: true }) } as never,
      provider: { exec: () => relayed++ } as never,
      pods: () => [],
      metrics: new FedletMetrics(),
      mutationsRefusedBecause: () => fence.closedReason,
      log,
    });
    for (const url of ['/exec/ns/pod/c?command=sh&input=1&output=1', '/attach/ns/pod/c?output=1', '/portForward/ns/pod']) {
      const socket = new PassThrough();
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      await server['onUpgrade']({ url, headers: {}, method: 'POST' } as never, socket, Buffer.alloc(0));
      const text = Buffer.concat(chunks).toString();
      expect(text).toMatch(/^HTTP\/1\.1 503 Service Unavailable/);
      expect(text).toContain('not yet acquired the leader lease');
    }
    expect(relayed).toBe(0);
  });
});

describe('informer after a long outage', () => {
  it('relists on 410 Gone and reports objects that vanished meanwhile as deleted', async () => {
    const caches = new CacheHealth();
    let lists = 0;
    let watches = 0;
    const deleted: string[] = [];
    const pod = (name: string) => ({ metadata: { name, namespace: 'ns', resourceVersion: String(lists) } });
    const fake = {
      server: new URL('https://lower:6443'),
      caches,
      get: () => {
        lists++;
        // Before the outage: a and b; after it, b is gone.
        return Promise.resolve({
          metadata: { resourceVersion: String(lists) },
          items: lists === 1 ? [pod('a'), pod('b')] : [pod('a')],
        });
      },
      async *watch(_p: string, _q: unknown, signal: AbortSignal, _h: unknown, onConnected?: () => void) {
        onConnected?.();
        if (++watches === 1) {
          yield { type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } };
          return;
        }
        await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      },
    };
    const inf = new Informer({ client: fake as unknown as KubeClient, path: '/api/v1/pods', log });
    inf.addHandlers({ onDelete: (o) => deleted.push(o.metadata?.name ?? '') });
    inf.start();
    for (let i = 0; i < 100 && watches < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await caches.waitFresh(5000)).toBe(true);
    expect(lists).toBe(2);
    expect(deleted).toEqual(['b']);
    expect(inf.list().map((o) => o.metadata?.name)).toEqual(['a']);
    await inf.stop();
  });
  it('a watch that expires right after every list is retried with backoff, not in a tight loop', async () => {
    let lists = 0;
    const fake = {
      server: new URL('https://upper:6443'),
      // Answered on the next turn of the event loop, like a real server: a loop without backoff spins
      // but lets the test's timer fire.
      get: async () => {
        lists++;
        await new Promise((r) => setImmediate(r));
        return { metadata: { resourceVersion: String(lists) }, items: [] };
      },
      async *watch() {
        yield { type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } };
      },
    };
    const inf = new Informer({ client: fake as unknown as KubeClient, path: '/api/v1/pods', log });
    inf.start();
    await new Promise((r) => setTimeout(r, 1500));
    await inf.stop();
    // Without backoff this is thousands of lists; with it (0.5 s base, doubling, jittered) a handful.
    expect(lists).toBeGreaterThanOrEqual(2);
    expect(lists).toBeLessThanOrEqual(6);
  });
});
