// Node Lease heartbeats and virtual Node status on the fake API server and a fake clock.
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { LeaseController, microTime } from '../../src/node/lease-controller.js';
import { NodeController } from '../../src/node/node-controller.js';
import { KubeApiError } from '../../src/kube/client.js';
import { loadConfig, type FedletConfig } from '../../src/config.js';
import type { Lease, Node } from '../../src/kube/types.js';
import { FakeKube } from './support/fake-kube.js';
import { FakeClock, settle } from './support/fake-clock.js';
import { FakeProvider } from './support/fake-provider.js';

const log = pino({ level: 'silent' });
const LEASE = '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/vn';
const aborts: AbortController[] = [];
afterEach(() => {
  for (const a of aborts.splice(0)) a.abort();
});
function signal(): AbortSignal {
  const a = new AbortController();
  aborts.push(a);
  return a.signal;
}

/** Whether the node lifecycle controller would see the heartbeat as current at `now`. */
function fresh(l: Lease | undefined, now: number): boolean {
  return !!l?.spec?.renewTime && Date.parse(l.spec.renewTime) + (l.spec.leaseDurationSeconds ?? 0) * 1000 >= now;
}

describe('node lease', () => {
  function harness() {
    const clock = new FakeClock();
    const api = new FakeKube(() => clock.now());
    const lease = new LeaseController({
      client: api,
      nodeName: 'vn',
      durationSeconds: 40,
      renewIntervalSeconds: 10,
      nodeUid: () => 'node-uid',
      log,
      clock,
    });
    return { clock, api, lease };
  }

  it('is created owned by the Node and renewed every interval, so it never expires while the API answers', async () => {
    const h = harness();
    void h.lease.run(signal());
    await settle();
    const first = h.api.peek<Lease>(LEASE);
    expect(first?.spec).toMatchObject({
      holderIdentity: 'vn',
      leaseDurationSeconds: 40,
      renewTime: microTime(new Date(h.clock.now())),
    });
    expect(first?.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Node', name: 'vn', uid: 'node-uid' }]);
    for (let i = 1; i <= 6; i++) {
      await h.clock.advance(10_000);
      const l = h.api.peek<Lease>(LEASE);
      expect(l?.spec?.renewTime).toBe(microTime(new Date(h.clock.now())));
      expect(fresh(l, h.clock.now())).toBe(true);
    }
  });

  it('is renewed with the Lease it last wrote, without reading it first (one request per interval, like a kubelet)', async () => {
    const h = harness();
    void h.lease.run(signal());
    await settle();
    for (let i = 1; i <= 6; i++) await h.clock.advance(10_000);
    const leaseCalls = h.api.calls.filter((c) =>
      c.path.startsWith('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases'),
    );
    // The first renewal reads (nothing there) and creates; each of the six after it is one PUT.
    expect(leaseCalls.map((c) => c.verb)).toEqual(['GET', 'POST', 'PUT', 'PUT', 'PUT', 'PUT', 'PUT', 'PUT']);
    expect(fresh(h.api.peek<Lease>(LEASE), h.clock.now())).toBe(true);
  });

  it('a Lease deleted meanwhile (its Node deleted) is read again and created again', async () => {
    const h = harness();
    await h.lease.renew();
    await h.api.delete(LEASE);
    await h.clock.advance(1000);
    await h.lease.renew();
    const l = h.api.peek<Lease>(LEASE);
    expect(l?.spec?.renewTime).toBe(microTime(new Date(h.clock.now())));
    expect(l?.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Node', name: 'vn', uid: 'node-uid' }]);
  });

  it('expires when renewals fail for longer than its duration, and is renewed again once the API answers', async () => {
    const h = harness();
    void h.lease.run(signal());
    await settle();
    let down = true;
    h.api.beforeRequest = (c) => {
      if (down) throw new KubeApiError(0, 'TransportError', `${c.verb} ${c.path}: connect ECONNREFUSED`, c.verb, c.path);
    };
    await h.clock.advance(41_000);
    expect(fresh(h.api.peek<Lease>(LEASE), h.clock.now())).toBe(false);
    down = false;
    await h.clock.advance(5_000); // backoff is capped at half the renew interval
    expect(fresh(h.api.peek<Lease>(LEASE), h.clock.now())).toBe(true);
  });

  it('a conflicting writer (409) is retried against the current version', async () => {
    const h = harness();
    await h.lease.renew();
    let once = true;
    h.api.beforeRequest = (c) => {
      if (c.verb === 'PUT' && once) {
        once = false;
        const cur = h.api.peek<Lease>(LEASE)!;
        h.api.seed('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
          ...cur,
          metadata: { ...cur.metadata, labels: { other: 'writer' } },
        });
      }
    };
    await h.clock.advance(1000);
    await h.lease.renew();
    const l = h.api.peek<Lease>(LEASE);
    expect(l?.metadata.labels).toEqual({ other: 'writer' });
    expect(l?.spec?.renewTime).toBe(microTime(new Date(h.clock.now())));
    expect(h.api.calls.filter((c) => c.verb === 'PUT')).toHaveLength(2);
  });
});

describe('virtual node status', () => {
  const cfg: FedletConfig = loadConfig({
    argv: ['--lower-kubeconfig', '/dev/null', '--cluster-name', 'c', '--node-name', 'vn', '--node-ip', '10.0.0.1'],
    env: {},
  });

  async function harness() {
    const clock = new FakeClock();
    const api = new FakeKube(() => clock.now());
    const provider = new FakeProvider();
    const nodes = new NodeController({ client: api, config: cfg, provider, log, clock });
    await nodes.register();
    void nodes.run(signal());
    await settle();
    const posts = () => api.calls.filter((c) => c.verb === 'PATCH' && c.path === '/api/v1/nodes/vn/status').length;
    return { clock, api, provider, posts };
  }

  it('is posted when the provider state changes, not waiting for the interval', async () => {
    const h = await harness();
    expect(h.posts()).toBe(1); // right after registration
    await h.clock.advance(5_000);
    expect(h.posts()).toBe(1);
    h.provider.setState({ resources: { cpu: '2', memory: '8Gi', pods: '110' } });
    await settle();
    expect(h.posts()).toBe(2);
    expect(h.api.peek<Node>('/api/v1/nodes/vn')?.status?.allocatable).toMatchObject({ cpu: '2' });
    h.provider.setState({ condition: { ready: false, reason: 'LowerClusterUnreachable', message: 'down' } });
    await settle();
    const ready = h.api.peek<Node>('/api/v1/nodes/vn')?.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'LowerClusterUnreachable' });
  });

  it('is posted every status interval when nothing changes (the heartbeat in the conditions)', async () => {
    const h = await harness();
    await h.clock.advance(59_999);
    expect(h.posts()).toBe(1);
    await h.clock.advance(1);
    expect(h.posts()).toBe(2);
    await h.clock.advance(60_000);
    expect(h.posts()).toBe(3);
    const ready = h.api.peek<Node>('/api/v1/nodes/vn')?.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready?.lastHeartbeatTime).toBe(new Date(h.clock.now()).toISOString());
  });

  it('registers the Node again when someone deletes it', async () => {
    const h = await harness();
    await h.api.delete('/api/v1/nodes/vn');
    await h.clock.advance(60_000);
    expect(h.api.peek<Node>('/api/v1/nodes/vn')?.metadata.labels).toMatchObject({
      type: 'virtual-kubelet',
      'fedlet.io/cluster': 'c',
    });
  });

  it('posts status through the heartbeat client, registration and metadata through the main one', async () => {
    const clock = new FakeClock();
    const api = new FakeKube(() => clock.now());
    const heartbeatPaths: string[] = [];
    // The heartbeat client is the same API server through another client (its own rate limit).
    const heartbeat: typeof api = Object.assign(Object.create(api) as typeof api, {
      patch: (path: string, body: unknown, type?: 'merge' | 'strategic') => {
        heartbeatPaths.push(path);
        return api.patch(path, body, type);
      },
    });
    const nodes = new NodeController({
      client: api,
      statusClient: heartbeat,
      config: cfg,
      provider: new FakeProvider(),
      log,
      clock,
    });
    await nodes.register();
    void nodes.run(signal());
    await settle();
    expect(heartbeatPaths).toEqual(['/api/v1/nodes/vn/status']);
    expect(api.calls.filter((c) => c.verb === 'POST').map((c) => c.path)).toEqual(['/api/v1/nodes']);
  });
});
