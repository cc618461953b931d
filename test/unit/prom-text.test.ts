import { describe, expect, it } from 'vitest';
import { parsePromText } from '../../provider/node/prom-text.js';
import { podStatsFromResourceMetrics } from '../../provider/node/stats.js';
import type { Pod } from '../../src/kube/types.js';

describe('parsePromText', () => {
  it('reads samples with labels, escapes and timestamps, skipping comments and junk', () => {
    const text = [
      '# HELP x help',
      '# TYPE x counter',
      'scrape_error 0',
      'container_cpu_usage_seconds_total{container="app",namespace="n",pod="p"} 1.5 1700000000000',
      'weird{a="q\\"uote",b="back\\\\slash",} 2',
      'not a sample line',
      'broken{a=unquoted} 3',
      '',
    ].join('\n');
    expect(parsePromText(text)).toEqual([
      { name: 'scrape_error', labels: {}, value: 0 },
      {
        name: 'container_cpu_usage_seconds_total',
        labels: { container: 'app', namespace: 'n', pod: 'p' },
        value: 1.5,
        timestampMs: 1700000000000,
      },
      { name: 'weird', labels: { a: 'q"uote', b: 'back\\slash' }, value: 2 },
    ]);
  });
});

describe('podStatsFromResourceMetrics', () => {
  const pod = (ns: string, name: string): Pod =>
    ({
      metadata: { namespace: ns, name, uid: `uid-${name}` },
      spec: { containers: [{ name: 'a' }, { name: 'b' }] },
      status: {
        phase: 'Running',
        startTime: '2026-01-01T00:00:00Z',
        containerStatuses: [{ name: 'a', state: { running: { startedAt: '2026-01-01T00:00:05Z' } } }],
      },
    }) as unknown as Pod;

  it('keeps only known pods and sums containers into pod totals', () => {
    const text = [
      'container_cpu_usage_seconds_total{container="a",namespace="n",pod="p"} 2 1700000000000',
      'container_cpu_usage_seconds_total{container="b",namespace="n",pod="p"} 0.5 1700000000000',
      'container_memory_working_set_bytes{container="a",namespace="n",pod="p"} 1000 1700000000000',
      'container_memory_working_set_bytes{container="b",namespace="n",pod="p"} 24 1700000000000',
      'container_cpu_usage_seconds_total{container="a",namespace="n",pod="stranger"} 9',
      'node_cpu_usage_seconds_total 99',
    ].join('\n');
    const stats = podStatsFromResourceMetrics(text, new Map([['n/p', pod('n', 'p')]]));
    expect(stats).toHaveLength(1);
    const s = stats[0]!;
    expect(s.podRef).toEqual({ namespace: 'n', name: 'p', uid: 'uid-p' });
    expect(s.cpu?.usageCoreNanoSeconds).toBe(2.5e9);
    expect(s.memory?.workingSetBytes).toBe(1024);
    expect(s.containers?.find((c) => c.name === 'a')?.startTime).toBe('2026-01-01T00:00:05Z');
    expect(s.containers?.find((c) => c.name === 'b')?.startTime).toBe('2026-01-01T00:00:00Z');
    expect(s.containers?.find((c) => c.name === 'a')?.cpu?.time).toBe(new Date(1700000000000).toISOString());
  });
});
