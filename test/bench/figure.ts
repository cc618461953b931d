// The bench figure (docs/bench.svg) as pure functions of the results file: which measures go into which
// panel (added latency, Deployment bursts, stream throughput, relay CPU against the Go hop, memory, API
// writes per pod), and the SVG layout. Colour says only whether a goal is met; references (direct, the
// lower API server, the lower kubelet) and Liqo are drawn in neutral fills, and a measure the results do
// not hold is written "not measured", never drawn as zero. test/bench/plot.ts writes it.
import { goalFor, goalLine, goalMet, goalText, RELAY_COST_GOAL, type Goal } from './goals.js';
import { drawFigure } from './figure-svg.js';
import { fmt, type BenchResults, type Measure } from './results.js';

/** met/missed: a fedlet figure with a goal; plain: fedlet without one; reference: the path's own floor. */
export type Tone = 'met' | 'missed' | 'plain' | 'reference' | 'peer';

export interface Bar {
  value: number;
  tone: Tone;
  /** Printed after the bar: the figure and what it is. */
  text: string;
}

export interface Row {
  label: string;
  /** Empty: the results do not hold this measure. */
  bars: Bar[];
  /** Where the goal line of this row is, in the panel's unit. */
  goal?: number;
  /** The measure days of the row's figures. */
  days: string[];
}

export interface Panel {
  title: string;
  note: string;
  unit: string;
  rows: Row[];
}

const STREAMS = ['logs', 'exec', 'port-forward', 'attach'];
const PEER = 'peers.liqo.';

const tone = (g: Goal | undefined, value: number, direct?: number): Tone =>
  g ? (goalMet(g, value, direct) ? 'met' : 'missed') : 'plain';
const goalNote = (g: Goal | undefined) => (g ? `, goal ${goalText(g)}` : '');
const signed = (v: number) => `${v >= 0 ? '+' : '−'}${fmt(Math.abs(v))}`;
const missing = (label: string): Row => ({ label, bars: [], days: [] });
const daysOf = (...ms: Array<Measure | undefined>) => ms.filter((m): m is Measure => !!m).map((m) => m.measured);

/** via − direct for `stem` (one bar, coloured by the goal of `stem.via`), or "not measured". */
function addedRow(r: BenchResults, stem: string, label: string, unit: string): Row {
  const via = r.measures[`${stem}.via`];
  const direct = r.measures[`${stem}.direct`];
  if (!via || !direct) return missing(label);
  const g = goalFor(`${stem}.via`);
  const added = via.value - direct.value;
  const ratio = g?.of === 'ratio' ? `, ${fmt(via.value / direct.value)}×` : '';
  return {
    label,
    bars: [
      {
        value: added,
        tone: tone(g, via.value, direct.value),
        text: `${signed(added)} ${unit} (${fmt(via.value)} vs ${fmt(direct.value)}${ratio}${goalNote(g)})`,
      },
    ],
    ...(g ? { goal: goalLine(g, direct.value) - direct.value } : {}),
    days: daysOf(via, direct),
  };
}

/** A row of the Liqo comparison, as time added over direct: fedlet's bar judged by `goalKey`'s goal. */
function peerAddedRow(r: BenchResults, slug: RegExp, label: string, unit: string, goalKey?: string): Row[] {
  // The peer's row names carry its sizes (`200-pod-…`, `…-p50-20-pods`): found by pattern.
  const base = Object.keys(r.measures)
    .filter((k) => k.startsWith(PEER) && k.endsWith('.fedlet'))
    .map((k) => k.slice(0, -'.fedlet'.length))
    .find((k) => slug.test(k.slice(PEER.length)));
  const [f, l, d] = ['fedlet', 'liqo', 'direct'].map((s) => r.measures[`${base}.${s}`]);
  if (!f || !l || !d) return [];
  const g = goalKey ? goalFor(goalKey) : undefined;
  return [
    {
      label,
      bars: [
        {
          value: f.value - d.value,
          tone: tone(g, f.value, d.value),
          text: `fedlet ${signed(f.value - d.value)} ${unit}${goalNote(g)}`,
        },
        { value: l.value - d.value, tone: 'peer', text: `Liqo ${signed(l.value - d.value)} ${unit}` },
      ],
      ...(g ? { goal: goalLine(g, d.value) - d.value } : {}),
      days: daysOf(f, l, d),
    },
  ];
}

/** A row of the Liqo comparison as plain values (lower is better), with the direct figure if there is one. */
function peerRow(r: BenchResults, slug: string, label: string, unit: string, goalKey?: string): Row[] {
  const [f, l, d] = ['fedlet', 'liqo', 'direct'].map((s) => r.measures[`${PEER}${slug}.${s}`]);
  if (!f || !l) return [];
  const g = goalKey ? goalFor(goalKey) : undefined;
  const bars: Bar[] = [
    { value: f.value, tone: tone(g, f.value), text: `fedlet ${fmt(f.value)} ${unit}${goalNote(g)}` },
    { value: l.value, tone: 'peer', text: `Liqo ${fmt(l.value)} ${unit}` },
  ];
  if (d) bars.push({ value: d.value, tone: 'reference', text: `direct ${fmt(d.value)} ${unit}` });
  return [{ label, bars, ...(g ? { goal: goalLine(g) } : {}), days: daysOf(f, l, d) }];
}

/** Sizes N of the keys `prefix.N.suffix` (or `prefix.N-pods`), ascending. */
function sizes(r: BenchResults, re: RegExp): number[] {
  const found = Object.keys(r.measures).flatMap((k) => {
    const n = re.exec(k)?.[1];
    return n ? [Number(n)] : [];
  });
  return [...new Set(found)].sort((a, b) => a - b);
}

function latencyPanel(r: BenchResults): Panel {
  const rows = [
    addedRow(r, 'pod-start.p50', 'pod start p50', 'ms'),
    addedRow(r, 'pod-start.p99', 'pod start p99', 'ms'),
    addedRow(r, 'real-pod-start.p50', 'pod start p50, real node', 'ms'),
    addedRow(r, 'real-pod-start.p99', 'pod start p99, real node', 'ms'),
  ];
  // A new claim's pod is measured only where storage is; no row otherwise.
  for (const p of [50, 99])
    if (r.measures[`claim-pod-start.p${p}.via`]) rows.push(addedRow(r, `claim-pod-start.p${p}`, `pod with a claim p${p}`, 'ms'));
  for (const p of [50, 99])
    rows.push(
      ...peerAddedRow(
        r,
        new RegExp(`^single-pod-create-ready-p${p}\\b`),
        `pod start p${p}, vs Liqo`,
        'ms',
        `pod-start.p${p}.via`,
      ),
    );
  return {
    title: 'Pod start: time added over direct (ms)',
    note: 'via fedlet minus directly in the lower cluster; lower is better',
    unit: 'ms',
    rows,
  };
}

function burstPanel(r: BenchResults): Panel {
  const ns = sizes(r, /^burst\.(\d+)\.via$/);
  const rows = ns.length
    ? ns.map((n) => addedRow(r, `burst.${n}`, `${n.toLocaleString('en-US')}-pod Deployment`, 's'))
    : [missing('Deployment burst')];
  // Bare pods created at once by the bench (part surge): kube-controller-manager out of the path.
  for (const n of sizes(r, /^surge\.(\d+)\.via$/))
    rows.push(addedRow(r, `surge.${n}`, `${n.toLocaleString('en-US')} bare pods, no kcm`, 's'));
  // One goal for a burst of any size: the key's size does not matter.
  rows.push(...peerAddedRow(r, /^\d+-pod-deployment-all-ready$/, 'Deployment, vs Liqo', 's', 'burst.200.via'));
  rows.push(...peerAddedRow(r, /^\d+-pod-deployment-deleted/, 'its deletion, vs Liqo', 's'));
  return {
    title: 'Pods → all Ready: time added over direct (s)',
    note: 'via fedlet minus directly in the lower cluster; lower is better',
    unit: 's',
    rows,
  };
}

function throughputPanel(r: BenchResults): Panel {
  const rows = STREAMS.map((kind): Row => {
    const via = r.measures[`throughput.${kind}.via`];
    const direct = r.measures[`throughput.${kind}.direct`];
    if (!via || !direct) return missing(`kubectl ${kind}`);
    const g = goalFor(`throughput.${kind}.via`);
    const ratio = via.value / direct.value;
    return {
      label: `kubectl ${kind}`,
      bars: [
        {
          value: ratio,
          tone: tone(g, via.value, direct.value),
          text: `${fmt(ratio)}× (${fmt(via.value)} vs ${fmt(direct.value)} ${via.unit}${goalNote(g)})`,
        },
      ],
      ...(g ? { goal: g.limit } : {}),
      days: daysOf(via, direct),
    };
  });
  return {
    title: 'Stream throughput: via fedlet ÷ direct',
    note: '1 = as fast as directly in the lower cluster; higher is better',
    unit: '×',
    rows,
  };
}

function relayCpuPanel(r: BenchResults): Panel {
  const rows = STREAMS.map((kind): Row => {
    const f = r.measures[`cpu-per-mib.${kind}.via.fedlet`];
    const go = r.measures[`cpu-per-mib.${kind}.via.lower-apiserver`];
    if (!f || !go || go.value <= 0) return missing(kind);
    const met = f.value <= RELAY_COST_GOAL * go.value;
    return {
      label: kind,
      bars: [
        {
          value: f.value,
          tone: met ? 'met' : 'missed',
          text: `fedlet ${fmt(f.value)} ms, ${fmt(f.value / go.value)}× the Go hop (goal ≤ ${RELAY_COST_GOAL}×)`,
        },
        { value: go.value, tone: 'reference', text: `lower API server ${fmt(go.value)} ms` },
      ],
      goal: RELAY_COST_GOAL * go.value,
      days: daysOf(f, go),
    };
  });
  return {
    title: 'Relay CPU per MiB moved (ms): fedlet vs the Go hop',
    note: 'fedlet against the lower API server relaying the same bytes in the same run; lower is better',
    unit: 'ms',
    rows,
  };
}

function valueRow(r: BenchResults, key: string, label: string, unit: string): Row {
  const m = r.measures[key];
  if (!m) return missing(label);
  const g = goalFor(key);
  return {
    label,
    bars: [{ value: m.value, tone: tone(g, m.value), text: `${fmt(m.value)} ${unit}${goalNote(g)}` }],
    ...(g ? { goal: goalLine(g) } : {}),
    days: daysOf(m),
  };
}

function memoryPanel(r: BenchResults): Panel {
  // Idle and the sizes with a goal always have a row; other measured sizes join them.
  const ns = [...new Set([1000, 10000, ...sizes(r, /^rss\.(\d+)-pods$/)])].sort((a, b) => a - b);
  const rows = [
    valueRow(r, 'rss.idle', 'idle', 'MiB'),
    ...ns.map((n) => valueRow(r, `rss.${n}-pods`, `${n.toLocaleString('en-US')} pods`, 'MiB')),
  ];
  rows.push(...peerRow(r, 'rss-idle-whole-system', 'idle, vs Liqo (all of it)', 'MiB', 'rss.idle'));
  rows.push(...peerRow(r, 'rss-idle-virtual-kubelet-alone', 'idle, vs Liqo’s VK', 'MiB', 'rss.idle'));
  for (const n of sizes(r, /^peers\.liqo\.rss-with-(\d+)-pods-whole-system\.fedlet$/)) {
    rows.push(...peerRow(r, `rss-with-${n}-pods-whole-system`, `${n} pods, vs Liqo (all of it)`, 'MiB'));
    rows.push(...peerRow(r, `rss-with-${n}-pods-virtual-kubelet-alone`, `${n} pods, vs Liqo’s VK`, 'MiB'));
  }
  return { title: 'fedlet memory: RSS (MiB)', note: 'resident set of the fedlet process; lower is better', unit: 'MiB', rows };
}

function writesPanel(r: BenchResults): Panel {
  const real = valueRow(r, 'api-writes.real.fedlet.total', 'pod on a real node', 'writes');
  const lower = r.measures['api-writes.real.lower.total'];
  if (real.bars[0]) real.bars[0].text = `fedlet ${real.bars[0].text}`;
  if (real.bars.length && lower)
    real.bars.push({ value: lower.value, tone: 'reference', text: `lower scheduler + kubelet ${fmt(lower.value)}` });
  const rows = [real, valueRow(r, 'api-writes.per-pod.burst', 'pod of a Deployment burst', 'writes')];
  rows.push(...peerRow(r, 'api-writes-per-pod-create-ready-both-clusters-all-clients', 'all clients, vs Liqo', 'writes'));
  return {
    title: 'API writes per pod, create → Ready',
    note: 'fedlet’s writes in both clusters; lower is better',
    unit: 'writes',
    rows,
  };
}

/** The panels of the figure, in reading order. */
export function benchPanels(r: BenchResults): Panel[] {
  return [latencyPanel(r), burstPanel(r), throughputPanel(r), relayCpuPanel(r), memoryPanel(r), writesPanel(r)];
}

/** docs/bench.svg for these results (the same results always give the same picture). */
export function benchSvg(r: BenchResults): string {
  return drawFigure(
    benchPanels(r),
    `${r.cores} cores · figures from docs/bench-results.json · each panel names the day(s) it was measured`,
  ).svg;
}
