// Issue #14 (control plane): upper Services are reflected into the lower cluster of every virtual node
// that runs pods of their namespace — created, updated, deleted, never touching what fedlet does not
// own, and not rewritten by a fedlet restart. Driven through the real kubectl against real clusters.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveState, startFedlet, stopFedlet, waitForNodesReady } from '../../sandbox/sandbox.js';
import { createNamespace } from './framework/namespaces.js';
import { eventually, kubectl, kubectlJson, kubectlRaw, sandbox, type List } from './framework/kubectl.js';
import type { CoreEvent } from '../../src/kube/types.js';

const s = sandbox();
const upper = s.upperKubeconfig;
const [lower1, lower2] = s.lowerKubeconfigs as [string, string];
const [f1, f2] = s.fedlets as [(typeof s.fedlets)[0], (typeof s.fedlets)[0]];
const ns = 'svc-e2e';
const ns2 = `${ns}-${f2.cluster}`; // the second fedlet maps namespaces with {{namespace}}-{{cluster}}
const empty = 'svc-e2e-empty';

interface SvcPort {
  name?: string;
  protocol?: string;
  port: number;
  targetPort?: number | string;
  nodePort?: number;
}
interface SvcJson {
  metadata: {
    name: string;
    uid: string;
    resourceVersion: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    selector?: Record<string, string>;
    ports?: SvcPort[];
    externalName?: string;
    sessionAffinity?: string;
    publishNotReadyAddresses?: boolean;
    ipFamilies?: string[];
    ipFamilyPolicy?: string;
  };
}

const apply = (kc: string, obj: unknown) => kubectl(kc, ['apply', '-f', '-'], { input: JSON.stringify(obj) });
const getSvc = (kc: string, namespace: string, name: string) =>
  kubectlJson<SvcJson>(kc, ['get', 'service', name, '-n', namespace]);
async function svcAbsent(kc: string, namespace: string, name: string): Promise<void> {
  const r = await kubectlRaw(kc, ['get', 'service', name, '-n', namespace, '-o', 'name']);
  if (r.code === 0) throw new Error(`service ${namespace}/${name} still exists`);
  if (!/NotFound/.test(r.stderr)) throw new Error(r.stderr);
}
async function events(namespace: string, name: string): Promise<CoreEvent[]> {
  const l = await kubectlJson<List<CoreEvent>>(upper, [
    'get',
    'events',
    '-n',
    namespace,
    '--field-selector',
    `involvedObject.kind=Service,involvedObject.name=${name}`,
  ]);
  return l.items;
}

/** Writes fedlet logged for one upper Service ("reflected" lines, one per request), from a log offset. */
function writesFor(cluster: string, upperKey: string, fromByte = 0): string[] {
  const text = readFileSync(path.join(s.dir, `fedlet-${cluster}.log`), 'utf8').slice(fromByte);
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('"msg":"reflected"')) continue;
    const rec = JSON.parse(line) as { upper?: string; verb?: string };
    if (rec.upper === upperKey) out.push(rec.verb!);
  }
  return out;
}
const logSize = (cluster: string) => readFileSync(path.join(s.dir, `fedlet-${cluster}.log`)).length;

function deployment(name: string, cluster: string, replicas = 1, namespace = ns) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, tier: 'backend' } },
        spec: {
          nodeSelector: { 'fedlet.io/cluster': cluster },
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'app', image: 'registry.example/app:1', ports: [{ name: 'http', containerPort: 8080 }] }],
        },
      },
    },
  };
}

function service(name: string, spec: Record<string, unknown>, namespace = ns) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace, labels: { app: name } }, spec };
}

async function waitPods(selector: string, count: number, namespace = ns): Promise<void> {
  await eventually(
    async () => {
      const l = await kubectlJson<List<{ status?: { phase?: string } }>>(upper, ['get', 'pods', '-n', namespace, '-l', selector]);
      const running = l.items.filter((p) => p.status?.phase === 'Running').length;
      if (l.items.length !== count || running !== count) throw new Error(`${running}/${l.items.length} Running, want ${count}`);
    },
    { timeoutMs: 120_000, what: `${count} Running pods ${selector}` },
  );
}

beforeAll(async () => {
  await createNamespace(upper, ns);
  await createNamespace(upper, empty);
  // A lower Service fedlet does not own, in the namespace it will use (created before fedlet needs it,
  // by a lower admin who grants it to fedlet).
  await kubectl(lower1, ['create', 'namespace', ns]).catch(() => undefined);
  await kubectl(lower1, ['label', 'namespace', ns, '--overwrite', `fedlet.io/grant=${s.fedlets[0]!.nodeName}`]);
  await apply(lower1, service('taken', { ports: [{ port: 1234 }], selector: { owner: 'lower-admin' } }));
});

afterAll(async () => {
  await kubectl(upper, ['delete', 'namespace', ns, empty, '--wait=false']).catch(() => undefined);
});

describe('Service reflection', () => {
  it('copies a Service into the lower cluster that runs its pods, with its own ClusterIP and no node ports', async () => {
    await apply(
      upper,
      service('web', {
        type: 'NodePort',
        selector: { app: 'web' },
        sessionAffinity: 'ClientIP',
        publishNotReadyAddresses: true,
        ports: [
          { name: 'http', protocol: 'TCP', port: 80, targetPort: 'http' },
          { name: 'metrics', protocol: 'UDP', port: 9100, targetPort: 9100 },
        ],
      }),
    );
    await apply(upper, service('idle', { selector: { app: 'idle' }, ports: [{ port: 80 }] }, empty));
    await apply(upper, deployment('web', f1.cluster));
    await waitPods('app=web', 1);
    const up = await getSvc(upper, ns, 'web');
    const low = await eventually(() => getSvc(lower1, ns, 'web'), { what: 'lower copy of web in lower-1' });
    expect(low.spec.type).toBe('ClusterIP');
    expect(low.spec.clusterIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(low.spec.selector).toEqual({ app: 'web' });
    expect(low.spec.sessionAffinity).toBe('ClientIP');
    expect(low.spec.publishNotReadyAddresses).toBe(true);
    expect(low.spec.ipFamilies).toEqual(up.spec.ipFamilies);
    expect(low.spec.ipFamilyPolicy).toEqual(up.spec.ipFamilyPolicy);
    expect(low.spec.ports).toEqual([
      { name: 'http', protocol: 'TCP', port: 80, targetPort: 'http' },
      { name: 'metrics', protocol: 'UDP', port: 9100, targetPort: 9100 },
    ]);
    expect(up.spec.ports?.every((p) => p.nodePort)).toBe(true);
    expect(low.metadata.labels).toMatchObject({
      app: 'web',
      'fedlet.io/origin': f1.nodeName,
      'fedlet.io/upper-uid': up.metadata.uid,
    });
    expect(low.metadata.annotations).toMatchObject({ 'fedlet.io/upper-namespace': ns, 'fedlet.io/upper-name': 'web' });
    expect(writesFor(f1.cluster, `${ns}/web`)).toEqual(['create']);
    // No pod of either fedlet in lower-2 or in the other namespace: nothing reflected there.
    await svcAbsent(lower2, ns2, 'web');
    await svcAbsent(lower1, empty, 'idle');
  });

  it('updates the copy when ports or the selector change, with one write per change', async () => {
    const before = await getSvc(lower1, ns, 'web');
    const from = logSize(f1.cluster);
    await kubectl(upper, [
      'patch',
      'service',
      'web',
      '-n',
      ns,
      '--type=json',
      '-p',
      JSON.stringify([
        { op: 'replace', path: '/spec/ports/0/port', value: 8080 },
        { op: 'replace', path: '/spec/selector', value: { app: 'web', tier: 'backend' } },
      ]),
    ]);
    const low = await eventually(
      async () => {
        const l = await getSvc(lower1, ns, 'web');
        if (l.spec.ports?.[0]?.port !== 8080) throw new Error(`port ${l.spec.ports?.[0]?.port}`);
        return l;
      },
      { what: 'port change reflected' },
    );
    expect(low.spec.selector).toEqual({ app: 'web', tier: 'backend' });
    expect(low.spec.clusterIP).toBe(before.spec.clusterIP); // the lower allocation is kept
    expect(low.metadata.uid).toBe(before.metadata.uid);
    // Labels are copied too: one more write.
    await kubectl(upper, ['label', 'service', 'web', '-n', ns, 'release=2']);
    await eventually(async () => {
      if ((await getSvc(lower1, ns, 'web')).metadata.labels?.release !== '2') throw new Error('label not copied');
    });
    expect(writesFor(f1.cluster, `${ns}/web`, from)).toEqual(['update', 'update']);
  });

  it('repairs a copy edited or deleted in the lower cluster', async () => {
    await kubectl(lower1, ['patch', 'service', 'web', '-n', ns, '--type=merge', '-p', '{"spec":{"selector":{"app":"other"}}}']);
    await eventually(
      async () => {
        const sel = (await getSvc(lower1, ns, 'web')).spec.selector;
        if (sel?.app !== 'web' || sel.tier !== 'backend') throw new Error(`selector ${JSON.stringify(sel)}`);
      },
      { what: 'selector restored' },
    );
    await kubectl(lower1, ['delete', 'service', 'web', '-n', ns]);
    const again = await eventually(() => getSvc(lower1, ns, 'web'), { what: 'copy recreated' });
    expect(again.metadata.labels?.['fedlet.io/origin']).toBe(f1.nodeName);
  });

  it('keeps headless Services headless and StatefulSet pods their hostname and subdomain', async () => {
    await apply(upper, service('nginx', { clusterIP: 'None', selector: { app: 'nginx' }, ports: [{ name: 'web', port: 80 }] }));
    await apply(upper, {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'web', namespace: ns },
      spec: {
        serviceName: 'nginx',
        replicas: 1,
        selector: { matchLabels: { app: 'nginx' } },
        template: {
          metadata: { labels: { app: 'nginx' } },
          spec: {
            nodeSelector: { 'fedlet.io/cluster': f1.cluster },
            terminationGracePeriodSeconds: 1,
            containers: [{ name: 'nginx', image: 'registry.example/nginx:1' }],
          },
        },
      },
    });
    await waitPods('app=nginx', 1);
    const low = await eventually(() => getSvc(lower1, ns, 'nginx'), { what: 'headless copy' });
    expect(low.spec.clusterIP).toBe('None');
    const pod = await kubectlJson<{ spec: { hostname?: string; subdomain?: string } }>(lower1, ['get', 'pod', 'web-0', '-n', ns]);
    expect(pod.spec.hostname).toBe('web-0');
    expect(pod.spec.subdomain).toBe('nginx');
  });

  it('copies ExternalName Services as they are', async () => {
    await apply(upper, service('db', { type: 'ExternalName', externalName: 'db.example.com' }));
    const low = await eventually(() => getSvc(lower1, ns, 'db'), { what: 'ExternalName copy' });
    expect(low.spec.type).toBe('ExternalName');
    expect(low.spec.externalName).toBe('db.example.com');
    expect(low.spec.clusterIP).toBeUndefined();
  });

  it('never touches a lower Service it does not own and says so on the upper Service', async () => {
    const theirs = await getSvc(lower1, ns, 'taken');
    await apply(upper, service('taken', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] }));
    const ev = await eventually(
      async () => {
        const e = (await events(ns, 'taken')).find((x) => x.reason === 'LowerObjectConflict');
        if (!e) throw new Error('no conflict event yet');
        return e;
      },
      { what: 'LowerObjectConflict event on the upper Service' },
    );
    expect(ev.type).toBe('Warning');
    expect(ev.message).toContain(`lower cluster ${f1.cluster} already has Service ${ns}/taken that fedlet does not own`);
    const after = await getSvc(lower1, ns, 'taken');
    expect(after.metadata.resourceVersion).toBe(theirs.metadata.resourceVersion);
    expect(after.metadata.labels?.['fedlet.io/origin']).toBeUndefined();
    expect(after.spec.ports?.[0]?.port).toBe(1234);
  });

  it('reflects into a renamed lower namespace with a warning on the Service', async () => {
    await apply(upper, deployment('web2', f2.cluster));
    await waitPods('app=web2', 1);
    const low = await eventually(() => getSvc(lower2, ns2, 'web'), { what: `copy of web in ${ns2} of lower-2` });
    expect(low.metadata.labels?.['fedlet.io/origin']).toBe(f2.nodeName);
    const ev = await eventually(
      async () => {
        const e = (await events(ns, 'web')).find((x) => x.reason === 'NamespaceRemapped');
        if (!e) throw new Error('no NamespaceRemapped event yet');
        return e;
      },
      { what: 'NamespaceRemapped event' },
    );
    expect(ev.message).toContain(`web.${ns2}`);
    expect(readFileSync(path.join(s.dir, `fedlet-${f2.cluster}.log`), 'utf8')).toContain('namespaceTemplate renames namespaces');
    // The remapping fedlet does not warn about the conflict that exists only in lower-1.
    expect(writesFor(f2.cluster, `${ns}/taken`)).toEqual(['create']);
  });

  it('reflects NetworkPolicies, mapping namespace-name selectors to the lower namespace', async () => {
    await apply(upper, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'web-ingress', namespace: ns },
      spec: {
        podSelector: { matchLabels: { app: 'web' } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [
              {
                namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
                podSelector: { matchLabels: { tier: 'backend' } },
              },
              { ipBlock: { cidr: '192.0.2.0/24' } },
            ],
            ports: [{ protocol: 'TCP', port: 8080 }],
          },
        ],
      },
    });
    interface NpJson {
      metadata: { labels?: Record<string, string> };
      spec: {
        ingress: Array<{ from: Array<{ namespaceSelector?: { matchLabels?: Record<string, string> }; ipBlock?: unknown }> }>;
      };
    }
    const np1 = await eventually(() => kubectlJson<NpJson>(lower1, ['get', 'networkpolicy', 'web-ingress', '-n', ns]), {
      what: 'NetworkPolicy in lower-1',
    });
    expect(np1.metadata.labels?.['fedlet.io/origin']).toBe(f1.nodeName);
    expect(np1.spec.ingress[0]!.from[0]!.namespaceSelector).toEqual({ matchLabels: { 'kubernetes.io/metadata.name': ns } });
    expect(np1.spec.ingress[0]!.from[1]!.ipBlock).toEqual({ cidr: '192.0.2.0/24' });
    const np2 = await eventually(() => kubectlJson<NpJson>(lower2, ['get', 'networkpolicy', 'web-ingress', '-n', ns2]), {
      what: 'NetworkPolicy in lower-2',
    });
    expect(np2.spec.ingress[0]!.from[0]!.namespaceSelector).toEqual({ matchLabels: { 'kubernetes.io/metadata.name': ns2 } });
  });

  it('writes nothing when fedlet restarts', async () => {
    const copies = async () =>
      new Map(
        (await kubectlJson<List<SvcJson>>(lower1, ['get', 'services', '-n', ns, '-l', 'fedlet.io/origin'])).items.map((x) => [
          x.metadata.name,
          x.metadata.resourceVersion,
        ]),
      );
    const before = await copies();
    expect([...before.keys()].sort()).toEqual(['db', 'nginx', 'web']);
    const from = logSize(f1.cluster);
    await stopFedlet(s, f1.cluster);
    startFedlet(s, f1.cluster);
    saveState(s);
    await waitForNodesReady(s, [f1.nodeName], 60_000);
    await eventually(
      async () => {
        if (
          !readFileSync(path.join(s.dir, `fedlet-${f1.cluster}.log`), 'utf8')
            .slice(from)
            .includes('reflector caches synced')
        )
          throw new Error('reflector not synced yet');
      },
      { what: 'restarted reflector synced' },
    );
    // A change after the restart is reflected: every key queued at start has been looked at by then.
    await kubectl(upper, ['label', 'service', 'db', '-n', ns, 'after-restart=1']);
    await eventually(async () => {
      if ((await getSvc(lower1, ns, 'db')).metadata.labels?.['after-restart'] !== '1') throw new Error('not yet');
    });
    const after = await copies();
    for (const name of ['web', 'nginx']) expect(after.get(name), name).toBe(before.get(name));
    const text = readFileSync(path.join(s.dir, `fedlet-${f1.cluster}.log`), 'utf8').slice(from);
    const writes = text.split('\n').filter((l) => l.includes('"msg":"reflected"'));
    expect(writes.map((l) => (JSON.parse(l) as { upper: string; verb: string }).upper)).toEqual([`${ns}/db`]);
  });

  it('deletes the copy when the upper Service goes', async () => {
    await kubectl(upper, ['delete', 'service', 'db', '-n', ns]);
    await eventually(() => svcAbsent(lower1, ns, 'db'), { what: 'lower db deleted' });
  });

  it('removes its copies when the last pod of the namespace leaves the cluster, and only its own', async () => {
    await kubectl(upper, ['delete', 'statefulset', 'web', '-n', ns]);
    await kubectl(upper, ['scale', 'deployment', 'web', '-n', ns, '--replicas=0']);
    await eventually(
      async () => {
        const l = await kubectlJson<List<SvcJson>>(lower1, [
          'get',
          'services,networkpolicies',
          '-n',
          ns,
          '-l',
          'fedlet.io/origin',
        ]);
        if (l.items.length) throw new Error(`still there: ${l.items.map((x) => x.metadata.name).join(', ')}`);
      },
      { timeoutMs: 120_000, what: 'lower-1 copies removed' },
    );
    await getSvc(lower1, ns, 'taken'); // not ours: untouched
    // lower-2 still runs a pod of the namespace: its copies stay.
    await getSvc(lower2, ns2, 'web');
    expect(writesFor(f1.cluster, `${ns}/web`).at(-1)).toBe('delete');
  });
});

describe('serviceEndpoints: global (control plane), serviceTypes: preserve', () => {
  const gns = 'svc-global';
  interface SliceJson {
    metadata: { name: string; labels?: Record<string, string> };
    addressType: string;
    ports?: Array<{ name?: string; port?: number }>;
    endpoints?: Array<{ addresses: string[]; conditions?: { ready?: boolean } }>;
  }
  const fedletSlices = async (kc: string, namespace: string) =>
    (
      await kubectlJson<List<SliceJson>>(kc, [
        'get',
        'endpointslices',
        '-n',
        namespace,
        '-l',
        'endpointslice.kubernetes.io/managed-by=fedlet.io,kubernetes.io/service-name=api',
      ])
    ).items;
  const restartAll = async (env?: Record<string, string>) => {
    for (const f of [f1, f2]) {
      await stopFedlet(s, f.cluster);
      startFedlet(s, f.cluster, env);
    }
    saveState(s);
    await waitForNodesReady(s, [f1.nodeName, f2.nodeName], 90_000);
  };

  beforeAll(async () => {
    await restartAll({ FEDLET_SERVICE_ENDPOINTS: 'global', FEDLET_SERVICE_TYPES: 'preserve' });
    await createNamespace(upper, gns);
  }, 180_000);

  afterAll(async () => {
    await kubectl(upper, ['delete', 'namespace', gns, '--wait=false']).catch(() => undefined);
    await restartAll();
  }, 180_000);

  it('lists the ready endpoints of other clusters in a fedlet EndpointSlice, and follows their node health', async () => {
    await apply(upper, service('api', { selector: { app: 'api' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] }, gns));
    await apply(upper, deployment('api', f2.cluster, 1, gns));
    await apply(upper, deployment('client', f1.cluster, 1, gns));
    await waitPods('app=api', 1, gns);
    await waitPods('app=client', 1, gns);
    const apiPod = (await kubectlJson<List<{ status: { podIP: string } }>>(upper, ['get', 'pods', '-n', gns, '-l', 'app=api']))
      .items[0]!;
    expect(apiPod.status.podIP).toMatch(/^10\.102\./); // lower-2's pod IP as the upper cluster sees it
    const slices = await eventually(
      async () => {
        const l = await fedletSlices(lower1, gns);
        if (l.length !== 1 || l[0]!.endpoints?.[0]?.conditions?.ready !== true) throw new Error(JSON.stringify(l));
        return l;
      },
      { what: 'remote endpoint of api in lower-1' },
    );
    expect(slices[0]!.addressType).toBe('IPv4');
    expect(slices[0]!.endpoints!.map((e) => e.addresses)).toEqual([[apiPod.status.podIP]]);
    expect(slices[0]!.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 8080 }]);
    expect(slices[0]!.metadata.labels?.['fedlet.io/origin']).toBe(f1.nodeName);
    // lower-2 runs the endpoint itself: local endpoints are never duplicated.
    expect(await fedletSlices(lower2, `${gns}-${f2.cluster}`)).toEqual([]);

    // lower-2's virtual node goes NotReady: its endpoint turns not-ready in lower-1.
    await stopFedlet(s, f2.cluster);
    await eventually(
      async () => {
        const l = await fedletSlices(lower1, gns);
        if (l[0]?.endpoints?.[0]?.conditions?.ready !== false) throw new Error(JSON.stringify(l));
      },
      { timeoutMs: 120_000, what: 'remote endpoint not ready while its node is NotReady' },
    );
    startFedlet(s, f2.cluster, { FEDLET_SERVICE_ENDPOINTS: 'global', FEDLET_SERVICE_TYPES: 'preserve' });
    saveState(s);
    await eventually(
      async () => {
        const l = await fedletSlices(lower1, gns);
        if (l[0]?.endpoints?.[0]?.conditions?.ready !== true) throw new Error(JSON.stringify(l));
      },
      { timeoutMs: 120_000, what: 'remote endpoint ready again' },
    );

    // The backend leaves: the fedlet slice goes.
    await kubectl(upper, ['scale', 'deployment', 'api', '-n', gns, '--replicas=0']);
    await eventually(
      async () => {
        const l = await fedletSlices(lower1, gns);
        if (l.length) throw new Error(JSON.stringify(l));
      },
      { what: 'fedlet slice removed' },
    );
  });

  it('serviceTypes preserve: keeps NodePort, with node ports of the lower cluster that survive updates', async () => {
    await apply(
      upper,
      service(
        'edge',
        { type: 'NodePort', selector: { app: 'client' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
        gns,
      ),
    );
    const up = await getSvc(upper, gns, 'edge');
    const low = await eventually(() => getSvc(lower1, gns, 'edge'), { what: 'NodePort copy in lower-1' });
    expect(low.spec.type).toBe('NodePort');
    expect(low.spec.ports?.[0]?.nodePort).toBeGreaterThan(0);
    await kubectl(upper, [
      'patch',
      'service',
      'edge',
      '-n',
      gns,
      '--type=json',
      '-p',
      '[{"op":"replace","path":"/spec/ports/0/targetPort","value":9090}]',
    ]);
    const after = await eventually(
      async () => {
        const l = await getSvc(lower1, gns, 'edge');
        if (l.spec.ports?.[0]?.targetPort !== 9090) throw new Error(`targetPort ${l.spec.ports?.[0]?.targetPort}`);
        return l;
      },
      { what: 'targetPort change reflected' },
    );
    expect(after.spec.ports?.[0]?.nodePort).toBe(low.spec.ports?.[0]?.nodePort);
    expect(after.spec.clusterIP).toBe(low.spec.clusterIP);
    expect(up.spec.ports?.[0]?.nodePort).toBeGreaterThan(0); // the upper one is the upper cluster's own
  });
});
