// The bench's plan, results file and write accounting: unknown parts are refused by name and any order
// is kept; a run of some parts replaces only its keys; docs/benchmarks.md's tables and README's figures
// are exactly the ones generated from docs/bench-results.json; audit lines are attributed to the pod and
// the component that wrote them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { benchPlan, kwokNodeCount, PARTS } from '../bench/plan.js';
import {
  comparisons,
  mergeResults,
  peersMarkdown,
  readmeMarkdown,
  resultsMarkdown,
  spliceSection,
  type Measure,
} from '../bench/results.js';
import { auditWritesForPods, fedletWrites, perPodWrites, total, writesBetween } from '../bench/writes.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (f: string) => readFileSync(path.join(root, f), 'utf8');
const m = (value: number, unit = 'ms', measured = '2026-12-01'): Measure => ({ label: 'x', value, unit, measured });

describe('bench plan', () => {
  it('runs every part by default, in the documented order', () => {
    expect(benchPlan({}).parts).toEqual([...PARTS]);
    // peers runs another project's binaries: only when asked for, never by default.
    expect(benchPlan({}).parts).not.toContain('peers');
    expect(benchPlan({ BENCH_ONLY: 'peers' }).parts).toEqual(['peers']);
    expect(read('docs/benchmarks.md')).toContain(`BENCH_ONLY=${PARTS.join(',')}`);
  });

  it('keeps the order it is given, so any part can run after any other', () => {
    const reversed = [...PARTS].reverse();
    expect(benchPlan({ BENCH_ONLY: reversed.join(',') }).parts).toEqual(reversed);
    expect(benchPlan({ BENCH_ONLY: 'large,restart,large' }).parts).toEqual(['large', 'restart', 'large']);
  });

  it('refuses an unknown part by name instead of skipping it', () => {
    expect(() => benchPlan({ BENCH_ONLY: 'burst,larg' })).toThrow(/no part larg/);
  });

  it('smoke sizes are tiny, and explicit sizes still win', () => {
    const p = benchPlan({ BENCH_SMOKE: '1', BENCH_BURST: '7' });
    expect(p.sizes.burst).toBe(7);
    expect(p.sizes.large).toBeLessThan(20);
    expect(p.sizes.restartWindowMs).toBeLessThan(10_000);
    expect(() => benchPlan({ BENCH_LARGE: 'many' })).toThrow(/BENCH_LARGE/);
  });

  it('surges at every size given, and the lower cluster has room for the largest beside the rest', () => {
    expect(benchPlan({}).sizes.surge).toEqual([1000, 5000]);
    expect(benchPlan({ BENCH_SMOKE: '1' }).sizes.surge.every((n) => n < 10)).toBe(true);
    const p = benchPlan({ BENCH_SURGE: '100, 20000' });
    expect(p.sizes.surge).toEqual([100, 20000]);
    expect(kwokNodeCount(p.sizes)).toBeGreaterThan(kwokNodeCount({ ...p.sizes, surge: [100] }) + 15);
    expect(() => benchPlan({ BENCH_SURGE: '1k' })).toThrow(/BENCH_SURGE/);
    expect(() => benchPlan({ BENCH_SURGE: '0' })).toThrow(/BENCH_SURGE/);
  });
});

describe('bench results', () => {
  it('a run replaces only the keys it measured', () => {
    const before = { cores: 2, measures: { a: m(1, 'ms', '2026-11-01'), b: m(2, 'ms', '2026-11-01') } };
    const after = mergeResults(before, { b: m(3) }, 4);
    expect(after.cores).toBe(4);
    expect(after.measures.a).toEqual(before.measures.a);
    expect(after.measures.b).toEqual(m(3));
  });

  it("README's Liqo table has a row per peers measure, fedlet and Liqo side by side, naming the rows Liqo wins", () => {
    const r = {
      cores: 2,
      measures: {
        'peers.liqo.rss-idle.fedlet': { ...m(67, 'MiB'), label: 'RSS idle: fedlet' },
        'peers.liqo.rss-idle.liqo': { ...m(59, 'MiB'), label: 'RSS idle: Liqo' },
        'peers.liqo.burst.fedlet': { ...m(10, 's'), label: 'burst: fedlet' },
        'peers.liqo.burst.liqo': { ...m(16, 's'), label: 'burst: Liqo' },
        'peers.liqo.burst.direct': { ...m(9, 's'), label: 'burst: direct' },
      },
    };
    const md = peersMarkdown(r);
    expect(md).toContain('| RSS idle | 67.0 MiB | 59.0 MiB | — | **Liqo** |');
    expect(md).toContain('| burst | 10.0 s | 16.0 s | 9.00 s | fedlet |');
    expect(peersMarkdown({ cores: 2, measures: {} })).toMatch(/^Not measured yet/);
  });

  it('pairs stem.via with stem.direct into a comparison', () => {
    const c = comparisons({ cores: 2, measures: { 'x.via': m(30), 'x.direct': m(10), 'y.via': m(1) } });
    expect(c.map((x) => [x.stem, x.ratio])).toEqual([['x', 3]]);
  });

  it('every measure in docs/bench-results.json has a number, a unit and a day', () => {
    const r = JSON.parse(read('docs/bench-results.json')) as { measures: Record<string, Measure> };
    for (const [k, v] of Object.entries(r.measures)) {
      expect(typeof v.value, k).toBe('number');
      expect(typeof v.unit, k).toBe('string');
      expect(v.measured, k).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
  });

  it("docs/benchmarks.md's tables and README's figures are the ones generated from docs/bench-results.json", () => {
    const r = JSON.parse(read('docs/bench-results.json')) as Parameters<typeof resultsMarkdown>[0];
    const stale = 'stale: regenerate them from docs/bench-results.json (a bench run does; test/bench/results.ts updateDocs)';
    const bench = read('docs/benchmarks.md');
    expect(spliceSection(bench, 'bench-results', resultsMarkdown(r)), stale).toBe(bench);
    const readme = read('README.md');
    expect(spliceSection(readme, 'bench-summary', readmeMarkdown(r)), stale).toBe(readme);
    expect(spliceSection(readme, 'bench-peers', peersMarkdown(r)), stale).toBe(readme);
  });
});

describe('bench write accounting', () => {
  const metrics = (n: number) =>
    [
      `fedlet_api_writes_total{cluster="upper",verb="PATCH",resource="pods/status"} ${2 * n}`,
      `fedlet_api_writes_total{cluster="upper-heartbeat",verb="PUT",resource="leases"} ${n + 5}`,
      `fedlet_api_writes_total{cluster="lower",verb="POST",resource="pods"} ${n}`,
      `fedlet_api_writes_total{cluster="upper-reviews",verb="POST",resource="tokenreviews"} 3`,
      `fedlet_api_writes_total{cluster="lower",verb="POST",resource="selfsubjectaccessreviews"} ${n / 5}`,
    ].join('\n');

  it("counts fedlet's writes per pod between two scrapes, heartbeats and reviews apart", () => {
    const d = writesBetween(fedletWrites(metrics(0)), fedletWrites(metrics(10)));
    expect(total(d)).toBe(42);
    expect(perPodWrites(d).map((w) => `${w.who} ${w.verb} ${w.resource} ${w.n}`)).toEqual([
      'upper PATCH pods/status 20',
      'lower POST pods 10',
    ]);
  });

  it('attributes audit lines to the pod and the component that wrote them, within the window', () => {
    const line = (user: string, verb: string, resource: string, name: string, sub?: string, at = '2026-12-01T00:00:01Z') =>
      JSON.stringify({
        stage: 'ResponseComplete',
        verb,
        user: { username: user },
        objectRef: { resource, namespace: 'bench', name, ...(sub ? { subresource: sub } : {}) },
        requestReceivedTimestamp: at,
      });
    const log = [
      line('system:kube-scheduler', 'create', 'pods', 'p', 'binding'),
      line('system:kube-scheduler', 'create', 'events', 'p.17f0a'),
      line('system:node:real-1', 'patch', 'pods', 'p', 'status'),
      line('system:node:real-1', 'patch', 'pods', 'p', 'status'),
      line('system:node:real-1', 'patch', 'pods', 'other', 'status'),
      line('system:node:real-1', 'patch', 'pods', 'p', 'status', '2026-12-01T00:05:00Z'),
      line('fedlet-lower-1', 'create', 'pods', 'p'),
    ].join('\n');
    const from = Date.parse('2026-12-01T00:00:00Z');
    const rows = auditWritesForPods(log, 'bench', ['p'], from, from + 60_000).map(
      (w) => `${w.who} ${w.verb} ${w.resource} ${w.n}`,
    );
    expect(rows.sort()).toEqual([
      'fedlet POST pods 1',
      'kubelet PATCH pods/status 2',
      'scheduler POST events 1',
      'scheduler POST pods/binding 1',
    ]);
  });
});
