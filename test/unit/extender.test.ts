import { mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { clientExt, extenderPki, signCert } from '../../sandbox/pki.js';
import { Extender } from '../../scheduler-plugin/extender.js';
import { encodeSummary, summaryConfigMapName, SUMMARY_DATA_KEY } from '../../src/scheduling/summary.js';
import { FakeKube } from './support/fake-kube.js';
import { settle } from './support/fake-clock.js';
import { fitInCluster, scores, tolerates } from '../../scheduler-plugin/fit.js';
import { buildSummary } from '../../provider/node/summary.js';
import { freePerNode, type LowerNode } from '../../provider/node/capacity.js';
import { toMilli } from '../../src/util/quantity.js';
import type { Pod } from '../../src/kube/types.js';

const node = (name: string, cpu: string, extra: Partial<LowerNode> = {}): LowerNode => ({
  name,
  ready: true,
  unschedulable: false,
  allocatable: toMilli({ cpu, memory: '8Gi', pods: '110' }),
  labels: { 'kubernetes.io/hostname': name },
  taints: [],
  ...extra,
});
const summary = (nodes: LowerNode[]) => buildSummary('fedlet-a', 'a', nodes, freePerNode(nodes, []), {});
const pod = (cpu: string, spec: Partial<Pod['spec']> = {}): Pod => ({
  metadata: { name: 'p', namespace: 'd' },
  spec: { containers: [{ name: 'c', resources: { requests: { cpu } } }], ...spec },
});
const vnodeLabels = { 'fedlet.io/cluster': 'a', type: 'virtual-kubelet', 'kubernetes.io/hostname': 'fedlet-a' };

describe('fitInCluster', () => {
  it('needs one node that fits, not the aggregate', () => {
    const s = summary([0, 1, 2, 3].map((i) => node(`n${i}`, '2')));
    expect(s.nodes).toHaveLength(1); // identical nodes folded
    expect(s.nodes[0]![3]).toBe(4);
    expect(fitInCluster(pod('3'), s, vnodeLabels)).toMatchObject({
      fits: false,
      reason: expect.stringMatching(/no single node in lower cluster a fits the pod \(4 Ready nodes: 4 too little free cpu/),
    });
    expect(fitInCluster(pod('1'), s, vnodeLabels)).toMatchObject({ fits: true, copies: 8 });
  });

  it('honours taints and tolerations', () => {
    const s = summary([node('t', '8', { taints: [{ key: 'dedicated', value: 'batch', effect: 'NoSchedule' }] })]);
    expect(fitInCluster(pod('1'), s, vnodeLabels).reason).toMatch(/untolerated taints/);
    expect(
      fitInCluster(
        pod('1', { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'batch', effect: 'NoSchedule' }] }),
        s,
        vnodeLabels,
      ).fits,
    ).toBe(true);
    expect(tolerates([{ operator: 'Exists' }], { key: 'x', effect: 'NoExecute' })).toBe(true);
    expect(tolerates([{ key: 'x', operator: 'Exists', effect: 'NoSchedule' }], { key: 'x', effect: 'NoExecute' })).toBe(false);
  });

  it('applies selector terms about lower nodes and skips those about the virtual node', () => {
    const s = summary([node('gpu', '8', { labels: { accel: 'gpu' } }), node('cpu', '8', { labels: { accel: 'none' } })]);
    const sel = pod('1', { nodeSelector: { 'fedlet.io/cluster': 'a', accel: 'gpu' } });
    expect(fitInCluster(sel, s, vnodeLabels)).toMatchObject({ fits: true, copies: 8 });
    expect(fitInCluster(pod('1', { nodeSelector: { accel: 'tpu' } }), s, vnodeLabels).fits).toBe(false);
    const aff = pod('1', {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  { key: 'accel', operator: 'NotIn', values: ['gpu'] },
                  { key: 'type', operator: 'In', values: ['virtual-kubelet'] },
                ],
              },
            ],
          },
        },
      },
    });
    expect(fitInCluster(aff, s, vnodeLabels)).toMatchObject({ fits: true, copies: 8 });
  });

  it('ignores NotReady and cordoned nodes', () => {
    const s = summary([node('a', '8', { ready: false }), node('b', '8', { unschedulable: true })]);
    expect(fitInCluster(pod('1'), s, vnodeLabels).fits).toBe(false);
  });

  it('scores clusters by how many copies of the pod they can take', () => {
    expect(
      Object.fromEntries(
        scores(
          new Map([
            ['a', 2],
            ['b', 1],
            ['c', 0],
          ]),
        ),
      ),
    ).toEqual({ a: 10, b: 5, c: 0 });
  });
});

describe('extender with filled caches (virtual Nodes, summaries, node Leases from the API server)', () => {
  const T0 = Date.parse('2026-01-01T00:00:00Z');
  const log = pino({ level: 'silent' });
  let ext: Extender | undefined;
  afterEach(async () => {
    await ext?.stop();
    ext = undefined;
  });

  async function harness(avoid: Record<string, string> = {}) {
    let now = T0;
    const api = new FakeKube(() => now);
    // Two virtual nodes: fedlet-a's cluster has four 2-CPU nodes, fedlet-b's one 8-CPU node.
    for (const [name, cluster] of [
      ['fedlet-a', 'a'],
      ['fedlet-b', 'b'],
    ] as const) {
      api.seed('/api/v1/nodes', {
        metadata: { name, labels: { ...vnodeLabels, 'fedlet.io/cluster': cluster, 'kubernetes.io/hostname': name } },
      });
      const lower = cluster === 'a' ? [0, 1, 2, 3].map((i) => node(`n${i}`, '2')) : [node('big', '8')];
      const s = buildSummary(name, cluster, lower, freePerNode(lower, []), cluster === 'a' ? avoid : {}, new Date(T0));
      api.seed('/api/v1/namespaces/fedlet-system/configmaps', {
        metadata: { name: summaryConfigMapName(name), namespace: 'fedlet-system', labels: { 'fedlet.io/summary': 'true' } },
        data: { [SUMMARY_DATA_KEY]: encodeSummary(s) },
      });
      api.seed('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
        metadata: { name, namespace: 'kube-node-lease' },
        spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: new Date(T0).toISOString() },
      });
    }
    api.seed('/api/v1/nodes', { metadata: { name: 'real-node', labels: { 'kubernetes.io/hostname': 'real-node' } } });
    ext = new Extender({ upper: api, namespace: 'fedlet-system', log, now: () => now });
    await ext.startCaches();
    return { api, ext, setNow: (t: number) => (now = t) };
  }
  const names = ['fedlet-a', 'fedlet-b', 'real-node', 'fedlet-unknown'];

  it('fails the virtual node whose lower cluster has no single node that fits, saying why', async () => {
    const h = await harness();
    const r = h.ext.filter({ Pod: pod('3'), NodeNames: names });
    expect(r.NodeNames).toEqual(['fedlet-b', 'real-node', 'fedlet-unknown']);
    expect(r.FailedNodes).toEqual({
      'fedlet-a': expect.stringMatching(/no single node in lower cluster a fits the pod \(4 Ready nodes/),
    });
    expect(h.ext.filter({ Pod: pod('1'), NodeNames: names }).FailedNodes).toEqual({});
    // 1-CPU pods: cluster a takes 8 copies, b takes 8; 3-CPU pods: only b (2 copies).
    expect(h.ext.prioritize({ Pod: pod('3'), NodeNames: names })).toEqual([
      { Host: 'fedlet-a', Score: 0 },
      { Host: 'fedlet-b', Score: 10 },
      { Host: 'real-node', Score: 0 },
      { Host: 'fedlet-unknown', Score: 0 },
    ]);
  });

  it('keeps pods of a bounced controller away until the record expires', async () => {
    const h = await harness({ 'rs-1': new Date(T0 + 60_000).toISOString() });
    const owned = pod('1', {});
    owned.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'rs-1', controller: true }];
    expect(h.ext.filter({ Pod: owned, NodeNames: ['fedlet-a'] }).FailedNodes['fedlet-a']).toMatch(/bounced from lower cluster a/);
    h.setNow(T0 + 30_000);
    h.api.seed('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
      metadata: { name: 'fedlet-a', namespace: 'kube-node-lease' },
      spec: { holderIdentity: 'fedlet-a', leaseDurationSeconds: 40, renewTime: new Date(T0 + 30_000).toISOString() },
    });
    h.setNow(T0 + 61_000);
    await settle();
    expect(h.ext.filter({ Pod: owned, NodeNames: ['fedlet-a'] }).NodeNames).toEqual(['fedlet-a']);
  });

  it('trusts a summary only while its node Lease is fresh', async () => {
    const h = await harness();
    h.setNow(T0 + 41_000);
    const r = h.ext.filter({ Pod: pod('3'), NodeNames: names });
    expect(r.FailedNodes).toEqual({});
  });

  it('reads the Go field names kube-scheduler sends and answers in them', async () => {
    const h = await harness();
    expect(h.ext.filter({ Pod: pod('1'), NodeNames: ['real-node'] })).toEqual({
      NodeNames: ['real-node'],
      FailedNodes: {},
      Error: '',
    });
    expect(h.ext.filter({ pod: pod('3'), nodenames: ['fedlet-a'] }).FailedNodes).toHaveProperty('fedlet-a');
    expect(h.ext.filter({ Pod: pod('3'), Nodes: { items: [{ metadata: { name: 'fedlet-a' } }] } }).FailedNodes).toHaveProperty(
      'fedlet-a',
    );
    expect(() => h.ext.filter({ NodeNames: ['a'] })).toThrow(/no Pod/);
  });
});

describe('extender serving: mutual TLS, body limit, health apart', () => {
  const log = pino({ level: 'silent' });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'extender-tls-'));
  const pki = extenderPki(path.join(dir, 'ours'));
  const foreign = extenderPki(path.join(dir, 'foreign'));
  const other = signCert(
    path.join(dir, 'ours'),
    { cert: pki.caCert, key: pki.caCert.replace(/\.crt$/, '.key') },
    'intruder',
    '/CN=intruder',
    clientExt(),
  );
  let ext: Extender | undefined;
  afterEach(async () => {
    await ext?.stop();
    ext = undefined;
  });

  async function serve(allowedClientNames: string[] = []) {
    ext = new Extender({ upper: new FakeKube(), namespace: 'fedlet-system', log, metrics: new Registry() });
    await ext.start({
      port: 0,
      host: '127.0.0.1',
      tls: {
        cert: readFileSync(pki.serving.cert, 'utf8'),
        key: readFileSync(pki.serving.key, 'utf8'),
        clientCA: readFileSync(pki.caCert, 'utf8'),
      },
      allowedClientNames,
      healthPort: 0,
    });
    return ext.ports().https;
  }

  function call(port: number, client: { cert: string; key: string } | undefined, body = '{}', urlPath = '/filter') {
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          path: urlPath,
          method: 'POST',
          ca: readFileSync(pki.caCert),
          ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
          headers: { 'Content-Type': 'application/json' },
        },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  it('refuses a client without a certificate, or with one of another CA, at the TLS handshake', async () => {
    const port = await serve();
    await expect(call(port, undefined)).rejects.toThrow(/certificate|alert|socket hang up|ECONNRESET/i);
    await expect(call(port, foreign.scheduler)).rejects.toThrow(/certificate|alert|socket hang up|ECONNRESET/i);
    const ok = await call(port, pki.scheduler, JSON.stringify({ Pod: pod('1'), NodeNames: ['n'] }));
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ NodeNames: ['n'], FailedNodes: {}, Error: '' });
  });

  it('answers 403 to a certificate of its CA whose name is not allowed', async () => {
    const port = await serve(['system:kube-scheduler']);
    const r = await call(port, other);
    expect(r.status).toBe(403);
    expect(r.body).toMatch(/client certificate "intruder" is not one of the allowed extender clients/);
    expect((await call(port, pki.scheduler, JSON.stringify({ Pod: pod('1'), NodeNames: [] }))).status).toBe(200);
  });

  it('refuses a body over 1 MiB with 413 and says so', async () => {
    const port = await serve();
    const big = JSON.stringify({ Pod: pod('1'), NodeNames: Array.from({ length: 60_000 }, (_, i) => `node-name-${i}`) });
    expect(big.length).toBeGreaterThan(1024 * 1024);
    const r = await call(port, pki.scheduler, big);
    expect(r.status).toBe(413);
    expect(r.body).toMatch(/request body over 1mb/);
  });

  it('serves /metrics behind the same authentication, and /healthz on its plain port only', async () => {
    const port = await serve();
    await expect(call(port, undefined, '', '/metrics')).rejects.toThrow();
    const health = await fetch(`http://127.0.0.1:${ext!.ports().health}/healthz`);
    expect([health.status, (await health.text()).trim()]).toEqual([200, 'ok']);
    expect((await fetch(`http://127.0.0.1:${ext!.ports().health}/metrics`)).status).toBe(404);
  });
});
