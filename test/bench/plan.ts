// What a bench run does: its parts, in the order given, and its sizes. Pure (read from the environment
// passed in), so a unit test holds the plan: unknown parts are refused by name instead of being skipped
// silently, any order is accepted (each part sets up what it needs and cleans up what it made unless it
// is the last one), and BENCH_SMOKE=1 shrinks every size so the whole bench can run in about a minute.

/** Every part, in the default order. */
export const PARTS = [
  'extender',
  'pods',
  'pools',
  'real',
  'writes',
  'storage',
  'burst',
  'surge',
  'streams',
  'restart',
  'large',
] as const;
/**
 * Parts only run when asked for: `peers` (BENCH_PEERS=liqo) builds and runs another project's binaries;
 * `memory` restarts fedlet under each of BENCH_MEMORY_SETTINGS (test/bench/memory-settings.ts).
 */
export const OPTIONAL_PARTS = ['peers', 'memory'] as const;
export type Part = (typeof PARTS)[number] | (typeof OPTIONAL_PARTS)[number];
const KNOWN: readonly string[] = [...PARTS, ...OPTIONAL_PARTS];

export interface BenchSizes {
  /** Single pods each way (part pods). */
  single: number;
  /** Pods of the burst Deployment each way. */
  burst: number;
  /** Bare pods of each surge each way (part surge: one surge per size, created by the bench, no kcm). */
  surge: number[];
  /** Creates the surge keeps in flight at once. */
  surgeConcurrency: number;
  /**
   * Client QPS of every kube-scheduler of the sandbox, upper and lower alike (burst twice that; 0: their
   * default, 50): at 50 binds per second the schedulers, not fedlet, would bound a surge.
   */
  schedulerQps: number;
  /** Managed pods at which RSS is measured (part large). */
  large: number;
  /** MiB per stream measurement. */
  streamMiB: number;
  /** Runs of each stream kind each way (part streams): CPU per MiB and throughput are their medians. */
  streamRepeats: number;
  /** Pods each way on the real node (part real), and pods measured by part writes. */
  real: number;
  storage: number;
  /** Pods kept across the fedlet restart (part restart). */
  restart: number;
  /** Window after the restart in which writes are counted. */
  restartWindowMs: number;
  pools: number;
  poolsWindowMs: number;
  /** Quiet time before the pools window. */
  poolsSettleMs: number;
}

const DEFAULTS: BenchSizes = {
  single: 20,
  burst: 1000,
  surge: [1000, 5000],
  surgeConcurrency: 32,
  schedulerQps: 1000,
  large: 10_000,
  streamMiB: 64,
  streamRepeats: 3,
  real: 10,
  storage: 10,
  restart: 100,
  restartWindowMs: 60_000,
  pools: 50,
  poolsWindowMs: 60_000,
  poolsSettleMs: 10_000,
};

/** BENCH_SMOKE=1: the smallest sizes that still exercise every part (no figure of it means anything). */
const SMOKE: BenchSizes = {
  single: 2,
  burst: 4,
  surge: [3],
  surgeConcurrency: 2,
  schedulerQps: 1000,
  large: 8,
  streamMiB: 1,
  streamRepeats: 1,
  real: 1,
  storage: 1,
  restart: 2,
  restartWindowMs: 2_000,
  pools: 2,
  poolsWindowMs: 1_000,
  poolsSettleMs: 500,
};

type NumericSize = Exclude<keyof BenchSizes, 'surge'>;
const ENV: Record<NumericSize, string> = {
  single: 'BENCH_SINGLE',
  burst: 'BENCH_BURST',
  surgeConcurrency: 'BENCH_SURGE_CONCURRENCY',
  schedulerQps: 'BENCH_SCHEDULER_QPS',
  large: 'BENCH_LARGE',
  streamMiB: 'BENCH_STREAM_MB',
  streamRepeats: 'BENCH_STREAM_REPEATS',
  real: 'BENCH_REAL',
  storage: 'BENCH_STORAGE',
  restart: 'BENCH_RESTART',
  restartWindowMs: 'BENCH_RESTART_WINDOW_MS',
  pools: 'BENCH_POOLS',
  poolsWindowMs: 'BENCH_POOLS_WINDOW_MS',
  poolsSettleMs: 'BENCH_POOLS_SETTLE_MS',
};

export interface BenchPlan {
  parts: Part[];
  sizes: BenchSizes;
  smoke: boolean;
}

/** The plan for an environment: BENCH_ONLY (comma-separated parts, run in that order, repeats too), sizes, BENCH_SMOKE. */
export function benchPlan(env: Record<string, string | undefined>): BenchPlan {
  const smoke = env.BENCH_SMOKE === '1';
  const base = smoke ? SMOKE : DEFAULTS;
  const sizes = { ...base };
  for (const k of Object.keys(ENV) as NumericSize[]) {
    const raw = env[ENV[k]];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${ENV[k]}=${raw}: not a number ≥ 0`);
    sizes[k] = n;
  }
  // BENCH_SURGE: comma-separated sizes, one surge each (e.g. 1000,5000).
  const surge = env.BENCH_SURGE;
  if (surge !== undefined && surge !== '') {
    sizes.surge = surge.split(',').map((x) => Number(x.trim()));
    if (sizes.surge.some((n) => !Number.isInteger(n) || n < 1))
      throw new Error(`BENCH_SURGE=${surge}: not sizes ≥ 1, comma-separated`);
  }
  const asked = (env.BENCH_ONLY ?? PARTS.join(','))
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const unknown = asked.filter((p) => !KNOWN.includes(p));
  if (unknown.length) throw new Error(`BENCH_ONLY: no part ${unknown.join(', ')} (parts: ${KNOWN.join(', ')})`);
  // Repeats are kept: a part may run twice (the smoke test runs one again after the fedlet restart).
  const parts = asked as Part[];
  return { parts, sizes, smoke };
}

/** Lower kwok nodes of 1,100 pod slots each: room for every pod the plan's parts can hold at once. */
export function kwokNodeCount(s: BenchSizes): number {
  const surge = Math.max(0, ...s.surge);
  return Math.max(2, Math.ceil((s.large + s.burst + surge + s.restart + 2 * s.single + 2 * s.storage) / 1000) + 1);
}
