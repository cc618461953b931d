// Many keyed deadlines behind one timer (the token refresh of every pod). A Timeout per key cost its
// object and, because every delay differs by some milliseconds, a timer list of its own in Node's timer
// queue: at 10,000 pods that was 10,050 Timeouts and 7,300 lists, about 1.7 MiB of heap, for callbacks
// that run once an hour or so. Here a Map holds the due times and one timer waits for the earliest.

export class Deadlines {
  private readonly due = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  /** The due time the timer is armed for (Infinity: not armed). */
  private armedFor = Infinity;

  /**
   * `onDue(key)` runs `lateMs` after the key's due time (a refresh a second late is never too early for
   * clocks that differ a little); `now` is the clock the due times are read against.
   */
  constructor(
    private readonly onDue: (key: string) => void,
    private readonly now: () => number = Date.now,
    private readonly lateMs = 1000,
  ) {}

  /** Sets (or with undefined, clears) the key's due time, replacing any earlier one. */
  set(key: string, at: number | undefined): void {
    if (at === undefined) {
      this.due.delete(key);
      return;
    }
    this.due.set(key, at);
    if (at < this.armedFor) this.arm(at);
  }

  delete(key: string): void {
    // The timer stays armed: when it fires with nothing due it waits for the next due time instead.
    this.due.delete(key);
  }

  keys(): IterableIterator<string> {
    return this.due.keys();
  }

  get size(): number {
    return this.due.size;
  }

  clear(): void {
    this.due.clear();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private arm(at: number): void {
    clearTimeout(this.timer);
    this.armedFor = at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - this.now()) + this.lateMs);
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.now();
    const ready: string[] = [];
    let next = Infinity;
    for (const [key, at] of this.due) {
      if (at + this.lateMs <= now) ready.push(key);
      else if (at < next) next = at;
    }
    for (const key of ready) this.due.delete(key);
    if (next !== Infinity) this.arm(next);
    for (const key of ready) this.onDue(key);
  }
}
