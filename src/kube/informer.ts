// List+watch cache for one resource collection. Unlike client-node 1.4's informer it never gives up:
// any error (transport, 5xx, 410 Gone) leads to a resumed watch or a fresh list after a backoff, and a
// relist reconciles the cache (objects that vanished meanwhile are reported as deleted). Each informer
// reports to its client's CacheHealth whether its cache is fresh (listed, and its watch connected).
import type { Logger } from 'pino';
import { KubeApiError, type KubeApi, type WatchEvent } from './client.js';
import { Backoff } from '../util/backoff.js';
import type { KubeObject } from './types.js';
import type { CacheHealth } from './cache-health.js';

interface List<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

export interface InformerHandlers<T> {
  onAdd?(obj: T): void;
  onUpdate?(obj: T, old: T): void;
  onDelete?(obj: T): void;
}

export interface InformerOptions<R, T> {
  client: KubeApi;
  /** Collection path, e.g. /api/v1/pods or /api/v1/namespaces/x/configmaps. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Shrinks each object before it is cached (memory at 10k+ objects). */
  transform?: (obj: R) => T;
  /**
   * What the cache keeps of an object once the handlers have seen it (default: all of it), for caches
   * read only as `old` by onUpdate. get(), list() and onDelete then see the retained form.
   */
  retain?: (obj: T) => T;
  log: Logger;
  pageSize?: number;
  /** List and watch only object metadata (PartialObjectMetadata): no data crosses the wire. */
  metadataOnly?: boolean;
}

/**
 * Accept headers for metadata-only reads. A list must ask for the List form; a watch must ask for the
 * item form (given the List form, the server streams nothing at all).
 */
export const METADATA_ONLY_LIST = { Accept: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json' };
const METADATA_ONLY_WATCH = { Accept: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json' };

export function objectKey(obj: KubeObject): string {
  const m = obj.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name}` : (m.name ?? '');
}

let informerSeq = 0;

export class Informer<R extends KubeObject, T extends KubeObject = R> {
  private readonly healthId: string;
  /** Undefined for test doubles of KubeClient that track no cache health. */
  private readonly caches: CacheHealth | undefined;
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly abort = new AbortController();
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  private running?: Promise<void>;

  constructor(private readonly opts: InformerOptions<R, T>) {
    const sel = [opts.labelSelector, opts.fieldSelector].filter(Boolean).join(',');
    this.caches = opts.client.caches;
    const host = opts.client.server?.host;
    this.healthId = `${host ?? ''}${opts.path}${sel ? `?${sel}` : ''} #${++informerSeq}`;
  }

  addHandlers(h: InformerHandlers<T>): void {
    this.handlers.push(h);
  }
  get(key: string): T | undefined {
    return this.cache.get(key);
  }
  list(): T[] {
    return [...this.cache.values()];
  }
  get size(): number {
    return this.cache.size;
  }
  get hasSynced(): boolean {
    return this.synced;
  }

  start(): void {
    this.running ??= this.run();
  }
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running?.catch(() => undefined);
    this.caches?.forget(this.healthId);
  }

  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(new Error('aborted while waiting for cache sync'));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  private transform(obj: R): T {
    return this.opts.transform ? this.opts.transform(obj) : (obj as unknown as T);
  }

  private retain(obj: T): T {
    return this.opts.retain ? this.opts.retain(obj) : obj;
  }

  private stale(why: string): void {
    this.caches?.report(this.healthId, false, why);
  }

  private async run(): Promise<void> {
    // Capped at 10 s so that caches are fresh again within seconds after an API server returns.
    const backoff = new Backoff(500, 10_000);
    const signal = this.abort.signal;
    let rv: string | undefined;
    // 410s in a row with nothing received between them: the first relists at once, the next ones wait.
    let goneInARow = 0;
    this.stale('not yet listed');
    while (!signal.aborted) {
      try {
        if (rv === undefined) {
          if (this.synced) this.stale('relisting');
          rv = await this.relist();
        }
        const opened = Date.now();
        let events = 0;
        for await (const ev of this.opts.client.watch<R>(
          this.opts.path,
          {
            resourceVersion: rv,
            allowWatchBookmarks: true,
            labelSelector: this.opts.labelSelector,
            fieldSelector: this.opts.fieldSelector,
            timeoutSeconds: 300 + Math.floor(Math.random() * 300),
          },
          signal,
          this.opts.metadataOnly ? METADATA_ONLY_WATCH : undefined,
          () => this.caches?.report(this.healthId, true),
        )) {
          rv = this.apply(ev) ?? rv;
          events++;
          goneInARow = 0;
          backoff.reset();
        }
        // A server that is shutting down may accept watches and end them at once: do not spin.
        if (!events && Date.now() - opened < 1000) await backoff.wait(signal);
      } catch (e) {
        if (signal.aborted) break;
        const err = e as Error;
        if (err instanceof KubeApiError && (err.code === 410 || err.reason === 'Expired' || err.reason === 'Gone')) {
          rv = undefined; // too old: list again
          // A server whose watch refuses the version its own list just gave (a lagging watch cache)
          // would otherwise be listed and watched again in a tight loop, and hard.
          if (++goneInARow > 1) {
            this.opts.log.debug(
              { path: this.opts.path, times: goneInARow },
              'watch expired again right after a list; backing off',
            );
            await backoff.wait(signal);
          }
          continue;
        }
        this.stale(`watch broken (${err.message.slice(0, 120)}); retrying`);
        this.opts.log.debug({ err: err.message, path: this.opts.path }, 'list/watch failed; retrying');
        // A watch that keeps failing may point at a resourceVersion the server no longer has.
        if (backoff.attempts >= 3) rv = undefined;
        await backoff.wait(signal);
      }
    }
  }

  /** Applies one watch event; returns the new resourceVersion, if any. */
  private apply(ev: WatchEvent<R>): string | undefined {
    if (ev.type === 'ERROR') {
      const st = ev.object as unknown as { code?: number; reason?: string; message?: string };
      throw new KubeApiError(st.code ?? 500, st.reason ?? '', st.message ?? 'watch error', 'WATCH', this.opts.path);
    }
    const rv = ev.object.metadata?.resourceVersion;
    if (ev.type === 'BOOKMARK') return rv;
    const obj = this.transform(ev.object);
    const key = objectKey(obj);
    const old = this.cache.get(key);
    if (ev.type === 'DELETED') {
      this.cache.delete(key);
      for (const h of this.handlers) h.onDelete?.(old ?? obj);
    } else {
      for (const h of this.handlers) {
        if (old) h.onUpdate?.(obj, old);
        else h.onAdd?.(obj);
      }
      this.cache.set(key, this.retain(obj));
    }
    return rv;
  }

  private async relist(): Promise<string> {
    const seen = new Set<string>();
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.opts.client.get<List<R>>(this.opts.path, {
        query: {
          labelSelector: this.opts.labelSelector,
          fieldSelector: this.opts.fieldSelector,
          limit: this.opts.pageSize ?? 500,
          continue: cont,
        },
        signal: this.abort.signal,
        headers: this.opts.metadataOnly ? METADATA_ONLY_LIST : undefined,
      });
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?.continue || undefined;
      for (const raw of page.items ?? []) {
        const obj = this.transform(raw);
        const key = objectKey(obj);
        seen.add(key);
        const old = this.cache.get(key);
        for (const h of this.handlers) {
          if (!old) h.onAdd?.(obj);
          else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) h.onUpdate?.(obj, old);
        }
        this.cache.set(key, this.retain(obj));
      }
    } while (cont);
    for (const [key, old] of this.cache) {
      if (seen.has(key)) continue;
      this.cache.delete(key);
      for (const h of this.handlers) h.onDelete?.(old);
    }
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    return rv;
  }
}

/**
 * An Informer `retain` for caches of Events: what is kept of an Event once it was handled (mirrored): its resourceVersion (a relist then
 * skips it) and its count (an update that raises it is mirrored again). The rest — message, reason,
 * names — was about half of the 5 MiB that 10,000 pods' lower events held. Shared by
 * every Events cache (pods', claims').
 */
export function retainCount<E extends { metadata?: { resourceVersion?: string }; count?: number }>(e: E): E {
  return { metadata: { resourceVersion: e.metadata?.resourceVersion }, count: e.count } as E;
}
