// A small, explicit Kubernetes REST client on top of @kubernetes/client-node's KubeConfig (which owns
// credential handling). We talk raw JSON so that no field is dropped by a generated model, so that we can
// pick the patch type per call, and so that watches resume from a resourceVersion under our control.
import https from 'node:https';
import http from 'node:http';
import { loadCredentials, type ClusterCredentials } from './kubeconfig.js';
import { TokenBucket } from './rate-limit.js';
import { CacheHealth } from './cache-health.js';
import { SharedTlsContext } from './tls-context.js';
import type { WriteFence } from './fence.js';

export interface KubeStatus {
  kind?: string;
  code?: number;
  reason?: string;
  message?: string;
}

/** An error answered by the API server (or a transport failure, code 0). */
export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly method: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 404;
}
export function isForbidden(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 403;
}
export function isConflict(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 409;
}
export function isAlreadyExists(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 409 && err.reason === 'AlreadyExists';
}

export type PatchType = 'merge' | 'strategic' | 'json' | 'apply';
const patchContentTypes: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  patch?: PatchType;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** e.g. an Accept header asking for PartialObjectMetadata. */
  headers?: Record<string, string>;
  /** 'text': resolve a 2xx body as text, never parsed (e.g. Prometheus expositions through a node proxy). */
  responseType?: 'json' | 'text';
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface KubeClientOptions {
  /** Sustained mutating requests per second (reads are not limited). */
  writeQps?: number;
  writeBurst?: number;
  userAgent?: string;
  /** Consulted before every mutating request: closed, it refuses the write with NotLeaderError. */
  fence?: WriteFence;
  /**
   * Deadline of every request that sets none (watches excepted). A heartbeat client sets it so that one
   * hung request cannot hold the next renewal back (the kubelet's heartbeat client does the same).
   */
  requestTimeoutMs?: number;
}

export function buildQuery(query: RequestOptions['query']): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.append(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

/**
 * "resource" or "resource/subresource" of an API path: /api/v1/namespaces/a/pods/b/status → pods/status,
 * /apis/coordination.k8s.io/v1/namespaces/n/leases/x → leases, /api/v1/namespaces/a → namespaces.
 */
export function resourceOfPath(path: string): string {
  const segs = path.split('?')[0]!.split('/').filter(Boolean);
  let rest = segs[0] === 'api' ? segs.slice(2) : segs[0] === 'apis' ? segs.slice(3) : segs;
  if (rest[0] === 'namespaces' && rest.length > 2) rest = rest.slice(2);
  return rest.length > 2 ? `${rest[0]}/${rest[2]}` : (rest[0] ?? '');
}

export class KubeClient {
  readonly server: URL;
  private readonly agent: https.Agent | http.Agent;
  private readonly tls = new SharedTlsContext();
  private readonly writes: TokenBucket;
  private readonly userAgent: string;
  /** Requests issued, by verb (GET, POST, PUT, PATCH, DELETE, WATCH): for metrics and benchmarks. */
  readonly requestCounts = new Map<string, number>();
  /** Writes issued, by "VERB resource[/subresource]" (e.g. "PATCH pods/status"): what fedlet writes, for metrics. */
  readonly writeCounts = new Map<string, number>();
  /** Freshness of the informer caches fed by this client (for /readyz). */
  readonly caches = new CacheHealth();
  private readonly fence?: WriteFence;
  private readonly requestTimeoutMs?: number;

  constructor(
    readonly credentials: ClusterCredentials,
    opts: KubeClientOptions = {},
  ) {
    this.server = new URL(credentials.server);
    this.agent =
      this.server.protocol === 'http:'
        ? new http.Agent({ keepAlive: true, maxSockets: 64 })
        : new https.Agent({ keepAlive: true, maxSockets: 64 });
    this.writes = new TokenBucket(opts.writeQps ?? 50, opts.writeBurst ?? 100);
    this.userAgent = opts.userAgent ?? 'fedlet';
    this.fence = opts.fence;
    this.requestTimeoutMs = opts.requestTimeoutMs;
  }

  /** Request options (TLS material, auth headers) for a path on this API server. */
  async httpOptions(method: string, pathAndQuery: string): Promise<https.RequestOptions> {
    const opts: https.RequestOptions = {
      method,
      protocol: this.server.protocol,
      hostname: this.server.hostname.replace(/^\[|\]$/g, ''),
      port: this.server.port || (this.server.protocol === 'http:' ? 80 : 443),
      path: this.server.pathname.replace(/\/$/, '') + pathAndQuery,
      headers: { 'User-Agent': this.userAgent, Accept: 'application/json' },
    };
    await this.credentials.apply(opts);
    if (this.server.protocol === 'https:') this.tls.applyTo(opts);
    return opts;
  }

  private count(verb: string): void {
    this.requestCounts.set(verb, (this.requestCounts.get(verb) ?? 0) + 1);
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    if (method !== 'GET') {
      this.fence?.check(method, path, opts.query);
      await this.writes.take(opts.signal);
      // The rate limiter may have held us past the fence's deadline: ask again.
      this.fence?.check(method, path, opts.query);
    }
    this.count(method);
    if (method !== 'GET') {
      const k = `${method} ${resourceOfPath(path)}`;
      this.writeCounts.set(k, (this.writeCounts.get(k) ?? 0) + 1);
    }
    const pathAndQuery = path + buildQuery(opts.query);
    const ro = await this.httpOptions(method, pathAndQuery);
    ro.agent = this.agent;
    if (opts.headers) ro.headers = { ...ro.headers, ...opts.headers };
    let payload: string | undefined;
    if (opts.body !== undefined) {
      payload = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      ro.headers = {
        ...ro.headers,
        'Content-Type': opts.patch ? patchContentTypes[opts.patch] : 'application/json',
        'Content-Length': Buffer.byteLength(payload),
      };
    }
    const mod = this.server.protocol === 'http:' ? http : https;
    return new Promise<T>((resolve, reject) => {
      const req = mod.request(ro, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(transportError(e, method, path)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) {
            if (opts.responseType === 'text') return resolve(text as T);
            if (!text) return resolve(undefined as T);
            try {
              resolve(JSON.parse(text) as T);
            } catch {
              resolve(text as T);
            }
            return;
          }
          let status: KubeStatus = {};
          try {
            status = JSON.parse(text) as KubeStatus;
          } catch {
            status = { message: text.trim() };
          }
          reject(
            new KubeApiError(
              code,
              status.reason ?? res.statusMessage ?? '',
              `${method} ${path}: ${code} ${status.message ?? res.statusMessage ?? ''}`.trim(),
              method,
              path,
            ),
          );
        });
      });
      req.on('error', (e) => reject(transportError(e, method, path)));
      const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
      if (timeoutMs) req.setTimeout(timeoutMs, () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
      const signal = opts.signal;
      if (signal) {
        const onAbort = () => req.destroy(new Error('aborted'));
        if (signal.aborted) onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        req.on('close', () => signal.removeEventListener('abort', onAbort));
      }
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  get<T>(path: string, opts?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, opts);
  }
  getText(path: string, opts?: RequestOptions): Promise<string> {
    // Accept anything: a Prometheus exposition handler answers 406 to a JSON-only Accept header.
    return this.request<string>('GET', path, {
      ...opts,
      responseType: 'text',
      headers: { Accept: 'text/plain;version=0.0.4;q=0.9, */*;q=0.1', ...opts?.headers },
    });
  }
  create<T>(path: string, body: unknown, opts?: RequestOptions): Promise<T> {
    return this.request<T>('POST', path, { ...opts, body });
  }
  replace<T>(path: string, body: unknown, opts?: RequestOptions): Promise<T> {
    return this.request<T>('PUT', path, { ...opts, body });
  }
  patch<T>(path: string, body: unknown, patch: PatchType = 'merge', opts?: RequestOptions): Promise<T> {
    return this.request<T>('PATCH', path, { ...opts, body, patch });
  }
  delete<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<T> {
    return this.request<T>('DELETE', path, { ...opts, body });
  }

  /**
   * Opens one watch stream and yields its events until the server closes it, the signal aborts, or an
   * error occurs (thrown). Resumption is the caller's job (see Informer).
   */
  async *watch<T>(
    path: string,
    query: RequestOptions['query'],
    signal: AbortSignal,
    headers?: Record<string, string>,
    /** Called once the server accepted the watch (the stream is established). */
    onConnected?: () => void,
  ): AsyncGenerator<WatchEvent<T>> {
    this.count('WATCH');
    const ro = await this.httpOptions('GET', path + buildQuery({ ...query, watch: 'true' }));
    if (headers) ro.headers = { ...ro.headers, ...headers };
    const mod = this.server.protocol === 'http:' ? http : https;
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = mod.request(ro, resolve);
      req.on('error', (e) => reject(transportError(e, 'WATCH', path)));
      const onAbort = () => req.destroy(new Error('aborted'));
      if (signal.aborted) onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('close', () => signal.removeEventListener('abort', onAbort));
      req.end();
    });
    const code = res.statusCode ?? 0;
    if (code !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      let status: KubeStatus = {};
      try {
        status = JSON.parse(Buffer.concat(chunks).toString('utf8')) as KubeStatus;
      } catch {
        /* not JSON */
      }
      throw new KubeApiError(code, status.reason ?? '', `WATCH ${path}: ${code} ${status.message ?? ''}`, 'WATCH', path);
    }
    onConnected?.();
    let buf = '';
    try {
      for await (const chunk of res) {
        buf += (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line) yield JSON.parse(line) as WatchEvent<T>;
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      throw transportError(e as Error, 'WATCH', path);
    } finally {
      res.destroy();
    }
  }
}

/**
 * The client surface fedlet's controllers and caches use. KubeClient implements it; unit tests hand in
 * an in-memory fake (test/unit/support/fake-kube.ts).
 */
export type KubeApi = Pick<KubeClient, 'get' | 'create' | 'replace' | 'patch' | 'delete' | 'watch'> &
  Partial<Pick<KubeClient, 'caches' | 'server'>>;

function transportError(e: Error, method: string, path: string): KubeApiError {
  if (e instanceof KubeApiError) return e;
  return new KubeApiError(0, 'TransportError', `${method} ${path}: ${e.message}`, method, path);
}

export function loadKubeConfig(file: string | undefined): ClusterCredentials {
  return loadCredentials(file);
}
