// The Service reflector against an in-memory API (list, watch, create, replace, delete, get): what it
// writes for each upper change, and what it never touches.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeApiError, type KubeClient, type WatchEvent } from '../../src/kube/client.js';
import type { InformerHandlers } from '../../src/kube/informer.js';
import type { KubeObject, Service } from '../../src/kube/types.js';
import { Reflection } from '../../provider/exposition/reflection.js';
import { EventRecorder } from '../../src/events.js';

const log = pino({ level: 'silent' });

/** A namespaced-objects store behind the few KubeClient calls the reflector and informers make. */
class FakeApi {
  readonly objects = new Map<string, KubeObject>(); // "ns/name"
  readonly writes: string[] = [];
  private rv = 1;
  private watchers: Array<(e: WatchEvent<KubeObject>) => void> = [];

  constructor(private readonly resource: string) {}

  private parse(path: string): { ns?: string; name?: string } {
    const m = new RegExp(`/namespaces/([^/]+)/${this.resource}(?:/([^/]+))?$`).exec(path);
    return m ? { ns: m[1], name: m[2] } : {};
  }
  private notify(type: WatchEvent<KubeObject>['type'], obj: KubeObject): void {
    for (const w of this.watchers) w({ type, object: structuredClone(obj) });
  }
  put(obj: KubeObject, type: 'ADDED' | 'MODIFIED' = 'ADDED'): void {
    obj.metadata!.resourceVersion = String(++this.rv);
    obj.metadata!.uid ??= `uid-${this.rv}`;
    this.objects.set(`${obj.metadata!.namespace}/${obj.metadata!.name}`, obj);
    this.notify(type, obj);
  }
  remove(key: string): void {
    const obj = this.objects.get(key);
    if (!obj) return;
    this.objects.delete(key);
    this.notify('DELETED', obj);
  }

  client(): KubeClient {
    const matches = (o: KubeObject, selector: unknown) => {
      if (typeof selector !== 'string' || !selector) return true;
      const [k, v] = selector.split('=');
      return o.metadata?.labels?.[k!] === v;
    };
    const watchers = {
      add: (w: (e: WatchEvent<KubeObject>) => void) => this.watchers.push(w),
      remove: (w: (e: WatchEvent<KubeObject>) => void) => (this.watchers = this.watchers.filter((x) => x !== w)),
    };
    const resource = this.resource;
    const fake = {
      get: async (path: string, opts?: { query?: Record<string, unknown> }) => {
        if (!path.endsWith(this.resource) && !path.includes(`/${this.resource}/`)) return { metadata: {}, items: [] };
        const { ns, name } = this.parse(path);
        if (name) {
          const o = this.objects.get(`${ns}/${name}`);
          if (!o) throw new KubeApiError(404, 'NotFound', 'not found', 'GET', path);
          return structuredClone(o);
        }
        const items = [...this.objects.values()].filter((o) => matches(o, opts?.query?.labelSelector));
        return { metadata: { resourceVersion: String(this.rv) }, items: structuredClone(items) };
      },
      async *watch(path: string, query: Record<string, unknown>, signal: AbortSignal) {
        const queue: Array<WatchEvent<KubeObject>> = [];
        let wake: (() => void) | undefined;
        const w = (e: WatchEvent<KubeObject>) => {
          if (!path.endsWith(resource)) return;
          if (!matches(e.object, query.labelSelector)) return;
          queue.push(e);
          wake?.();
        };
        watchers.add(w);
        try {
          while (!signal.aborted) {
            const e = queue.shift();
            if (e) yield e;
            else
              await new Promise<void>((r) => {
                wake = r;
                signal.addEventListener('abort', () => r(), { once: true });
              });
          }
        } finally {
          watchers.remove(w);
        }
      },
      create: async (path: string, body: KubeObject) => {
        const { ns } = this.parse(path);
        this.writes.push(`create ${ns}/${body.metadata?.name}`);
        if (this.objects.has(`${ns}/${body.metadata?.name}`))
          throw new KubeApiError(409, 'AlreadyExists', 'exists', 'POST', path);
        this.put(structuredClone(body));
        return body;
      },
      replace: async (path: string, body: KubeObject) => {
        const { ns, name } = this.parse(path);
        this.writes.push(`update ${ns}/${name}`);
        const cur = this.objects.get(`${ns}/${name}`);
        if (cur?.metadata?.resourceVersion !== body.metadata?.resourceVersion)
          throw new KubeApiError(409, 'Conflict', 'conflict', 'PUT', path);
        const next = structuredClone(body);
        next.metadata!.uid = cur?.metadata?.uid;
        this.put(next, 'MODIFIED');
        return next;
      },
      delete: async (path: string) => {
        const { ns, name } = this.parse(path);
        this.writes.push(`delete ${ns}/${name}`);
        if (!this.objects.has(`${ns}/${name}`)) throw new KubeApiError(404, 'NotFound', 'not found', 'DELETE', path);
        this.remove(`${ns}/${name}`);
      },
      patch: async () => undefined,
    };
    return fake as unknown as KubeClient;
  }
}

/** Upper events land here (the recorder creates Events through the upper client). */
class FakeUpper extends FakeApi {
  readonly events: Array<{ reason: string; message: string; name: string }> = [];
  override client(): KubeClient {
    const c = super.client() as unknown as Record<string, unknown>;
    const create = c.create as (p: string, b: KubeObject) => Promise<unknown>;
    c.create = async (
      path: string,
      body: KubeObject & { reason?: string; message?: string; involvedObject?: { name: string } },
    ) => {
      if (path.endsWith('/events')) {
        this.events.push({ reason: body.reason!, message: body.message!, name: body.involvedObject!.name });
        return body;
      }
      return create(path, body);
    };
    return c as unknown as KubeClient;
  }
}

/** The lower pod cache; a consumer registered later is told about the pods already there (a fresh informer's list). */
class FakePods {
  readonly hasSynced = true;
  private handlers: Array<InformerHandlers<KubeObject>> = [];
  private readonly pods = new Map<string, KubeObject>();
  addHandlers(h: InformerHandlers<KubeObject>): void {
    this.handlers.push(h);
    for (const p of this.pods.values()) h.onAdd?.(p);
  }
  waitForSync(): Promise<void> {
    return Promise.resolve();
  }
  add(upperNs: string, name: string): void {
    this.pods.set(`${upperNs}/${name}`, pod(upperNs, name));
    for (const h of this.handlers) h.onAdd?.(pod(upperNs, name));
  }
  remove(upperNs: string, name: string): void {
    this.pods.delete(`${upperNs}/${name}`);
    for (const h of this.handlers) h.onDelete?.(pod(upperNs, name));
  }
}
const pod = (upperNs: string, name: string): KubeObject => ({
  metadata: { namespace: upperNs, name, annotations: { 'fedlet.io/upper-namespace': upperNs } },
});

const svc = (ns: string, name: string, spec: Service['spec'] = {}): Service => ({
  metadata: { namespace: ns, name, labels: { app: name } },
  spec: {
    type: 'ClusterIP',
    selector: { app: name },
    ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }],
    clusterIP: '10.96.0.1',
    clusterIPs: ['10.96.0.1'],
    sessionAffinity: 'None',
    ipFamilies: ['IPv4'],
    ipFamilyPolicy: 'SingleStack',
    internalTrafficPolicy: 'Cluster',
    ...spec,
  },
});

const settle = async (r: Reflection) => {
  for (let i = 0; i < 50; i++) {
    await new Promise((res) => setTimeout(res, 5));
    if (r.services.queue.length === 0 && r.services.queue.inFlight === 0) {
      await new Promise((res) => setTimeout(res, 20));
      if (r.services.queue.length === 0 && r.services.queue.inFlight === 0) return;
    }
  }
};

let running: Reflection | undefined;
let abort: AbortController | undefined;
afterEach(async () => {
  abort?.abort();
  await running?.stop();
});

function setup(template = '{{namespace}}') {
  const upper = new FakeUpper('services');
  const lower = new FakeApi('services');
  const pods = new FakePods();
  const r = new Reflection({
    upper: upper.client(),
    lower: lower.client(),
    nodeName: 'fedlet-eu',
    clusterName: 'eu',
    namespaceTemplate: template,
    lowerNamespaceOf: (ns) => template.replace('{{namespace}}', ns).replace('{{cluster}}', 'eu'),
    lowerPods: pods,
    serviceTypes: 'clusterip',
    serviceEndpoints: 'local',
    events: new EventRecorder({ client: upper.client(), component: 'fedlet', host: 'fedlet-eu', log }),
    log,
  });
  return { upper, lower, pods, r };
}

describe('Service reflector', () => {
  it('writes once per change: create, update, nothing when unchanged, delete; restart writes nothing', async () => {
    const { upper, lower, pods, r } = setup();
    running = r;
    abort = new AbortController();
    upper.put(svc('shop', 'web'));
    upper.put(svc('other', 'db')); // no pod of ours in "other"
    pods.add('shop', 'web-1');
    r.start(abort.signal);
    await settle(r);
    expect(lower.writes).toEqual(['create shop/web']);
    const copy = lower.objects.get('shop/web') as Service;
    expect(copy.metadata.labels).toMatchObject({ 'fedlet.io/origin': 'fedlet-eu', app: 'web' });
    expect(copy.spec).not.toHaveProperty('clusterIP');

    // A status-only or unrelated change upstream: no write.
    const u = upper.objects.get('shop/web') as Service;
    upper.put({ ...u, status: { loadBalancer: {} } } as Service, 'MODIFIED');
    await settle(r);
    expect(lower.writes).toHaveLength(1);

    // A port change: one update.
    upper.put(svc('shop', 'web', { ports: [{ name: 'http', protocol: 'TCP', port: 81, targetPort: 'http' }] }), 'MODIFIED');
    await settle(r);
    expect(lower.writes).toEqual(['create shop/web', 'update shop/web']);
    expect((lower.objects.get('shop/web') as Service).spec?.ports).toEqual([
      { name: 'http', protocol: 'TCP', port: 81, targetPort: 'http' },
    ]);

    // A second pod in the namespace changes nothing; the last pod leaving deletes the copy.
    pods.add('shop', 'web-2');
    pods.remove('shop', 'web-1');
    await settle(r);
    expect(lower.writes).toHaveLength(2);
    pods.remove('shop', 'web-2');
    await settle(r);
    expect(lower.writes.at(-1)).toBe('delete shop/web');
    expect(lower.objects.has('shop/web')).toBe(false);

    // Back again, then a restart of the reflector: no write at all.
    pods.add('shop', 'web-3');
    await settle(r);
    const before = lower.writes.length;
    abort.abort();
    await r.stop();
    const again = new Reflection({
      upper: upper.client(),
      lower: lower.client(),
      nodeName: 'fedlet-eu',
      clusterName: 'eu',
      namespaceTemplate: '{{namespace}}',
      lowerNamespaceOf: (ns) => ns,
      lowerPods: pods,
      serviceTypes: 'clusterip',
      serviceEndpoints: 'local',
      events: new EventRecorder({ client: upper.client(), component: 'fedlet', host: 'fedlet-eu', log }),
      log,
    });
    running = again;
    abort = new AbortController();
    again.start(abort.signal);
    await settle(again);
    expect(lower.writes.length).toBe(before);

    // The upper Service goes: the copy goes.
    upper.remove('shop/web');
    await settle(again);
    expect(lower.writes.at(-1)).toBe('delete shop/web');
  });

  it('never touches a lower Service it does not own, and says so on the upper Service', async () => {
    const { upper, lower, pods, r } = setup();
    running = r;
    abort = new AbortController();
    lower.put({
      metadata: { namespace: 'shop', name: 'web', labels: { team: 'lower' } },
      spec: { type: 'ClusterIP' },
    } as Service);
    upper.put(svc('shop', 'web'));
    pods.add('shop', 'web-1');
    r.start(abort.signal);
    await settle(r);
    const theirs = lower.objects.get('shop/web') as Service;
    expect(theirs.metadata.labels).toEqual({ team: 'lower' });
    expect(lower.writes).toEqual([]); // not even a failing create
    expect(upper.events).toEqual([expect.objectContaining({ reason: 'LowerObjectConflict', name: 'web' })]);
    expect(upper.events[0]!.message).toMatch(/shop\/web that fedlet does not own/);
    // Removing the last pod does not delete what fedlet does not own.
    pods.remove('shop', 'web-1');
    await settle(r);
    expect(lower.objects.get('shop/web')).toBeDefined();
  });

  it('with a renaming namespace template, copies into the mapped namespace and warns on the Service', async () => {
    const { upper, lower, pods, r } = setup('{{namespace}}-{{cluster}}');
    running = r;
    abort = new AbortController();
    upper.put(svc('shop', 'web'));
    pods.add('shop', 'web-1');
    r.start(abort.signal);
    await settle(r);
    expect(lower.writes).toEqual(['create shop-eu/web']);
    expect(upper.events).toEqual([expect.objectContaining({ reason: 'NamespaceRemapped', name: 'web' })]);
    expect(upper.events[0]!.message).toMatch(/web\.shop-eu/);
  });

  it('recreates when the Service turns headless (clusterIP is immutable)', async () => {
    const { upper, lower, pods, r } = setup();
    running = r;
    abort = new AbortController();
    upper.put(svc('shop', 'web'));
    pods.add('shop', 'web-1');
    r.start(abort.signal);
    await settle(r);
    upper.put(svc('shop', 'web', { clusterIP: 'None', clusterIPs: ['None'] }), 'MODIFIED');
    await settle(r);
    expect(lower.writes).toEqual(['create shop/web', 'delete shop/web', 'create shop/web']);
    expect((lower.objects.get('shop/web') as Service).spec?.clusterIP).toBe('None');
  });
});
