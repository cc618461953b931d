// Exponential backoff, bounded by `max`, with jitter (each wait is between half and all of its step) so
// that many clients retrying after one outage do not arrive together.
import { realClock, sleepOn, type Clock } from './clock.js';

export class Backoff {
  attempts = 0;
  constructor(
    private readonly base: number,
    private readonly max: number,
  ) {}

  next(): number {
    const ceiling = Math.min(this.max, this.base * 2 ** this.attempts);
    this.attempts++;
    return Math.floor(ceiling / 2 + (Math.random() * ceiling) / 2);
  }
  reset(): void {
    this.attempts = 0;
  }
  wait(signal?: AbortSignal, clock: Clock = realClock): Promise<void> {
    return sleepOn(clock, this.next(), signal);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return sleepOn(realClock, ms, signal);
}
