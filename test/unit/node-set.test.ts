// The served-node unit and the NodeSet of pool nodes on the in-memory API server: what a served node puts
// in the upper cluster (Node, Lease, scheduling summary), how the set follows the wanted nodes, what it
// removes at start (pool nodes of an earlier run), and what it never touches (other clusters' nodes).
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { EventRecorder } from '../../src/events.js';
import { WriteFence } from '../../src/kube/fence.js';
import type { Node } from '../../src/kube/types.js';
import { LABEL_CLUSTER, LABEL_POOL } from '../../src/labels.js';
import { NodeSet } from '../../src/node/node-set.js';
import { ServedNode } from '../../src/node/served-node.js';
import { summaryConfigMapName } from '../../src/scheduling/summary.js';
import type { VirtualNodeSpec } from '../../src/provider.js';
import { FakeKube } from './support/fake-kube.js';
import { FakeProvider } from './support/fake-provider.js';

const log = pino({ level: 'silent' });
const cfg = loadConfig({ argv: ['--lower-kubeconfig', 'l', '--cluster-name', 'c', '--node-ip', '10.0.0.1'], env: {} });
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

const nodePath = (n: string) => `/api/v1/nodes/${n}`;
const leasePath = (n: string) => `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${n}`;
const summaryPath = (n: string) => `/api/v1/namespaces/${cfg.summaryNamespace}/configmaps/${summaryConfigMapName(n)}`;

/** Waits (bounded) until `ok` holds; returns whether it did. */
async function eventually(ok: () => boolean, tries = 200): Promise<boolean> {
  for (let i = 0; i < tries && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  return ok();
}

function harness() {
  const upper = new FakeKube();
  const events = new EventRecorder({ client: upper, component: 'fedlet', host: cfg.nodeName, log });
  return { upper, events, fence: WriteFence.alwaysOpen() };
}

const spec = (pool: string): VirtualNodeSpec => ({ name: `fedlet-c-${pool}`, pool, provider: new FakeProvider() });

describe('ServedNode', () => {
  it('registers the Node, then keeps its Lease and publishes its summary; stop ends its loops', async () => {
    const h = harness();
    const node = await ServedNode.start({ ...h, config: cfg, name: 'fedlet-c', provider: new FakeProvider(), log });
    expect(h.upper.peek<Node>(nodePath('fedlet-c'))?.metadata.labels?.[LABEL_CLUSTER]).toBe('c');
    expect(await eventually(() => h.upper.peek(leasePath('fedlet-c')) !== undefined)).toBe(true);
    expect(await eventually(() => h.upper.peek(summaryPath('fedlet-c')) !== undefined)).toBe(true);
    await node.stop();
    expect(await Promise.race([node.done().then(() => 'ended'), new Promise((r) => setTimeout(() => r('running'), 1000))])).toBe(
      'ended',
    );
  });

  it('stops when the process signal aborts', async () => {
    const h = harness();
    const abort = new AbortController();
    const node = await ServedNode.start({
      ...h,
      config: cfg,
      name: 'fedlet-c',
      provider: new FakeProvider(),
      signal: abort.signal,
      log,
    });
    abort.abort();
    expect(await Promise.race([node.done().then(() => 'ended'), new Promise((r) => setTimeout(() => r('running'), 1000))])).toBe(
      'ended',
    );
    await node.stop();
  });
});

describe('NodeSet', () => {
  it('serves the wanted pool nodes and removes what an earlier run left, never another cluster’s nodes', async () => {
    const h = harness();
    const stale = { metadata: { name: 'fedlet-c-old', labels: { [LABEL_CLUSTER]: 'c', [LABEL_POOL]: 'old' } } };
    const foreign = { metadata: { name: 'fedlet-d-x', labels: { [LABEL_CLUSTER]: 'd', [LABEL_POOL]: 'x' } } };
    const unrelated = { metadata: { name: 'worker-1', labels: { [LABEL_CLUSTER]: 'c' } } };
    for (const n of [stale, foreign, unrelated]) h.upper.seed('/api/v1/nodes', n);
    let wanted = [spec('a'), spec('b')];
    const set = new NodeSet({ ...h, config: cfg, wanted: () => wanted, log });
    stops.push(() => set.stop());
    await set.start();

    expect(set.names().sort()).toEqual(['fedlet-c-a', 'fedlet-c-b']);
    for (const n of ['fedlet-c-a', 'fedlet-c-b']) expect(h.upper.peek(nodePath(n))).toBeDefined();
    expect(h.upper.peek(nodePath('fedlet-c-old'))).toBeUndefined();
    expect(h.upper.peek(nodePath('fedlet-d-x'))).toBeDefined();
    expect(h.upper.peek(nodePath('worker-1'))).toBeDefined();
    expect(await eventually(() => h.upper.peek(summaryPath('fedlet-c-b')) !== undefined)).toBe(true);

    // Pool b goes: its Node and summary are deleted, pool a is untouched.
    wanted = [wanted[0]!];
    await set.reconcile();
    expect(set.names()).toEqual(['fedlet-c-a']);
    expect(h.upper.peek(nodePath('fedlet-c-b'))).toBeUndefined();
    expect(h.upper.peek(summaryPath('fedlet-c-b'))).toBeUndefined();
    expect(h.upper.peek(nodePath('fedlet-c-a'))).toBeDefined();
  });

  it('a pool whose provider changed is served anew (retired, then registered again)', async () => {
    const h = harness();
    let wanted = [spec('a')];
    const set = new NodeSet({ ...h, config: cfg, wanted: () => wanted, log });
    stops.push(() => set.stop());
    await set.start();
    const before = h.upper.peek<Node>(nodePath('fedlet-c-a'))?.metadata.uid;
    wanted = [spec('a')];
    await set.reconcile();
    const after = h.upper.peek<Node>(nodePath('fedlet-c-a'))?.metadata.uid;
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
  });
});
