// The bench stays runnable: every part of `npm run bench` runs with the smallest sizes (BENCH_SMOKE=1),
// in the reverse of the default order and then `large` again (after the fedlet restart, as in the default
// order, where it once read the replaced process), in a sandbox of its own, and merges a measure of each
// part into a results file. No figure is judged here (timing goals live in the bench); a part that depends on what
// another left behind, or reads a process another replaced, fails this test.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../sandbox/sandbox.js';
import { PARTS } from '../bench/plan.js';

/** A key each part records (its own prefix). */
const KEY_OF: Record<(typeof PARTS)[number], RegExp> = {
  extender: /^extender\.p99$/,
  pods: /^pod-start\.p50\.via$/,
  pools: /^pools\.rss-per-extra-pool$/,
  real: /^$/, // without a real node it records nothing (the smoke run starts none)
  writes: /^api-writes\.kwok\.fedlet\.total$/,
  storage: /^claim-pod-start\.p50\.via$/,
  burst: /^api-writes\.per-pod\.burst$/,
  surge: /^surge\.\d+\.via$/,
  streams: /^throughput\.exec\.via$/,
  restart: /^restart\.writes-besides-heartbeats$/,
  large: /^rss\.\d+-pods$/,
};

describe('bench smoke', () => {
  it(
    'runs every part, in reverse order, then large after the restart, and records a measure of each',
    { timeout: 900_000 },
    async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'fedlet-bench-smoke-'));
      const results = path.join(dir, 'results.json');
      const order = [...PARTS].reverse().concat('large');
      const out: string[] = [];
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, [path.join(repoRoot(), 'dist', 'test', 'bench', 'run.js')], {
          cwd: dir,
          env: {
            ...process.env,
            BENCH_SMOKE: '1',
            BENCH_ONLY: order.join(','),
            BENCH_RESULTS: results,
            BENCH_DIR: path.join(dir, 'sandbox'),
            BENCH_REAL_NODE: '0',
          },
        });
        child.stdout.on('data', (d: Buffer) => out.push(d.toString()));
        child.stderr.on('data', (d: Buffer) => out.push(d.toString()));
        child.on('exit', resolve);
      });
      expect(code, out.join('').slice(-4000)).toBe(0);
      // How long each part took, for whoever trims this test's time next.
      for (const m of out.join('').matchAll(/\[bench\] (part \S+ done in \d+ s)/g))
        process.stderr.write(`[bench-smoke] ${m[1]}\n`);
      // Every run draws its figure beside its results.
      expect(readFileSync(path.join(dir, 'results.svg'), 'utf8')).toContain('<svg');
      const keys = Object.keys((JSON.parse(readFileSync(results, 'utf8')) as { measures: Record<string, unknown> }).measures);
      for (const part of order)
        if (part !== 'real')
          expect(
            keys.some((k) => KEY_OF[part].test(k)),
            part,
          ).toBe(true);
    },
  );
});
