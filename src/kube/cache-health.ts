// Which of a client's informer caches are stale right now: not yet listed, relisting, or with a broken
// watch waiting for its backoff. /readyz reports not-ready while any is; each informer reports itself.
export class CacheHealth {
  private readonly stale = new Map<string, string>();

  report(id: string, fresh: boolean, why = 'stale'): void {
    if (fresh) this.stale.delete(id);
    else this.stale.set(id, why);
  }

  forget(id: string): void {
    this.stale.delete(id);
  }

  /** One line per stale cache: "<collection>: <why>". */
  staleCaches(): string[] {
    return [...this.stale].map(([id, why]) => `${id}: ${why}`);
  }

  /** Resolves once no cache is stale, or after timeoutMs (whichever first); true if all are fresh. */
  async waitFresh(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.stale.size && Date.now() < deadline && !signal?.aborted) await new Promise((r) => setTimeout(r, 100));
    return this.stale.size === 0;
  }
}
