// Levels are read from their owners at scrape time: a scrape shows the current numbers, not a copy.
import { describe, expect, it } from 'vitest';
import { FedletMetrics } from '../../src/metrics.js';
import { resourceOfPath } from '../../src/kube/client.js';

describe('metrics collected at scrape time', () => {
  it('reads queue depth, pods by phase, lower health and API requests from their owners on each scrape', async () => {
    const m = new FedletMetrics();
    let depth = 3;
    let phases = new Map([
      ['Running', 2],
      ['Pending', 1],
    ]);
    let healthy = true;
    const upper = { requestCounts: new Map([['GET', 5]]) };
    m.collectFrom({ queueDepth: () => depth, podsByPhase: () => phases, lowerHealthy: () => healthy, clients: { upper } });
    let text = await m.registry.metrics();
    expect(text).toMatch(/^fedlet_pod_queue_depth 3$/m);
    expect(text).toMatch(/^fedlet_pods\{phase="Running"\} 2$/m);
    expect(text).toMatch(/^fedlet_lower_api_healthy 1$/m);
    expect(text).toMatch(/^fedlet_api_requests_total\{cluster="upper",verb="GET"\} 5$/m);
    depth = 0;
    phases = new Map([['Succeeded', 3]]);
    healthy = false;
    upper.requestCounts.set('GET', 7);
    text = await m.registry.metrics();
    expect(text).toMatch(/^fedlet_pod_queue_depth 0$/m);
    expect(text).toMatch(/^fedlet_pods\{phase="Succeeded"\} 3$/m);
    expect(text).not.toMatch(/phase="Running"/);
    expect(text).toMatch(/^fedlet_lower_api_healthy 0$/m);
    expect(text).toMatch(/^fedlet_api_requests_total\{cluster="upper",verb="GET"\} 7$/m);
  });

  it('counts writes by cluster, verb and resource', async () => {
    const m = new FedletMetrics();
    const lower = {
      requestCounts: new Map([['PATCH', 3]]),
      writeCounts: new Map([
        ['PATCH pods/status', 2],
        ['PUT leases', 1],
      ]),
    };
    m.collectFrom({ queueDepth: () => 0, podsByPhase: () => new Map(), lowerHealthy: () => true, clients: { lower } });
    const text = await m.registry.metrics();
    expect(text).toMatch(/^fedlet_api_writes_total\{cluster="lower",verb="PATCH",resource="pods\/status"\} 2$/m);
    expect(text).toMatch(/^fedlet_api_writes_total\{cluster="lower",verb="PUT",resource="leases"\} 1$/m);
  });
});

describe('resourceOfPath', () => {
  it.each([
    ['/api/v1/namespaces/a/pods/b/status', 'pods/status'],
    ['/api/v1/namespaces/a/pods/b', 'pods'],
    ['/api/v1/namespaces/a/pods', 'pods'],
    ['/api/v1/namespaces/a', 'namespaces'],
    ['/api/v1/namespaces', 'namespaces'],
    ['/api/v1/nodes/n/status', 'nodes/status'],
    ['/api/v1/nodes?fieldManager=x', 'nodes'],
    ['/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/x', 'leases'],
    ['/apis/authorization.k8s.io/v1/subjectaccessreviews', 'subjectaccessreviews'],
  ])('%s → %s', (p, r) => expect(resourceOfPath(p)).toBe(r));
});
