// Chaos in the e2e suite (bounded, seeded): every fault kind once, in an order drawn from the seed,
// under a churning workload; then the federation must be quiet and consistent (invariants.ts).
// Replay a failure with FEDLET_CHAOS_SEED=<seed printed below>. The long soak is `npm run chaos`.
import { afterAll, describe, expect, it } from 'vitest';
import { Chaos, FAULT_KINDS, prng } from './chaos.js';
import { sandbox } from './framework/kubectl.js';

const s = sandbox();
const seed = process.env.FEDLET_CHAOS_SEED ? Number(process.env.FEDLET_CHAOS_SEED) : Date.now() % 2 ** 31;
const t0 = Date.now();
const log = (m: string) => process.stderr.write(`[chaos +${Math.round((Date.now() - t0) / 1000)}s] ${m}\n`);

/** Every kind once, shuffled by the seed. */
function plan(): Array<(typeof FAULT_KINDS)[number]> {
  const r = prng(seed ^ 0x5eed);
  const kinds = [...FAULT_KINDS];
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  return kinds;
}

const chaos = new Chaos({
  state: s,
  seed,
  namespace: 'chaos-e2e',
  faults: plan(),
  downMs: [3000, 8000],
  stopMs: 20_000, // longer than the 15 s leader lease
  log,
});

afterAll(async () => {
  await chaos.cleanup();
}, 180_000);

describe.skipIf(s.external)('chaos', () => {
  it(
    'under churn and one fault of every kind, nothing is lost, duplicated or left behind',
    async () => {
      log(`seed ${seed} (FEDLET_CHAOS_SEED=${seed} replays); faults: ${plan().join(', ')}`);
      const tally = await chaos.run();
      log(`tally: ${JSON.stringify({ ...tally, rss: undefined })}`);
      expect(tally.violations).toEqual([]);
      expect(tally.rounds).toBe(FAULT_KINDS.length);
      for (const k of FAULT_KINDS) expect(tally.faults[k]).toBe(1);
      // The SIGSTOP and the upper outage both outlast the renew deadline: leadership was lost and regained
      // without the process exiting (healing checks the same pids still run and lead).
      expect(Object.values(tally.leadershipLosses).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2);
    },
    15 * 60_000,
  );
});
