// Exponential backoff with full jitter, bounded by `max`.
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
  wait(signal?: AbortSignal): Promise<void> {
    return sleep(this.next(), signal);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', done);
      clearTimeout(t);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
