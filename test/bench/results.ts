// The bench's results file (docs/bench-results.json): one key per measure, each a number with its unit
// and the date it was measured, so a run of some parts updates only its own keys and every figure keeps
// the date it comes from. The tables in docs/benchmarks.md and the figures and Liqo table in README.md are
// generated from it (between markers; test/unit/bench-results.test.ts fails when they are stale).
import { readFileSync, writeFileSync } from 'node:fs';

export interface Measure {
  /** What was measured, for people (the key is for machines). */
  label: string;
  value: number;
  unit: string;
  /** ISO date (day) of the run that measured it. */
  measured: string;
  /** The goal, where the issue sets one (for people). */
  goal?: string;
}

export interface BenchResults {
  /** Cores of the machine of the latest run. */
  cores: number;
  measures: Record<string, Measure>;
}

/** Keys of a via/direct pair end in these; their common stem names the comparison. */
export const VIA = '.via';
export const DIRECT = '.direct';

/** Reads a results file; a missing or older-format file gives no measures. */
export function readResults(file: string): BenchResults {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as Partial<BenchResults>;
    if (r.measures && typeof r.measures === 'object') return { cores: r.cores ?? 0, measures: r.measures };
  } catch {
    // absent or unreadable: start afresh
  }
  return { cores: 0, measures: {} };
}

/** The previous results with this run's measures replacing the keys it measured; other keys stay. */
export function mergeResults(previous: BenchResults, run: Record<string, Measure>, cores: number): BenchResults {
  const measures = { ...previous.measures, ...run };
  const sorted = Object.fromEntries(
    Object.keys(measures)
      .sort()
      .map((k) => [k, measures[k]!]),
  );
  return { cores, measures: sorted };
}

export function writeResults(file: string, r: BenchResults): void {
  writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
}

/** A number as the tables print it: digits by size, thousands grouped. */
export function fmt(v: number): string {
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
const withUnit = (m: Measure) => (m.unit ? `${fmt(m.value)} ${m.unit}` : fmt(m.value));

export interface Comparison {
  stem: string;
  via: Measure;
  direct: Measure;
  /** via ÷ direct. */
  ratio: number;
}

/** Every via/direct pair of the results. */
export function comparisons(r: BenchResults): Comparison[] {
  const out: Comparison[] = [];
  for (const [k, via] of Object.entries(r.measures)) {
    if (!k.endsWith(VIA)) continue;
    const stem = k.slice(0, -VIA.length);
    const direct = r.measures[stem + DIRECT];
    if (direct) out.push({ stem, via, direct, ratio: direct.value ? via.value / direct.value : NaN });
  }
  return out;
}

/** Markdown tables of docs/benchmarks.md: the comparisons, then every other measure, with its date. */
export function resultsMarkdown(r: BenchResults): string {
  const lines = [
    `Generated from \`docs/bench-results.json\` (${r.cores} cores at the latest run; each figure with the day it was measured).`,
    '',
    '| measure | via fedlet | direct | ratio | measured |',
    '|---|---|---|---|---|',
  ];
  const paired = new Set<string>();
  for (const c of comparisons(r)) {
    paired.add(c.stem + VIA).add(c.stem + DIRECT);
    const label = c.via.label.replace(/, via fedlet$/, '');
    const goal = c.via.goal ? ` (goal ${c.via.goal})` : '';
    lines.push(`| ${label}${goal} | ${withUnit(c.via)} | ${withUnit(c.direct)} | ${fmt(c.ratio)} | ${c.via.measured} |`);
  }
  lines.push('', ...cpuMatrix(r, paired));
  const peers = peersTable(r, paired);
  if (peers.length) lines.push('', 'fedlet and Liqo side by side (`BENCH_PEERS=liqo`, same run):', '', ...peers);
  lines.push('', '| measure | value | measured |', '|---|---|---|');
  for (const [k, m] of Object.entries(r.measures)) {
    if (paired.has(k)) continue;
    lines.push(`| ${m.label}${m.goal ? ` (goal ${m.goal})` : ''} | ${withUnit(m)} | ${m.measured} |`);
  }
  return lines.join('\n');
}

/** cpu-per-mib.<stream>.<path>.<component> as one table: a row per stream and path, a column per component. */
function cpuMatrix(r: BenchResults, done: Set<string>): string[] {
  const rows = new Map<string, Map<string, Measure>>();
  for (const [k, m] of Object.entries(r.measures)) {
    const parts = /^cpu-per-mib\.([^.]+\.[^.]+)\.([^.]+)$/.exec(k);
    if (!parts) continue;
    done.add(k);
    const row = rows.get(parts[1]!) ?? new Map<string, Measure>();
    row.set(parts[2]!, m);
    rows.set(parts[1]!, row);
  }
  if (!rows.size) return [];
  const columns = [...new Set([...rows.values()].flatMap((row) => [...row.keys()]))];
  const out = [
    'CPU ms per MiB moved, by component (same run as the throughput):',
    '',
    `| stream | ${columns.join(' | ')} | measured |`,
    `|---|${columns.map(() => '---|').join('')}---|`,
  ];
  for (const [name, row] of rows) {
    const cells = columns.map((c) => (row.has(c) ? fmt(row.get(c)!.value) : '—'));
    out.push(`| ${name.replace('.', ' ')} | ${cells.join(' | ')} | ${[...row.values()][0]!.measured} |`);
  }
  return out;
}

/** `peers.liqo.<row>.<side>` as one table: a row per measure, fedlet, Liqo and the direct floor side by side. */
function peersTable(r: BenchResults, done: Set<string>, readme = false): string[] {
  const rows = new Map<string, Partial<Record<'fedlet' | 'liqo' | 'direct', Measure>>>();
  for (const [k, m] of Object.entries(r.measures)) {
    const parts = /^peers\.liqo\.(.+)\.(fedlet|liqo|direct)$/.exec(k);
    if (!parts) continue;
    done.add(k);
    rows.set(parts[1]!, { ...rows.get(parts[1]!), [parts[2]!]: m });
  }
  if (!rows.size) return [];
  const last = readme ? 'better' : 'measured';
  const out = [`| measure (lower is better) | fedlet | Liqo | direct | ${last} |`, '|---|---|---|---|---|'];
  for (const { fedlet, liqo, direct } of rows.values()) {
    const any = (fedlet ?? liqo ?? direct)!;
    const cell = (m: Measure | undefined) => (m ? withUnit(m) : '—');
    // Every row is lower-is-better; the README names the winner, including the rows Liqo wins.
    const better = !fedlet || !liqo ? '—' : fedlet.value <= liqo.value ? 'fedlet' : '**Liqo**';
    const label = any.label.replace(/: (fedlet|Liqo|direct)$/, '');
    out.push(`| ${label} | ${cell(fedlet)} | ${cell(liqo)} | ${cell(direct)} | ${readme ? better : any.measured} |`);
  }
  return out;
}

/** README's comparison with Liqo, from the same file (the rows of the latest `BENCH_PEERS=liqo` run). */
export function peersMarkdown(r: BenchResults): string {
  const table = peersTable(r, new Set(), true);
  if (!table.length) return 'Not measured yet (`BENCH_PEERS=liqo BENCH_ONLY=peers npm run bench`).';
  const days = [...new Set(Object.entries(r.measures).flatMap(([k, m]) => (k.startsWith('peers.liqo.') ? [m.measured] : [])))];
  return [`Measured ${days.sort().join(', ')}:`, '', ...table].join('\n');
}

/** The README's few headline figures, from the same file (those measured so far). */
export function readmeMarkdown(r: BenchResults): string {
  const m = r.measures;
  const parts: string[] = [];
  const p50 = [m['pod-start.p50.via'], m['pod-start.p50.direct']];
  if (p50[0] && p50[1])
    parts.push(`a pod starts ${fmt(p50[0].value - p50[1].value)} ms later than directly in the lower cluster (p50)`);
  // The largest burst measured (sizes have keys of their own).
  const burst = Object.keys(m)
    .filter((k) => /^burst\.\d+\.via$/.test(k))
    .sort((a, b) => Number(b.split('.')[1]) - Number(a.split('.')[1]))[0];
  const burstDirect = burst && m[burst.replace(VIA, DIRECT)];
  if (burst && burstDirect)
    parts.push(
      `a ${fmt(Number(burst.split('.')[1]))}-pod Deployment is Ready at ${fmt(m[burst]!.value / burstDirect.value)}× the direct time`,
    );
  const writes = m['api-writes.per-pod.burst'];
  if (writes) parts.push(`fedlet makes ${fmt(writes.value)} API writes per pod from create to Ready (both clusters)`);
  const dates = [...new Set([p50[0], burst && m[burst], writes].filter((x): x is Measure => !!x).map((x) => x.measured))];
  return parts.length ? `Measured (${dates.sort().join(', ')}): ${parts.join('; ')}.` : 'No figures measured yet.';
}

/** The document with the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` replaced. */
export function spliceSection(doc: string, name: string, body: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error(`the document has no ${start} … ${end} section`);
  return `${doc.slice(0, a + start.length)}\n${body}\n${doc.slice(b)}`;
}

/** Rewrites the generated sections of docs/benchmarks.md and README.md in `root` from the results. */
export function updateDocs(root: string, r: BenchResults): void {
  const edit = (file: string, name: string, body: string) => {
    const doc = readFileSync(`${root}/${file}`, 'utf8');
    const next = spliceSection(doc, name, body);
    if (next !== doc) writeFileSync(`${root}/${file}`, next);
  };
  edit('docs/benchmarks.md', 'bench-results', resultsMarkdown(r));
  edit('README.md', 'bench-summary', readmeMarkdown(r));
  edit('README.md', 'bench-peers', peersMarkdown(r));
}
