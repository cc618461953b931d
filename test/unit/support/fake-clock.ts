// A clock that moves only when a test says so. Timers due at or before the new time fire in order of
// their due time (ties in order of creation); a timer set by a firing timer fires too if it is due.
import type { Clock, Timer } from '../../../src/util/clock.js';

interface Pending {
  due: number;
  seq: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private pending: Pending[] = [];

  constructor(start: number | string = '2026-01-01T00:00:00Z') {
    this.t = typeof start === 'number' ? start : Date.parse(start);
  }

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): Timer {
    const p: Pending = { due: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.pending.push(p);
    return { cancel: () => void (this.pending = this.pending.filter((x) => x !== p)) };
  }

  /** Timers not yet fired. */
  get timers(): number {
    return this.pending.length;
  }

  /** Moves time forward by ms, firing due timers and letting the promises they start settle. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const next = this.pending.filter((p) => p.due <= end).sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!next) break;
      this.pending = this.pending.filter((p) => p !== next);
      this.t = next.due;
      next.fn();
    }
    this.t = end;
    await settle();
  }
}

/** Lets pending promise callbacks (and the I/O-free work they chain) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}
