// An in-memory API server for unit tests: the KubeApi surface fedlet's controllers use (get, list,
// watch, create, replace, patch, delete) over a store with resourceVersions, the errors that drive
// controller branches (404 NotFound, 409 AlreadyExists, 409 Conflict on a stale resourceVersion or a
// failed uid precondition), label and field selectors, and watches that resume from a resourceVersion.
// Simplifications: strategic-merge patches are applied as JSON merge patches (lists are replaced),
// JSON patches support only the test and add operations,
// there is no admission, defaulting or validation, and objects with finalizers are only marked deleted.
import { KubeApiError, type KubeApi, type PatchType, type RequestOptions, type WatchEvent } from '../../../src/kube/client.js';
import type { KubeObject } from '../../../src/kube/types.js';

type Obj = KubeObject & Record<string, unknown>;
interface JsonOp {
  op: string;
  path: string;
  value?: unknown;
}

interface Parsed {
  /** group/version/resource, e.g. "v1/pods" or "coordination.k8s.io/v1/leases". */
  gvr: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** Parses /api/v1[/namespaces/ns]/resource[/name[/sub]] and /apis/group/version/... */
export function parsePath(path: string): Parsed {
  const parts = path.split('?')[0]!.split('/').filter(Boolean);
  let gv: string;
  let rest: string[];
  if (parts[0] === 'api') {
    gv = parts[1]!;
    rest = parts.slice(2);
  } else if (parts[0] === 'apis') {
    gv = `${parts[1]}/${parts[2]}`;
    rest = parts.slice(3);
  } else throw new Error(`fake API server: unsupported path ${path}`);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  return { gvr: `${gv}/${rest[0]}`, namespace, name: rest[1], subresource: rest[2] };
}

const clone = <T>(v: T): T => structuredClone(v);

function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function fieldValue(obj: unknown, dotted: string): string {
  let v: unknown = obj;
  for (const k of dotted.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v === undefined || v === null ? '' : String(v);
}

/** Equality-based selectors as the API server accepts them: k=v, k==v, k!=v, k (exists), !k. */
function matches(selector: string | undefined, get: (key: string) => string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const t = term.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([^!=]+)!=(.*)$/.exec(t))) return get(m[1]!) !== m[2];
    if ((m = /^([^!=]+)==?(.*)$/.exec(t))) return get(m[1]!) === m[2];
    if (t.startsWith('!')) return get(t.slice(1)) === undefined;
    return get(t) !== undefined;
  });
}

interface Stored {
  parsed: Parsed;
  obj: Obj;
}
interface Change {
  rv: number;
  type: WatchEvent<Obj>['type'];
  parsed: Parsed;
  obj: Obj;
}

export interface RecordedCall {
  verb: string;
  path: string;
  body?: unknown;
}

export class FakeKube implements KubeApi {
  private rv = 100;
  private uid = 0;
  private readonly store = new Map<string, Stored>();
  private readonly changes: Change[] = [];
  private wakers: Array<() => void> = [];
  /** Every request, in order (watches as WATCH). */
  readonly calls: RecordedCall[] = [];
  /** Runs before each request; throw from it to make the request fail (e.g. a KubeApiError). */
  beforeRequest?: (call: RecordedCall) => void;

  constructor(private readonly now: () => number = () => Date.now()) {}

  private key(p: Parsed): string {
    return `${p.gvr}|${p.namespace ?? ''}|${p.name ?? ''}`;
  }

  private record(verb: string, path: string, body?: unknown): void {
    const call = { verb, path, body: clone(body) };
    this.calls.push(call);
    this.beforeRequest?.(call);
  }

  private error(code: number, reason: string, verb: string, path: string, message: string): KubeApiError {
    return new KubeApiError(code, reason, `${verb} ${path}: ${code} ${message}`, verb, path);
  }

  private commit(type: Change['type'], parsed: Parsed, obj: Obj): Obj {
    const rv = ++this.rv;
    obj.metadata = { ...obj.metadata, resourceVersion: String(rv) };
    const key = this.key(parsed);
    if (type === 'DELETED') this.store.delete(key);
    else this.store.set(key, { parsed, obj });
    this.changes.push({ rv, type, parsed, obj: clone(obj) });
    for (const w of this.wakers.splice(0)) w();
    return clone(obj);
  }

  /** Puts an object straight into the store (as if another client created or changed it). */
  seed<T extends KubeObject>(collectionPath: string, obj: T): T {
    const base = parsePath(collectionPath);
    const parsed: Parsed = { ...base, namespace: obj.metadata?.namespace ?? base.namespace, name: obj.metadata?.name };
    const existing = this.store.get(this.key(parsed));
    const o = clone(obj) as unknown as Obj;
    o.metadata = {
      uid: existing?.obj.metadata?.uid ?? `uid-${++this.uid}`,
      creationTimestamp: new Date(this.now()).toISOString(),
      ...o.metadata,
    };
    return this.commit(existing ? 'MODIFIED' : 'ADDED', parsed, o) as unknown as T;
  }

  /** The stored object at a path, or undefined. */
  peek<T = Obj>(path: string): T | undefined {
    const o = this.store.get(this.key(parsePath(path)))?.obj;
    return o ? (clone(o) as unknown as T) : undefined;
  }

  /** Stored objects of a collection path (all namespaces when the path has none). */
  items<T = Obj>(collectionPath: string): T[] {
    const p = parsePath(collectionPath);
    return [...this.store.values()]
      .filter((s) => s.parsed.gvr === p.gvr && (p.namespace === undefined || s.parsed.namespace === p.namespace))
      .map((s) => clone(s.obj) as unknown as T);
  }

  private selected(s: { parsed: Parsed; obj: Obj }, p: Parsed, query: RequestOptions['query']): boolean {
    if (s.parsed.gvr !== p.gvr) return false;
    if (p.namespace !== undefined && s.parsed.namespace !== p.namespace) return false;
    const labels = s.obj.metadata?.labels ?? {};
    return (
      matches(query?.labelSelector as string | undefined, (k) => labels[k]) &&
      matches(query?.fieldSelector as string | undefined, (k) => fieldValue(s.obj, k))
    );
  }

  /** Where the fake says it is (error messages name the API server). */
  readonly server = new URL('https://fake-apiserver.invalid:6443');
  /** What /readyz answers (an API server that is up says ok). */
  ready = true;

  async get<T>(path: string, opts?: RequestOptions): Promise<T> {
    this.record('GET', path);
    if (path === '/readyz' || path === '/version') {
      if (!this.ready) throw this.error(503, 'ServiceUnavailable', 'GET', path, 'not ready');
      return (path === '/version' ? { gitVersion: 'v1.36.0-fake' } : 'ok') as T;
    }
    const p = parsePath(path);
    if (p.name) {
      const s = this.store.get(this.key(p));
      if (!s) throw this.error(404, 'NotFound', 'GET', path, `${p.gvr} "${p.name}" not found`);
      return clone(s.obj) as T;
    }
    const items = [...this.store.values()].filter((s) => this.selected(s, p, opts?.query)).map((s) => clone(s.obj));
    return { metadata: { resourceVersion: String(this.rv) }, items } as T;
  }

  /** Who the fake says the caller is (SelfSubjectReview), and whether it allows every access review. */
  user = 'fake-admin';
  allowReviews = true;

  async create<T>(path: string, body: unknown): Promise<T> {
    this.record('POST', path, body);
    // Reviews are answered, not stored (as the API server does).
    if (/\/(selfsubjectreviews|selfsubjectaccessreviews|subjectaccessreviews)$/.test(path))
      return {
        ...(body as object),
        status: path.endsWith('/selfsubjectreviews') ? { userInfo: { username: this.user } } : { allowed: this.allowReviews },
      } as T;
    const obj = clone(body) as Obj;
    const base = parsePath(path);
    const parsed: Parsed = { ...base, namespace: base.namespace ?? obj.metadata?.namespace, name: obj.metadata?.name };
    if (!parsed.name) throw this.error(422, 'Invalid', 'POST', path, 'metadata.name: Required value');
    if (this.store.has(this.key(parsed)))
      throw this.error(409, 'AlreadyExists', 'POST', path, `${parsed.gvr} "${parsed.name}" already exists`);
    obj.metadata = {
      ...obj.metadata,
      ...(parsed.namespace ? { namespace: parsed.namespace } : {}),
      uid: `uid-${++this.uid}`,
      creationTimestamp: new Date(this.now()).toISOString(),
    };
    return this.commit('ADDED', parsed, obj) as T;
  }

  private existing(verb: string, path: string): { parsed: Parsed; stored: Stored } {
    const p = parsePath(path);
    const parsed = { ...p, subresource: undefined };
    const stored = this.store.get(this.key(parsed));
    if (!stored) throw this.error(404, 'NotFound', verb, path, `${p.gvr} "${p.name}" not found`);
    return { parsed, stored };
  }

  async replace<T>(path: string, body: unknown): Promise<T> {
    this.record('PUT', path, body);
    const { parsed, stored } = this.existing('PUT', path);
    const obj = clone(body) as Obj;
    const rv = obj.metadata?.resourceVersion;
    if (rv !== undefined && rv !== stored.obj.metadata?.resourceVersion)
      throw this.error(
        409,
        'Conflict',
        'PUT',
        path,
        'the object has been modified; please apply your changes to the latest version',
      );
    obj.metadata = { ...obj.metadata, uid: stored.obj.metadata?.uid, creationTimestamp: stored.obj.metadata?.creationTimestamp };
    return this.commit('MODIFIED', parsed, obj) as T;
  }

  async patch<T>(path: string, body: unknown, type: PatchType = 'merge'): Promise<T> {
    this.record('PATCH', path, body);
    if (type === 'json') {
      const { parsed, stored } = this.existing('PATCH', path);
      return this.commit('MODIFIED', parsed, this.jsonPatch(path, stored.obj, body as JsonOp[])) as T;
    }
    if (type !== 'merge' && type !== 'strategic') throw new Error(`fake API server: ${type} patches are not supported`);
    const { parsed, stored } = this.existing('PATCH', path);
    const meta = (body as KubeObject).metadata;
    if (meta?.resourceVersion !== undefined && meta.resourceVersion !== stored.obj.metadata?.resourceVersion)
      throw this.error(
        409,
        'Conflict',
        'PATCH',
        path,
        'the object has been modified; please apply your changes to the latest version',
      );
    if (meta?.uid !== undefined && meta.uid !== stored.obj.metadata?.uid)
      throw this.error(409, 'Conflict', 'PATCH', path, 'Precondition failed: UID in precondition does not match');
    return this.commit('MODIFIED', parsed, mergePatch(stored.obj, body) as Obj) as T;
  }

  /** RFC 6902 test and add, failing like the API server does (422) when a test does not hold. */
  private jsonPatch(path: string, current: Obj, ops: JsonOp[]): Obj {
    const obj = clone(current);
    for (const op of ops) {
      const keys = op.path
        .split('/')
        .slice(1)
        .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
      const last = keys.pop()!;
      let parent: unknown = obj;
      for (const k of keys) parent = parent && typeof parent === 'object' ? (parent as Record<string, unknown>)[k] : undefined;
      if (!parent || typeof parent !== 'object')
        throw this.error(422, 'Invalid', 'PATCH', path, `doc is missing path: "${op.path}"`);
      const container = parent as Record<string, unknown> & unknown[];
      if (op.op === 'test') {
        if (JSON.stringify(container[last as never]) !== JSON.stringify(op.value))
          throw this.error(422, 'Invalid', 'PATCH', path, `testing value ${op.path} failed: test failed`);
      } else if (op.op === 'add') {
        if (Array.isArray(container)) container.splice(last === '-' ? container.length : Number(last), 0, clone(op.value));
        else container[last as never] = clone(op.value) as never;
      } else throw new Error(`fake API server: JSON patch op ${op.op} is not supported`);
    }
    return obj;
  }

  async delete<T>(path: string, body?: unknown): Promise<T> {
    this.record('DELETE', path, body);
    const { parsed, stored } = this.existing('DELETE', path);
    const uid = (body as { preconditions?: { uid?: string } } | undefined)?.preconditions?.uid;
    if (uid !== undefined && uid !== stored.obj.metadata?.uid)
      throw this.error(409, 'Conflict', 'DELETE', path, 'Precondition failed: UID in precondition does not match');
    if (stored.obj.metadata?.finalizers?.length) {
      const obj = clone(stored.obj);
      obj.metadata = {
        ...obj.metadata,
        deletionTimestamp: obj.metadata?.deletionTimestamp ?? new Date(this.now()).toISOString(),
      };
      return this.commit('MODIFIED', parsed, obj) as T;
    }
    return this.commit('DELETED', parsed, clone(stored.obj)) as T;
  }

  async *watch<T>(path: string, query: RequestOptions['query'], signal: AbortSignal): AsyncGenerator<WatchEvent<T>> {
    this.record('WATCH', path);
    const p = parsePath(path);
    let from = Number(query?.resourceVersion ?? this.rv);
    while (!signal.aborted) {
      const next = this.changes.filter((c) => c.rv > from && this.selected(c, p, query));
      from = this.rv;
      for (const c of next) yield { type: c.type, object: clone(c.obj) as T };
      if (next.length) continue;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.wakers.push(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }
}
