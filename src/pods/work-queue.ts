// A keyed work queue in the style of client-go's: a key is queued at most once; a key being processed
// that is added again runs once more afterwards; failures retry with per-key exponential backoff.
// Bounded: adding beyond maxSize is refused loudly (it means far more objects than configured for).
import type { Logger } from 'pino';
import { isNotLeader } from '../kube/fence.js';

export interface WorkQueueOptions {
  concurrency: number;
  maxSize: number;
  handler: (key: string) => Promise<void>;
  log: Logger;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called with each finished sync's duration and outcome (metrics). */
  observe?: (ms: number, ok: boolean) => void;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly again = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private waiters: Array<() => void> = [];
  private stopped = false;
  private workers: Promise<void>[] = [];

  constructor(private readonly o: WorkQueueOptions) {}

  get length(): number {
    return this.queue.length;
  }
  get inFlight(): number {
    return this.processing.size;
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
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    t.unref();
    this.timers.set(key, t);
  }

  /** Drops the retry history of a key (after a success). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  start(): void {
    for (let i = 0; i < this.o.concurrency; i++) this.workers.push(this.worker());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const w of this.waiters.splice(0)) w();
    await Promise.all(this.workers);
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
      const started = Date.now();
      let ok = true;
      try {
        await this.o.handler(key);
        this.forget(key);
      } catch (e) {
        ok = false;
        if (isNotLeader(e)) {
          // Not leading: no retry now; regaining the lease resyncs every key.
          this.o.log.debug({ key, err: (e as Error).message }, 'sync parked: not the leader');
          continue;
        }
        const n = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, n);
        const delay = Math.min(this.o.maxDelayMs ?? 60_000, (this.o.baseDelayMs ?? 200) * 2 ** (n - 1));
        this.o.log.warn({ key, attempt: n, retryInMs: delay, err: (e as Error).message }, 'sync failed; will retry');
        this.addAfter(key, delay);
      } finally {
        this.processing.delete(key);
        this.o.observe?.(Date.now() - started, ok);
        if (this.again.delete(key)) this.add(key);
      }
    }
  }
}
