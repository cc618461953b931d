// The write fence: the one gate every mutating request to either cluster passes (KubeClient.request).
// It is open only while this replica holds the leader lease, and it closes on our own monotonic clock
// the moment the lease's renew deadline passes — before the elector has even noticed. A process that
// resumes after SIGSTOP therefore cannot send a single write on leadership it no longer has; another
// replica takes the lease only after the (longer) lease duration has passed on its clock.

/** A write refused because this replica is not (or no longer) the leader. Controllers retry after regaining. */
export class NotLeaderError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly why: string,
  ) {
    super(`${method} ${path}: refused: ${why}`);
    this.name = 'NotLeaderError';
  }
}

export function isNotLeader(e: unknown): e is NotLeaderError {
  return e instanceof NotLeaderError;
}

/**
 * POSTs that persist nothing (token and access reviews) and server-side dry runs pass the fence: a
 * standby may still authenticate kubelet API callers and validate objects.
 */
function persistsNothing(method: string, path: string, query?: Record<string, unknown>): boolean {
  if (query && query.dryRun !== undefined) return true;
  return method === 'POST' && /^\/apis\/(authentication|authorization)\.k8s\.io\//.test(path);
}

export class WriteFence {
  private openFlag: boolean;
  private validUntil: number;
  private reason = 'this replica has not yet acquired the leader lease';
  private readonly openWaiters = new Set<() => void>();
  private readonly closeListeners: Array<(reason: string) => void> = [];

  /** `now`: a monotonic clock in ms (it keeps running while the process is stopped). */
  constructor(
    private readonly now: () => number = () => performance.now(),
    initiallyOpen = false,
  ) {
    this.openFlag = initiallyOpen;
    this.validUntil = initiallyOpen ? Infinity : 0;
  }

  /** A fence for a process without leader election: always open. */
  static alwaysOpen(): WriteFence {
    return new WriteFence(undefined, true);
  }

  get isOpen(): boolean {
    if (!this.openFlag) return false;
    if (this.now() < this.validUntil) return true;
    this.close('the leader lease was not renewed within its renew deadline');
    return false;
  }

  get closedReason(): string | undefined {
    return this.isOpen ? undefined : this.reason;
  }

  /** Lets writes through until `until` (monotonic ms): the renew deadline of the lease just acquired. */
  open(until: number): void {
    this.validUntil = until;
    if (this.openFlag) return;
    this.openFlag = true;
    for (const w of [...this.openWaiters]) w();
  }

  /** Moves the deadline on after a renewal; a closed fence stays closed (reopening needs a resync). */
  extend(until: number): void {
    if (this.openFlag) this.validUntil = Math.max(this.validUntil, until);
  }

  close(reason: string): void {
    if (!this.openFlag) return;
    this.openFlag = false;
    this.reason = reason;
    for (const l of this.closeListeners) l(reason);
  }

  onClose(listener: (reason: string) => void): void {
    this.closeListeners.push(listener);
  }

  /** Throws NotLeaderError unless the request may be sent now. */
  check(method: string, path: string, query?: Record<string, unknown>): void {
    if (method === 'GET' || this.isOpen || persistsNothing(method, path, query)) return;
    throw new NotLeaderError(method, path, this.reason);
  }

  /** Resolves when the fence is (or becomes) open, or the signal aborts. */
  whenOpen(signal: AbortSignal): Promise<void> {
    if (this.isOpen || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.openWaiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.openWaiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
