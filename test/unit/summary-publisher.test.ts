import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { SummaryPublisher } from '../../src/node/summary-publisher.js';
import type { ClusterSummary } from '../../src/scheduling/summary.js';
import { FakeKube } from './support/fake-kube.js';

const summary = (generated: string, pods: string): ClusterSummary => ({
  v: 1,
  node: 'fedlet-eu',
  cluster: 'eu',
  generated,
  labelSets: [{}],
  taintSets: [[]],
  nodes: [[0, 0, { cpu: '4000', pods: pods }, 1]],
  avoid: {},
});

function publisher(kube: FakeKube, current: () => ClusterSummary, onPublished?: (s: ClusterSummary) => void): SummaryPublisher {
  return new SummaryPublisher({
    ...(onPublished ? { onPublished } : {}),
    client: kube,
    namespace: 'fedlet-system',
    nodeName: 'fedlet-eu',
    summary: current,
    minIntervalMs: 0,
    log: pino({ level: 'silent' }),
  });
}
const writes = (kube: FakeKube) => kube.calls.filter((c) => c.verb !== 'GET' && c.verb !== 'WATCH');

describe('SummaryPublisher writes only when the content changes', () => {
  it('a restart that finds its summary as published writes nothing; a changed one is written', async () => {
    const kube = new FakeKube();
    let current = summary('2026-01-01T00:00:00Z', '110000');
    await publisher(kube, () => current).publish();
    expect(writes(kube).map((c) => c.verb)).toEqual(['PUT', 'POST', 'PATCH']);

    // The next process: the same content generated at another time.
    kube.calls.length = 0;
    current = summary('2026-01-01T00:05:00Z', '110000');
    const restarted = publisher(kube, () => current);
    expect(await restarted.readPublished()).toMatchObject({ cluster: 'eu' });
    await restarted.publish();
    expect(writes(kube)).toEqual([]);

    current = summary('2026-01-01T00:06:00Z', '109000');
    await restarted.publish();
    expect(writes(kube).map((c) => c.verb)).toEqual(['PUT', 'PATCH']);
  });

  it('tells who waits for a record (bounce-back) once the upper cluster holds it, written or already there', async () => {
    const kube = new FakeKube();
    const seen: string[] = [];
    let current: ClusterSummary = { ...summary('2026-01-01T00:00:00Z', '110000'), avoid: { rs: '2026-01-01T00:05:00Z' } };
    const p = publisher(
      kube,
      () => current,
      (s) => seen.push(Object.keys(s.avoid).join()),
    );
    await p.publish();
    expect(seen).toEqual(['rs']);
    current = { ...current, generated: '2026-01-01T00:00:01Z' };
    await p.publish(); // unchanged: no write, still published
    expect(seen).toEqual(['rs', 'rs']);
    // A write that fails tells nobody.
    current = { ...current, avoid: { rs: '2026-01-01T00:05:00Z', other: '2026-01-01T00:06:00Z' } };
    kube.beforeRequest = () => {
      throw new Error('upper API server unavailable');
    };
    await expect(p.publish()).rejects.toThrow(/unavailable/);
    expect(seen).toEqual(['rs', 'rs']);
  });
});
