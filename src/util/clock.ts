// Time as a dependency: controllers take a Clock (default: the real one) so that unit tests can drive
// deadlines, backoff and periodic work with a fake clock instead of waiting.

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs fn once after ms. `unref`: the timer alone does not keep the process alive. */
  setTimer(fn: () => void, ms: number, opts?: { unref?: boolean }): Timer;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms, opts) {
    const t = setTimeout(fn, ms);
    if (opts?.unref) t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

/** Resolves after ms on `clock`, or at once when the signal aborts. */
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = clock.setTimer(done, ms);
    function done() {
      signal?.removeEventListener('abort', done);
      t.cancel();
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
