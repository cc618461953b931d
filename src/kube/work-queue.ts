// A keyed work queue in the style of client-go's: a key is queued at most once; a key being processed
// that is added again runs once more afterwards; failures retry with per-key exponential backoff.
// Bounded: adding beyond maxSize is refused loudly (it means far more objects than configured for).
import type { Logger } from 'pino';
import { realClock, type Clock, type Timer } from '../util/clock.js';
import { isNotLeader } from './fence.js';

/**
 * What a handler reports besides success: 'retry' asks for the key again with backoff, like a thrown
 * error, for a known condition that is not a failure of the sync itself (nothing is logged).
 */
export type SyncOutcome = void | 'retry';

export interface WorkQueueOptions {
  concurrency: number;
  maxSize: number;
  handler: (key: string) => Promise<SyncOutcome>;
  log: Logger;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called with each finished sync's duration and outcome (metrics). */
  observe?: (ms: number, ok: boolean) => void;
  clock?: Clock;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly again = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, Timer>();
  /** When each key's timer fires (clock ms). */
  private readonly due = new Map<string, number>();
  private waiters: Array<() => void> = [];
  private stopped = false;
  private workers: Promise<void>[] = [];
  private readonly clock: Clock;

  constructor(private readonly o: WorkQueueOptions) {
    this.clock = o.clock ?? realClock;
  }

  /** Keys being processed right now. */
  get inFlight(): number {
    return this.processing.size;
  }

  get length(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.stopped) return;
    if (this.processing.has(key)) {
      this.again.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    if (this.queue.length >= this.o.maxSize) {
      this.o.log.error({ key, maxSize: this.o.maxSize }, 'work queue full; key will be picked up by the next resync');
      return;
    }
    this.queued.add(key);
    this.queue.push(key);
    this.waiters.shift()?.();
  }

  addAfter(key: string, ms: number): void {
    if (this.stopped || this.timers.has(key)) return;
    const t = this.clock.setTimer(
      () => {
        this.timers.delete(key);
        this.due.delete(key);
        this.add(key);
      },
      ms,
      { unref: true },
    );
    this.timers.set(key, t);
    this.due.set(key, this.clock.now() + ms);
  }

  /**
   * Makes sure the key is processed within `ms`: as addAfter, but a timer of the key due later is brought
   * forward (a sync that deferred a write must come back in time whatever else was scheduled; every
   * sync is level-triggered and schedules again what it still needs).
   */
  addWithin(key: string, ms: number): void {
    if (this.stopped) return;
    if ((this.due.get(key) ?? Infinity) <= this.clock.now() + ms) return;
    this.timers.get(key)?.cancel();
    this.timers.delete(key);
    this.due.delete(key);
    this.addAfter(key, ms);
  }

  /** Drops the retry history of a key (after a success). */
  private forget(key: string): void {
    this.failures.delete(key);
  }

  start(): void {
    for (let i = 0; i < this.o.concurrency; i++) this.workers.push(this.worker());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    this.due.clear();
    for (const w of this.waiters.splice(0)) w();
    await Promise.all(this.workers);
  }

  /** Schedules the key again after its next backoff step; returns the delay. */
  private retry(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const delay = Math.min(this.o.maxDelayMs ?? 60_000, (this.o.baseDelayMs ?? 200) * 2 ** (n - 1));
    this.addAfter(key, delay);
    return delay;
  }

  private async next(): Promise<string | undefined> {
    while (!this.stopped) {
      const key = this.queue.shift();
      if (key !== undefined) {
        this.queued.delete(key);
        return key;
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
    return undefined;
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.next();
      if (key === undefined) return;
      this.processing.add(key);
      const started = this.clock.now();
      let ok = true;
      try {
        if ((await this.o.handler(key)) === 'retry') {
          ok = false;
          this.retry(key);
        } else this.forget(key);
      } catch (e) {
        ok = false;
        if (isNotLeader(e)) {
          // Not leading: no retry now; regaining the lease resyncs every key.
          this.o.log.debug({ key, err: (e as Error).message }, 'sync parked: not the leader');
          continue;
        }
        const delay = this.retry(key);
        this.o.log.warn({ key, retryInMs: delay, err: (e as Error).message }, 'sync failed; will retry');
      } finally {
        this.processing.delete(key);
        this.o.observe?.(this.clock.now() - started, ok);
        if (this.again.delete(key)) this.add(key);
      }
    }
  }
}
