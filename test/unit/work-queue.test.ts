// The work queue on a fake clock: coalescing of repeated keys, a key added while it is processed runs
// once more afterwards, failures back off exponentially per key, success forgets the history.
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { WorkQueue, type SyncOutcome } from '../../src/kube/work-queue.js';
import { FakeClock, settle } from './support/fake-clock.js';

const log = pino({ level: 'silent' });
const queues: WorkQueue[] = [];
afterEach(async () => {
  for (const q of queues.splice(0)) await q.stop();
});

function harness(handler: (key: string, n: number) => Promise<SyncOutcome>, concurrency = 1) {
  const clock = new FakeClock();
  const runs: Array<{ key: string; at: number }> = [];
  const q = new WorkQueue({
    concurrency,
    maxSize: 3,
    log,
    clock,
    handler: (key) => {
      runs.push({ key, at: clock.now() });
      return handler(key, runs.filter((r) => r.key === key).length);
    },
  });
  queues.push(q);
  return { clock, q, runs };
}

describe('work queue', () => {
  it('coalesces a key added many times while it waits', async () => {
    const h = harness(async () => undefined);
    for (let i = 0; i < 5; i++) h.q.add('a');
    h.q.add('b');
    expect(h.q.length).toBe(2);
    h.q.start();
    await settle();
    expect(h.runs.map((r) => r.key)).toEqual(['a', 'b']);
  });

  it('runs a key once more when it is added while being processed (never twice at once)', async () => {
    let release!: () => void;
    let active = 0;
    let maxActive = 0;
    const h = harness(async (_k, n) => {
      active++;
      maxActive = Math.max(maxActive, active);
      if (n === 1) await new Promise<void>((r) => (release = r));
      active--;
    }, 4);
    h.q.add('a');
    h.q.start();
    await settle();
    h.q.add('a');
    h.q.add('a');
    await settle();
    expect(h.runs).toHaveLength(1);
    release();
    await settle();
    expect(h.runs).toHaveLength(2);
    expect(maxActive).toBe(1);
  });

  it('backs off exponentially per key on failure, and forgets the history after a success', async () => {
    const h = harness(async (_k, n) => {
      if (n <= 3) throw new Error(`attempt ${n} failed`);
    });
    h.q.add('a');
    h.q.start();
    await settle();
    await h.clock.advance(10_000);
    expect(h.runs.map((r) => r.at - h.runs[0]!.at)).toEqual([0, 200, 600, 1400]);
    // A later failure starts again from the base delay.
    const h2 = harness(async (_k, n) => {
      if (n === 1 || n === 3) throw new Error('x');
    });
    h2.q.add('b');
    h2.q.start();
    await settle();
    await h2.clock.advance(200); // retry after the first failure succeeds
    h2.q.add('b'); // fails again
    await settle();
    await h2.clock.advance(199);
    expect(h2.runs).toHaveLength(3);
    await h2.clock.advance(1);
    expect(h2.runs).toHaveLength(4);
  });

  it("a handler's 'retry' backs off like a failure", async () => {
    const h = harness(async (_k, n) => (n <= 2 ? 'retry' : undefined));
    h.q.add('a');
    h.q.start();
    await settle();
    await h.clock.advance(10_000);
    expect(h.runs.map((r) => r.at - h.runs[0]!.at)).toEqual([0, 200, 600]);
  });

  it('addAfter delays a key on the clock; a second addAfter for the same key does not stack', async () => {
    const h = harness(async () => undefined);
    h.q.start();
    h.q.addAfter('a', 1000);
    h.q.addAfter('a', 10);
    await h.clock.advance(999);
    expect(h.runs).toHaveLength(0);
    await h.clock.advance(1);
    expect(h.runs).toHaveLength(1);
  });

  it('addWithin brings a later timer of the key forward, and leaves a sooner one alone', async () => {
    const h = harness(async () => undefined);
    h.q.start();
    h.q.addAfter('a', 30_000);
    h.q.addWithin('a', 1000);
    h.q.addWithin('a', 5000);
    await h.clock.advance(1000);
    expect(h.runs).toHaveLength(1);
    await h.clock.advance(60_000);
    expect(h.runs).toHaveLength(1);
  });

  it('is bounded: keys beyond maxSize are refused', () => {
    const h = harness(async () => undefined);
    for (const k of ['a', 'b', 'c', 'd']) h.q.add(k);
    expect(h.q.length).toBe(3);
  });
});
