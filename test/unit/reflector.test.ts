// The Service reflector against an in-memory API (list, watch, create, replace, delete, get): what it
// writes for each upper change, and what it never touches.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../src/kube/client.js';
import { FakeKube, parsePath } from './support/fake-kube.js';
import type { InformerHandlers } from '../../src/kube/informer.js';
import type { KubeObject, Service } from '../../src/kube/types.js';
import { Reflection } from '../../provider/exposition/reflection.js';
import { EventRecorder } from '../../src/events.js';

const log = pino({ level: 'silent' });

/**
 * One cluster's Services on the shared in-memory API server (support/fake-kube.ts), with the views these
 * tests read: the stored objects by "ns/name", the writes the reflector made, and the Events it recorded.
 */
class Cluster {
  readonly kube = new FakeKube();

  /** Another client creates or changes a Service (not counted as the reflector's write). */
  put(obj: KubeObject, _type?: 'ADDED' | 'MODIFIED'): void {
    this.kube.seed(`/api/v1/namespaces/${obj.metadata!.namespace}/services`, obj);
  }
  /** Another client deletes a Service. */
  remove(key: string): void {
    const [ns, name] = key.split('/');
    const n = this.kube.calls.length;
    void this.kube.delete(`/api/v1/namespaces/${ns}/services/${name}`);
    this.kube.calls.splice(n, 1);
  }
  get objects(): Map<string, KubeObject> {
    return new Map(
      this.kube.items<KubeObject>('/api/v1/services').map((o) => [`${o.metadata!.namespace}/${o.metadata!.name}`, o]),
    );
  }
  /** The Service writes made through the client, as "create|update|delete ns/name". */
  get writes(): string[] {
    const verbs: Record<string, string> = { POST: 'create', PUT: 'update', DELETE: 'delete' };
    return this.kube.calls
      .filter((c) => verbs[c.verb] && /\/services(\/|$)/.test(c.path))
      .map((c) => {
        const p = parsePath(c.path);
        return `${verbs[c.verb]} ${p.namespace}/${p.name ?? (c.body as KubeObject).metadata?.name}`;
      });
  }
  get events(): Array<{ reason: string; message: string; name: string }> {
    return this.kube
      .items<{ reason: string; message: string; involvedObject: { name: string } }>('/api/v1/events')
      .map((e) => ({ reason: e.reason, message: e.message, name: e.involvedObject.name }));
  }
  client(): KubeClient {
    return this.kube as unknown as KubeClient;
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
  const upper = new Cluster();
  const lower = new Cluster();
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
