// `npm run chaos`: the long chaos soak on a sandbox of its own. Faults are drawn at random from the
// seed for FEDLET_CHAOS_MINUTES (default 10) while the workload churns; then the invariants must hold.
// Writes the tally (faults by kind, churn, violations, the fedlets' RSS curve) to docs/chaos-results.json.
// Env: FEDLET_CHAOS_SEED (replay), FEDLET_CHAOS_MINUTES, FEDLET_CHAOS_DIR (keep the sandbox's logs there),
// FEDLET_CHAOS_OUT (results file).
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, sandboxDown, sandboxUp } from '../../sandbox/sandbox.js';
import { forbiddenInLogs } from '../e2e/global-setup.js';
import { Chaos } from '../e2e/chaos.js';

const log = (m: string) => process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

async function main(): Promise<number> {
  const seed = process.env.FEDLET_CHAOS_SEED ? Number(process.env.FEDLET_CHAOS_SEED) : Date.now() % 2 ** 31;
  const minutes = Number(process.env.FEDLET_CHAOS_MINUTES ?? 10);
  if (!(minutes > 0)) throw new Error(`FEDLET_CHAOS_MINUTES must be a positive number, not ${process.env.FEDLET_CHAOS_MINUTES}`);
  const dir = process.env.FEDLET_CHAOS_DIR ?? mkdtempSync(path.join(os.tmpdir(), 'fedlet-chaos-'));
  const out = process.env.FEDLET_CHAOS_OUT ?? path.join(repoRoot(), 'docs', 'chaos-results.json');
  log(`seed ${seed} (FEDLET_CHAOS_SEED=${seed} replays), ${minutes} min, sandbox in ${dir}`);
  const state = await sandboxUp({ dir, lowers: 2, progress: log });
  try {
    const chaos = new Chaos({
      state,
      seed,
      namespace: 'chaos-soak',
      durationMs: minutes * 60_000,
      downMs: [3000, 20_000],
      stopMs: 25_000,
      log,
    });
    const tally = await chaos.run();
    const forbidden = forbiddenInLogs(dir);
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, node: process.version },
      minutes,
      ...tally,
      forbiddenLogLines: forbidden.length,
    };
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    log(
      `done: ${tally.rounds} rounds, faults ${JSON.stringify(tally.faults)}, violations ${tally.violations.length}, ` +
        `RSS start ${JSON.stringify(tally.rssStartMiB)} end ${JSON.stringify(tally.rssEndMiB)} MiB; wrote ${out}`,
    );
    for (const v of tally.violations) log(`VIOLATION ${v.invariant}: ${v.detail}`);
    return tally.violations.length || forbidden.length ? 1 : 0;
  } finally {
    if (!process.env.FEDLET_CHAOS_KEEP) await sandboxDown(dir);
  }
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    log(`failed: ${e.stack ?? e.message}`);
    process.exit(2);
  },
);
