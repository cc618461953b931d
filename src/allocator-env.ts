// The C allocator settings fedlet runs with: glibc malloc reads them from the environment at process start
// (nothing in Node.js can set them later), so the container image sets them (Dockerfile ENV), the sandbox and
// the bench start fedlet with them, and docs/operations.md asks operators who run `node dist/app/cli.js`
// themselves to export them. Why (docs/benchmarks.md, "Memory outside the V8 heap"): at 10,000 pods glibc
// held 65 of its 89 MB as free memory, 49 MB of it in the main heap between live chunks and 16 MB in four
// per-thread arenas (V8's and libuv's worker threads) that were almost empty. Two arenas instead of eight
// per core, and large blocks (≥ 128 KiB: response bodies) mmapped and returned on free instead of carved
// from the heap where they pin its top, cut what is held.
export const ALLOCATOR_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '131072',
};

/** ALLOCATOR_ENV, except where the environment given already sets a variable (an operator's choice wins). */
export function allocatorEnv(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(ALLOCATOR_ENV).map(([k, v]) => [k, env[k] ?? v]));
}
