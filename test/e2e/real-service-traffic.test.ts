// Issue #14 (data plane): Services reflected by fedlet carry real traffic. Pods are created in the upper
// cluster; in the lower clusters the kwok nodes are cordoned, so they run on the real nodes (kubelet +
// containerd, kube-proxy in iptables mode, CoreDNS). A client pod's requests go through the lower
// cluster's DNS and kube-proxy to the backends fedlet runs there, or, with serviceEndpoints: global, to a
// backend in the other lower cluster over the routed pod network between them.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveState, startFedlet, stopFedlet, waitForNodesReady } from '../../sandbox/sandbox.js';
import { createNamespace } from './framework/namespaces.js';
import { eventually, kubectl, kubectlJson, kubectlRaw, sandbox, type List } from './framework/kubectl.js';
import { readyCondition, type NodeJson } from './framework/nodes.js';
import { apply, container, realNodesMissing, realNodesOnly, realPod, realPodSpec, waitPod } from './framework/real-nodes.js';
import { getPod, isReady } from './framework/pods.js';

const s = sandbox();
const missing = realNodesMissing(s);
const upper = s.upperKubeconfig;
const [lower1, lower2] = s.lowerKubeconfigs as [string, string];
const [f1, f2] = s.fedlets as [(typeof s.fedlets)[0], (typeof s.fedlets)[0]];
const ns = 'svc-traffic';
const gns = 'svc-traffic-global';
const gbns = 'svc-guestbook';
/** Undoes the cordoning of the kwok nodes (so pods run on the real nodes) in afterAll. */
let restoreNodes: (() => Promise<void>) | undefined;
const GLOBAL = { FEDLET_SERVICE_ENDPOINTS: 'global' };

interface SliceJson {
  metadata: { name: string; labels?: Record<string, string> };
  endpoints?: Array<{ addresses: string[]; conditions?: { ready?: boolean }; targetRef?: { name?: string } }>;
}

function service(name: string, namespace: string, spec: Record<string, unknown>) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec };
}

/** `testapp get URL` run by `kubectl exec` in a client pod: what a process in that pod gets. */
async function fetchFrom(namespace: string, pod: string, url: string) {
  return kubectlRaw(upper, ['exec', pod, '-n', namespace, '--', '/bin/testapp', 'get', url]);
}

/** Polls until `url` answers from the client pod; returns the body. */
async function reach(namespace: string, pod: string, url: string, timeoutMs = 90_000): Promise<string> {
  return eventually(
    async () => {
      const r = await fetchFrom(namespace, pod, url);
      if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr.trim()}`);
      return r.stdout;
    },
    { timeoutMs, what: `${pod} reaching ${url}` },
  );
}

/** A long-lived client pod on the given virtual node (its real node), for `kubectl exec`. */
async function clientPod(namespace: string, nodeName: string): Promise<void> {
  await apply(upper, realPod('client', namespace, nodeName, { containers: [container('app', ['sleep', '0'])] }));
  await waitPod(upper, namespace, 'client', isReady, 'Ready');
}

/** Endpoints of the lower EndpointSlices of a Service. */
async function lowerEndpoints(kc: string, namespace: string, svc: string) {
  const l = await kubectlJson<List<SliceJson>>(kc, [
    'get',
    'endpointslices',
    '-n',
    namespace,
    '-l',
    `kubernetes.io/service-name=${svc}`,
  ]);
  return l.items.flatMap((x) => (x.endpoints ?? []).map((e) => ({ ...e, slice: x.metadata })));
}

describe.skipIf(!!missing)(`Service traffic through fedlet on real nodes${missing ? ` (skipped: ${missing})` : ''}`, () => {
  beforeAll(async () => {
    restoreNodes = await realNodesOnly(
      upper,
      [lower1, lower2],
      s.fedlets.map((f) => f.nodeName),
    );
    await createNamespace(upper, ns);
  });

  afterAll(async () => {
    await kubectl(upper, ['delete', 'namespace', ns, gns, gbns, '--ignore-not-found', '--wait=false']).catch(() => undefined);
    await restoreNodes?.();
  });

  describe('serviceEndpoints: local', () => {
    it('a client reaches a backend by short name, svc.ns and svc.ns.svc.cluster.local', async () => {
      await apply(upper, realPod('web', ns, f1.nodeName, { containers: [container('app', ['serve', '8080'])] }));
      await apply(upper, service('web', ns, { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] }));
      await clientPod(ns, f1.nodeName);
      await waitPod(upper, ns, 'web', isReady, 'Ready');
      // The lower copy has the lower cluster's own ClusterIP; DNS below answers with it.
      const low = await eventually(
        () => kubectlJson<{ spec: { clusterIP: string } }>(lower1, ['get', 'service', 'web', '-n', ns]),
        { what: 'lower copy of web' },
      );
      const up = await kubectlJson<{ spec: { clusterIP: string } }>(upper, ['get', 'service', 'web', '-n', ns]);
      expect(low.spec.clusterIP).not.toBe(up.spec.clusterIP);
      for (const name of ['web', `web.${ns}`, `web.${ns}.svc.cluster.local`])
        expect(await reach(ns, 'client', `http://${name}/echo?msg=${name}`)).toBe(`${name} from web\n`);
    });

    it('does not reach a backend that runs only in the other lower cluster (no remote endpoints in local mode)', async () => {
      await apply(upper, realPod('far', ns, f2.nodeName, { containers: [container('app', ['serve', '8080'])] }));
      await apply(upper, service('far', ns, { selector: { app: 'far' }, ports: [{ port: 80, targetPort: 8080 }] }));
      await waitPod(upper, ns, 'far', isReady, 'Ready');
      // Reachable where it runs (lower-2, whose namespace is renamed)...
      await eventually(() => kubectl(lower2, ['get', 'service', 'far', '-n', `${ns}-${f2.cluster}`]), { what: 'far in lower-2' });
      // ...while lower-1's copy of the Service has no endpoint at all.
      await eventually(() => kubectl(lower1, ['get', 'service', 'far', '-n', ns]), { what: 'far in lower-1' });
      expect((await lowerEndpoints(lower1, ns, 'far')).map((e) => e.addresses)).toEqual([]);
      const r = await fetchFrom(ns, 'client', 'http://far/echo?msg=x');
      expect(r.code, r.stdout).not.toBe(0);
      await kubectl(upper, ['delete', 'pod', 'far', '-n', ns, '--wait=false']);
    });

    it('a headless Service resolves the StatefulSet pod names', async () => {
      await apply(
        upper,
        service('db', ns, { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'http', port: 8080 }] }),
      );
      const { nodeName: _n, ...podSpec } = realPodSpec('', { containers: [container('app', ['serve', '8080'])] });
      await apply(upper, {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'db', namespace: ns },
        spec: {
          serviceName: 'db',
          replicas: 2,
          selector: { matchLabels: { app: 'db' } },
          template: {
            metadata: { labels: { app: 'db' } },
            spec: { ...podSpec, nodeSelector: { 'fedlet.io/cluster': f1.cluster } },
          },
        },
      });
      await waitPod(upper, ns, 'db-1', isReady, 'Ready', 180_000);
      for (const [pod, name] of [
        ['db-0', 'db-0.db'],
        ['db-1', `db-1.db.${ns}.svc.cluster.local`],
      ] as const)
        expect(await reach(ns, 'client', `http://${name}:8080/echo?msg=hi`)).toBe(`hi from ${pod}\n`);
    });

    it('a backend whose readiness probe fails drops out of the Service', async () => {
      const backend = (name: string) =>
        realPod(
          name,
          ns,
          f1.nodeName,
          {
            containers: [
              container('app', ['serve', '8080'], {
                readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1, failureThreshold: 1 },
              }),
            ],
          },
          { app: 'rb' },
        );
      await apply(upper, backend('rb-a'));
      await apply(upper, backend('rb-b'));
      await apply(upper, service('rb', ns, { selector: { app: 'rb' }, ports: [{ port: 80, targetPort: 8080 }] }));
      await waitPod(upper, ns, 'rb-a', isReady, 'Ready');
      await waitPod(upper, ns, 'rb-b', isReady, 'Ready');
      const seen = new Set<string>();
      await eventually(
        async () => {
          const body = await reach(ns, 'client', 'http://rb/echo?msg=x');
          seen.add(body.trim().replace(/^x from /, ''));
          if (seen.size < 2) throw new Error(`answered by ${[...seen].join(', ')} only`);
        },
        { timeoutMs: 120_000, intervalMs: 100, what: 'both backends answering' },
      );

      // rb-b's readiness endpoint starts failing: its upper and lower pods turn not Ready.
      expect((await fetchFrom(ns, 'rb-b', 'http://localhost:8080/unready')).stdout).toContain('no longer ready');
      await waitPod(upper, ns, 'rb-b', (p) => !isReady(p), 'not Ready');
      const bIP = (await getPod(lower1, ns, 'rb-b')).status?.podIP;
      await eventually(
        async () => {
          const e = (await lowerEndpoints(lower1, ns, 'rb')).find((x) => x.addresses.includes(bIP!));
          if (e?.conditions?.ready !== false) throw new Error(`rb-b endpoint ${JSON.stringify(e)}`);
        },
        { what: 'rb-b not ready in the lower EndpointSlice' },
      );
      // From now on only rb-a answers (kube-proxy may take a moment to drop rb-b).
      await eventually(
        async () => {
          const from = new Set<string>();
          for (let i = 0; i < 12; i++) from.add((await reach(ns, 'client', 'http://rb/echo?msg=x')).trim());
          if (from.size !== 1 || !from.has('x from rb-a')) throw new Error(`answered by ${[...from].join(', ')}`);
        },
        { timeoutMs: 90_000, what: 'only rb-a answering' },
      );
    });
  });

  describe('a multi-tier application from plain manifests (test/e2e/data/guestbook.yaml)', () => {
    it('its tiers find each other through their Services and it serves end to end', async () => {
      await createNamespace(upper, gbns);
      const file = fileURLToPath(new URL('./data/guestbook.yaml', import.meta.url));
      await kubectl(upper, ['apply', '-n', gbns, '-f', file]);
      for (const d of ['store', 'api', 'frontend'])
        await kubectl(upper, ['rollout', 'status', `deployment/${d}`, '-n', gbns, '--timeout=200s'], { timeoutMs: 210_000 });
      // Pod affinity kept the tiers in one lower cluster: the network between clusters is not needed.
      // (Short names only: the cluster may be lower-2, whose fedlet renames namespaces.)
      const pods = await kubectlJson<List<{ metadata: { name: string }; spec: { nodeName: string } }>>(upper, [
        'get',
        'pods',
        '-n',
        gbns,
        '-l',
        'app=guestbook',
      ]);
      expect(pods.items).toHaveLength(5);
      expect(new Set(pods.items.map((p) => p.spec.nodeName)).size).toBe(1);
      const frontend = pods.items.find((p) => p.metadata.name.startsWith('frontend-'))!.metadata.name;

      // frontend → (Service api) → api → (Service store) → store, and back.
      const body = await reach(gbns, frontend, 'http://frontend/add?msg=hello');
      expect(body).toBe('stored\n');
      await reach(gbns, frontend, 'http://frontend/add?msg=world');
      const entries = await reach(gbns, frontend, 'http://frontend/entries');
      expect(entries).toMatch(/^hello \(by frontend-[a-z0-9-]+\)\nworld \(by frontend-[a-z0-9-]+\)\n$/);
      // The store is one pod behind two api replicas: every frontend replica reads the same entries.
      for (const p of pods.items.filter((x) => x.metadata.name.startsWith('frontend-')))
        expect(await reach(gbns, p.metadata.name, 'http://frontend/entries')).toBe(entries);
    });
  });

  describe('serviceEndpoints: global', () => {
    const restartAll = async (env?: Record<string, string>) => {
      for (const f of [f1, f2]) {
        await stopFedlet(s, f.cluster);
        startFedlet(s, f.cluster, env);
      }
      saveState(s);
      await waitForNodesReady(s, [f1.nodeName, f2.nodeName], 90_000);
    };

    beforeAll(async () => {
      global = true;
      await restartAll(GLOBAL);
      await createNamespace(upper, gns);
    }, 180_000);

    let global = true;
    afterAll(async () => {
      await kubectl(upper, ['delete', 'namespace', gns, '--wait=false']).catch(() => undefined);
      if (global) await restartAll();
    }, 180_000);

    it("a client in one lower cluster reaches a backend that runs only in the other, until that one's node is NotReady", async () => {
      await apply(upper, realPod('api', gns, f2.nodeName, { containers: [container('app', ['serve', '8080'])] }));
      await apply(
        upper,
        service('api', gns, { selector: { app: 'api' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] }),
      );
      await clientPod(gns, f1.nodeName);
      const api = await waitPod(upper, gns, 'api', isReady, 'Ready');
      expect(api.status?.podIP).toMatch(/^10\.100\.\d+\.\d+$/); // a real-node pod: routed between lower clusters
      // lower-1 runs no api pod: its only endpoint is the one fedlet lists from lower-2.
      await eventually(
        async () => {
          const eps = await lowerEndpoints(lower1, gns, 'api');
          if (eps.length !== 1 || eps[0]!.addresses[0] !== api.status?.podIP || eps[0]!.conditions?.ready !== true)
            throw new Error(JSON.stringify(eps));
          expect(eps[0]!.slice.labels?.['endpointslice.kubernetes.io/managed-by']).toBe('fedlet.io');
        },
        { what: 'the remote endpoint of api in lower-1' },
      );
      for (const name of ['api', `api.${gns}.svc.cluster.local`])
        expect(await reach(gns, 'client', `http://${name}/echo?msg=across`)).toBe('across from api\n');

      // lower-2's virtual node turns NotReady (its fedlet stops; the pod itself keeps running below).
      await stopFedlet(s, f2.cluster);
      try {
        await eventually(
          async () => {
            const n = await kubectlJson<NodeJson>(upper, ['get', 'node', f2.nodeName]);
            if (readyCondition(n)?.status === 'True') throw new Error('still Ready');
          },
          { timeoutMs: 150_000, what: `${f2.nodeName} NotReady` },
        );
        await eventually(
          async () => {
            const eps = await lowerEndpoints(lower1, gns, 'api');
            if (eps.some((e) => e.conditions?.ready !== false)) throw new Error(JSON.stringify(eps));
          },
          { timeoutMs: 60_000, what: 'the remote endpoint not ready in lower-1' },
        );
        await eventually(
          async () => {
            const r = await fetchFrom(gns, 'client', 'http://api/echo?msg=across');
            if (r.code === 0) throw new Error(`still answered: ${r.stdout}`);
          },
          { timeoutMs: 60_000, what: 'api no longer reachable from lower-1' },
        );
        const below = await getPod(lower2, `${gns}-${f2.cluster}`, 'api');
        expect(isReady(below)).toBe(true); // the backend itself never stopped
      } finally {
        startFedlet(s, f2.cluster, GLOBAL);
        saveState(s);
      }
      await waitForNodesReady(s, [f2.nodeName], 90_000);
      expect(await reach(gns, 'client', 'http://api/echo?msg=again', 150_000)).toBe('again from api\n');
    });

    it('switching back to serviceEndpoints: local removes the remote endpoints the global run listed', async () => {
      expect(await lowerEndpoints(lower1, gns, 'api')).toHaveLength(1);
      await restartAll();
      global = false;
      await eventually(
        async () => {
          const eps = await lowerEndpoints(lower1, gns, 'api');
          if (eps.length) throw new Error(JSON.stringify(eps));
        },
        { what: "fedlet's slice of api gone from lower-1" },
      );
      await eventually(
        async () => {
          const r = await fetchFrom(gns, 'client', 'http://api/echo?msg=x');
          if (r.code === 0) throw new Error(`still answered: ${r.stdout}`);
        },
        { what: 'api no longer reachable from lower-1' },
      );
      // The Service copy itself stays: only the remote endpoints went.
      await kubectl(lower1, ['get', 'service', 'api', '-n', gns]);
    });
  });
});
