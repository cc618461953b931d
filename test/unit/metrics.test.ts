// Levels are read from their owners at scrape time: a scrape shows the current numbers, not a copy.
import { describe, expect, it } from 'vitest';
import { FedletMetrics } from '../../src/metrics.js';

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
});
