// The memory settings fedlet's process starts with, from its environment: glibc malloc and Node read them
// only at process start (nothing inside Node.js can set them later), so the container image sets them
// (Dockerfile ENV), the sandbox and the bench start fedlet with them, and docs/operations.md asks operators
// who run `node dist/app/cli.js` themselves to export them. Why (docs/benchmarks.md, "Memory"):
// - glibc: at 10,000 pods it held 65 of its 89 MB as free memory, 49 MB in the main heap between live
//   chunks and 16 MB in four per-thread arenas (V8's and libuv's worker threads) that were almost empty.
//   Two arenas instead of eight per core, and large blocks (≥ 128 KiB: response bodies) mmapped and
//   returned on free instead of carved from the heap where they pin its top, cut what is held.
// - V8's young generation: it grows to 32 MiB (two 16 MiB semi-spaces) under a relist or a burst and stays
//   resident; 4 MiB semi-spaces (8 MiB young generation) cut RSS at 1,000 pods after a restart from
//   98–115 to 84–86 MiB, for 0.1–0.2 s more CPU in the relist. The old generation's growth is the
//   heapGrowthPercent option (app/heap-growth.ts): V8 reads that one at every collection.
export const MEMORY_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '131072',
  NODE_OPTIONS: '--max-semi-space-size=4',
};

/**
 * MEMORY_ENV, except where the environment given already sets a variable (an operator's choice wins);
 * NODE_OPTIONS given without a semi-space size keeps its options and gains ours.
 */
export function memoryEnv(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(MEMORY_ENV).map(([k, v]) => {
      const given = env[k];
      if (given === undefined) return [k, v];
      if (k === 'NODE_OPTIONS' && !given.includes('--max-semi-space-size')) return [k, `${given} ${v}`.trim()];
      return [k, given];
    }),
  );
}
