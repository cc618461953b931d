// The bench figure (docs/bench.svg): a missed goal is drawn red with its goal line, a met one green; a
// measure the results do not hold reads "not measured" and gets no bar; Liqo is drawn beside fedlet in
// its own neutral fill; every text fits its column and the picture; the committed figure is the one the
// results file draws; and the goals the results record are the ones of the single goals table.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { benchPanels, benchSvg, type Panel } from '../bench/figure.js';
import { drawFigure, FILL, textWidth } from '../bench/figure-svg.js';
import { goalFor, goalText } from '../bench/goals.js';
import type { BenchResults, Measure } from '../bench/results.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const docsResults = (): BenchResults =>
  JSON.parse(readFileSync(path.join(root, 'docs', 'bench-results.json'), 'utf8')) as BenchResults;
const m = (value: number, unit: string): Measure => ({ label: 'x', value, unit, measured: '2026-12-01' });

const results = (measures: Record<string, Measure>): BenchResults => ({ cores: 2, measures });
const row = (panels: Panel[], label: string) => panels.flatMap((p) => p.rows).find((r) => r.label === label);

describe('bench figure', () => {
  const r = results({
    'rss.idle': m(67, 'MiB'),
    'rss.1000-pods': m(90, 'MiB'),
    'throughput.logs.via': m(44, 'MiB/s'),
    'throughput.logs.direct': m(50, 'MiB/s'),
    'peers.liqo.rss-idle-virtual-kubelet-alone.fedlet': m(67, 'MiB'),
    'peers.liqo.rss-idle-virtual-kubelet-alone.liqo': m(59, 'MiB'),
  });
  const drawn = drawFigure(benchPanels(r), 'test');

  it('draws a missed goal red, with the goal line at the goal, and a met one green', () => {
    const idle = drawn.bars.find((b) => b.row === 'idle')!;
    expect(idle.tone).toBe('missed');
    // The goal line is at 45 MiB: left of the bar's end at 67, at 45/67 of its length from zero.
    expect(idle.goalX).toBeCloseTo(idle.x + (idle.width * 45) / 67, 5);
    expect(drawn.svg).toContain(`width="${idle.width.toFixed(1)}" height="15" fill="${FILL.missed}"`);
    expect(drawn.texts.some((t) => t.text === '67.0 MiB, goal ≤ 45 MiB')).toBe(true);
    expect(drawn.bars.find((b) => b.row === '1,000 pods')!.tone).toBe('met');
    // Throughput is judged against direct: 0.88× is under the ≥ 0.9× goal.
    expect(row(benchPanels(r), 'kubectl logs')!.bars[0]!.tone).toBe('missed');
    expect(row(benchPanels(r), 'kubectl logs')!.goal).toBe(0.9);
  });

  it('writes "not measured" for a measure the results do not hold, and draws no bar for it', () => {
    expect(row(benchPanels(r), '10,000 pods')!.bars).toEqual([]);
    expect(row(benchPanels(r), 'kubectl attach')!.bars).toEqual([]);
    expect(drawn.bars.some((b) => b.row === '10,000 pods' || b.row === 'kubectl attach')).toBe(false);
    expect(drawn.texts.filter((t) => t.text === 'not measured').length).toBeGreaterThanOrEqual(2);
    // Nothing at all: every panel still draws, every row "not measured".
    const empty = drawFigure(benchPanels(results({})), 'test');
    expect(empty.bars).toEqual([]);
    expect(empty.svg).toContain('not measured');
  });

  it('draws Liqo beside fedlet in the same row, in a fill that is neither goal colour', () => {
    const both = drawn.bars.filter((b) => b.row === 'idle, vs Liqo’s VK');
    expect(both.map((b) => b.tone)).toEqual(['missed', 'peer']);
    expect([FILL.met, FILL.missed]).not.toContain(FILL.peer);
    // No Liqo figures, no Liqo rows.
    expect(benchPanels(results({ 'rss.idle': m(40, 'MiB') })).flatMap((p) => p.rows.map((x) => x.label))).not.toContain(
      'idle, vs Liqo’s VK',
    );
  });

  it('fits every text inside the picture and every label left of the bars', () => {
    for (const f of [drawn, drawFigure(benchPanels(docsResults()), 'docs')]) {
      for (const t of f.texts) {
        const [from, to] = t.anchor === 'end' ? [t.x - t.width, t.x] : [t.x, t.x + t.width];
        expect(from, t.text).toBeGreaterThanOrEqual(0);
        expect(to, t.text).toBeLessThanOrEqual(f.width);
      }
      const barsFrom = Math.min(...f.bars.map((b) => b.x));
      const labels = benchPanels(docsResults()).flatMap((p) => p.rows.map((x) => x.label));
      for (const t of f.texts.filter((x) => x.anchor === 'end' && labels.includes(x.text)))
        expect(t.x, t.text).toBeLessThan(barsFrom);
    }
    // Wide glyphs count as wide: a width estimate that does not undercount.
    expect(textWidth('MMMM')).toBeGreaterThan(textWidth('iiii') * 2);
  });

  it('docs/bench.svg is the figure docs/bench-results.json draws', () => {
    const svg = readFileSync(path.join(root, 'docs', 'bench.svg'), 'utf8');
    expect(svg, 'stale: redraw it (node dist/test/bench/plot.js; every bench run does)').toBe(benchSvg(docsResults()));
  });

  it('the goals recorded in docs/bench-results.json are those of the goals table', () => {
    for (const [k, v] of Object.entries(docsResults().measures)) {
      const g = goalFor(k);
      expect(v.goal, k).toBe(g && goalText(g));
    }
    expect(goalText(goalFor('pod-start.p50.via')!)).toBe('≤ direct + 100 ms');
    expect(goalText(goalFor('burst.5000.via')!)).toBe('≤ 1.25× direct');
    expect(goalText(goalFor('rss.idle')!)).toBe('≤ 45 MiB');
  });
});
