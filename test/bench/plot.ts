// Turns bench results (docs/bench-results.json) into an SVG bar chart of the fedlet/direct ratios
// (docs/bench.svg), so README and docs/benchmarks.md show the numbers as a picture. Usage: node dist/test/bench/plot.js [in] [out]
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { comparisons, fmt, readResults } from './results.js';

const input = process.argv[2] ?? path.join(process.cwd(), 'docs', 'bench-results.json');
const output = process.argv[3] ?? path.join(path.dirname(input), 'bench.svg');
const r = readResults(input);
const rows = comparisons(r)
  .filter((c) => Number.isFinite(c.ratio))
  .map((c) => ({
    measure: c.via.label.replace(/, via fedlet$/, ''),
    via: `${fmt(c.via.value)} ${c.via.unit}`,
    direct: `${fmt(c.direct.value)} ${c.direct.unit}`,
    ratio: c.ratio.toFixed(2),
    measured: c.via.measured,
  }));
const when = [...new Set(rows.map((c) => c.measured))].sort().join(', ');
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const W = 760;
const left = 330;
const barW = W - left - 90;
const rowH = 34;
const H = 70 + rows.length * rowH + 30;
// Ratios above 3 are clipped (and labelled) so one outlier does not flatten every other bar.
const max = 3;
const x = (v: number) => left + (Math.min(v, max) / max) * barW;
const parts: string[] = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="13">`,
  `<rect width="100%" height="100%" fill="white"/>`,
  `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">fedlet vs. direct in the lower cluster (ratio, same run)</text>`,
  `<text x="${W / 2}" y="44" text-anchor="middle" fill="#555">${esc(when)} · ${r.cores} cores · time-like: lower is better; throughput: higher is better</text>`,
  `<line x1="${x(1)}" y1="56" x2="${x(1)}" y2="${H - 24}" stroke="#888" stroke-dasharray="4 3"/>`,
  `<text x="${x(1)}" y="${H - 8}" text-anchor="middle" fill="#555">1.0 = same as direct</text>`,
];
rows.forEach((c, i) => {
  const y = 64 + i * rowH;
  const v = Number(c.ratio);
  const throughput = /throughput/.test(c.measure);
  // Goals: throughput ≥ 0.9 of direct; single-pod latency ≤ +100 ms; everything else ratio ≤ 1.25.
  const ms = (t: string) => Number(/([\d.]+) ms/.exec(t)?.[1] ?? NaN);
  const good = throughput ? v >= 0.9 : /single pod/.test(c.measure) ? ms(c.via) - ms(c.direct) <= 100 : v <= 1.25;
  parts.push(`<text x="${left - 8}" y="${y + 17}" text-anchor="end">${esc(c.measure)}</text>`);
  parts.push(
    `<rect x="${left}" y="${y + 4}" width="${Math.max(1, x(v) - left)}" height="20" fill="${good ? '#3a7d44' : '#c0504d'}"/>`,
  );
  parts.push(`<text x="${x(v) + 6}" y="${y + 18}">${v > max ? '» ' : ''}${c.ratio} (${esc(c.via)} vs ${esc(c.direct)})</text>`);
});
parts.push('</svg>');
writeFileSync(output, `${parts.join('\n')}\n`);
console.log(`wrote ${output}`);
