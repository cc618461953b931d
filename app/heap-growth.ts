// How much garbage the V8 heap may hold. After a full collection V8 lets the old generation grow by a
// factor it picks from the collector's speed (up to 4x) before it collects again, so right after a burst or
// a relist of thousands of pods most of fedlet's heap is garbage still resident (at 10,000 pods: 202 MiB
// used against ~77 MiB live; docs/benchmarks.md, "Memory"). V8's --heap-growing-percent fixes the factor;
// it is read at every collection, so, unlike the young generation's size, it can be set from inside the
// process once it runs (Node refuses it in NODE_OPTIONS), and every way of starting fedlet gets it.
import v8 from 'node:v8';
import { ConfigError } from '../src/config.js';

/** V8's own factor is at most 4x: a larger percentage would not bound anything. */
const MAX_PERCENT = 300;

/** Applies `percent` (0: V8's own factor, nothing changed). */
export function applyHeapGrowth(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0 || percent > MAX_PERCENT)
    throw new ConfigError(
      `heapGrowthPercent ${percent}: want a whole number from 0 (V8's own growth factor) to ${MAX_PERCENT} (4x, V8's largest)`,
    );
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
