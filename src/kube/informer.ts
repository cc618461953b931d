// List+watch cache for one resource collection. Unlike client-node 1.4's informer it never gives up:
// any error (transport, 5xx, 410 Gone) leads to a resumed watch or a fresh list after a backoff, and a
// relist reconciles the cache (objects that vanished meanwhile are reported as deleted).
import type { Logger } from 'pino';
import { KubeApiError, type KubeClient, type WatchEvent } from './client.js';
import { Backoff } from '../util/backoff.js';

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  creationTimestamp?: string;
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
  finalizers?: string[];
  managedFields?: unknown[];
}
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}
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
  client: KubeClient;
  /** Collection path, e.g. /api/v1/pods or /api/v1/namespaces/x/configmaps. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Shrinks each object before it is cached (memory at 10k+ objects). */
  transform?: (obj: R) => T;
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
export const METADATA_ONLY_WATCH = { Accept: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json' };

export function objectKey(obj: KubeObject): string {
  const m = obj.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name}` : (m.name ?? '');
}

export class Informer<R extends KubeObject, T extends KubeObject = R> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly abort = new AbortController();
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  private running?: Promise<void>;

  constructor(private readonly opts: InformerOptions<R, T>) {}

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

  private async run(): Promise<void> {
    const backoff = new Backoff(500, 30_000);
    const signal = this.abort.signal;
    let rv: string | undefined;
    while (!signal.aborted) {
      try {
        if (rv === undefined) rv = await this.relist();
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
        )) {
          rv = this.apply(ev) ?? rv;
          backoff.reset();
        }
      } catch (e) {
        if (signal.aborted) break;
        const err = e as Error;
        if (err instanceof KubeApiError && (err.code === 410 || err.reason === 'Expired' || err.reason === 'Gone')) {
          rv = undefined; // too old: list again
          continue;
        }
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
      this.cache.set(key, obj);
      for (const h of this.handlers) {
        if (old) h.onUpdate?.(obj, old);
        else h.onAdd?.(obj);
      }
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
        this.cache.set(key, obj);
        for (const h of this.handlers) {
          if (!old) h.onAdd?.(obj);
          else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) h.onUpdate?.(obj, old);
        }
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
