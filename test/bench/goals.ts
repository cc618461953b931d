// The bench's goals (issue 25 and earlier), in one table: the run records each goal's text beside its
// measure in docs/bench-results.json, and the plot (test/bench/figure.ts) draws the goal line and colours
// a bar by whether it is met. A goal changed here changes both at the next run.

/**
 * What a goal bounds: the measure's own value, its ratio to the direct figure (`stem.direct`), or what it
 * adds to the direct figure.
 */
export type GoalOf = 'value' | 'ratio' | 'added';

export interface Goal {
  of: GoalOf;
  /** `max`: at most the limit (time, memory, writes, cost); `min`: at least it (throughput). */
  bound: 'max' | 'min';
  limit: number;
  /** The unit of the limit where it is absolute (`value` and `added`). */
  unit?: string;
}

/** Goals by key pattern; the first that matches a key is its goal. */
const GOALS: Array<[RegExp, Goal]> = [
  [/^pod-start\.p50\.via$/, { of: 'added', bound: 'max', limit: 100, unit: 'ms' }],
  [/^burst\.\d+\.via$/, { of: 'ratio', bound: 'max', limit: 1.25 }],
  [/^surge\.\d+\.via$/, { of: 'ratio', bound: 'max', limit: 1.25 }],
  [/^throughput\.[^.]+\.via$/, { of: 'ratio', bound: 'min', limit: 0.9 }],
  [/^relay-cost\./, { of: 'value', bound: 'max', limit: 1.2, unit: '×' }],
  [/^rss\.idle$/, { of: 'value', bound: 'max', limit: 45, unit: 'MiB' }],
  [/^rss\.1000-pods$/, { of: 'value', bound: 'max', limit: 100, unit: 'MiB' }],
  [/^rss\.10000-pods$/, { of: 'value', bound: 'max', limit: 150, unit: 'MiB' }],
  [/^api-writes\.(per-pod\.burst|real\.fedlet\.total)$/, { of: 'value', bound: 'max', limit: 5, unit: 'writes' }],
  [/^restart\.writes-besides-heartbeats$/, { of: 'value', bound: 'max', limit: 0, unit: 'writes' }],
  [/^extender\.p99$/, { of: 'value', bound: 'max', limit: 5, unit: 'ms' }],
  // A kubelet's budget: its Lease renewed every 10 s and its Node read every 10 s (status written only on
  // change or every 5 min) — about 12 upper requests a minute.
  [/^pools\.\d+\.upper-requests-per-node$/, { of: 'value', bound: 'max', limit: 12, unit: 'requests/min' }],
];

/** fedlet's CPU per MiB may be at most this many times the lower API server's (Go) for the same bytes. */
export const RELAY_COST_GOAL = 1.2;

export function goalFor(key: string): Goal | undefined {
  return GOALS.find(([re]) => re.test(key))?.[1];
}

/** The goal as people read it, e.g. `≤ 1.25× direct`, `≥ 0.9× direct`, `≤ direct + 100 ms`, `≤ 45 MiB`. */
export function goalText(g: Goal): string {
  const op = g.bound === 'max' ? '≤' : '≥';
  if (g.of === 'ratio') return `${op} ${g.limit}× direct`;
  if (g.of === 'added') return `${op} direct + ${g.limit} ${g.unit ?? ''}`.trimEnd();
  // Writes and cost ratios read best bare (`≤ 5`, `≤ 1.2`), as the tables have always printed them.
  return g.unit && g.unit !== 'writes' && g.unit !== '×' ? `${op} ${g.limit} ${g.unit}` : `${op} ${g.limit}`;
}

/** Whether `value` meets the goal (`direct` is needed for `ratio` and `added` goals). */
export function goalMet(g: Goal, value: number, direct?: number): boolean {
  const x = g.of === 'value' ? value : direct === undefined ? NaN : g.of === 'ratio' ? value / direct : value - direct;
  return g.bound === 'max' ? x <= g.limit : x >= g.limit;
}

/** The goal as a bound on the measure itself, in its own unit (where the goal line is drawn). */
export function goalLine(g: Goal, direct?: number): number {
  if (g.of === 'value') return g.limit;
  if (direct === undefined) return NaN;
  return g.of === 'ratio' ? g.limit * direct : direct + g.limit;
}
