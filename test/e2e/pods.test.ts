// Pods bound to virtual nodes run in lower clusters, with remapping, dependencies, status,
// deletion and restart safety — driven through the real kubectl against real clusters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFedlet, saveState, stopFedlet } from '../../sandbox/sandbox.js';
import { createNamespace, lowerNamespaceFor } from './framework/namespaces.js';
import { eventually, kubectl, kubectlJson, sandbox, type List } from './framework/kubectl.js';
import { isReady, type ApiPod as Pod } from './framework/pods.js';

const s = sandbox();
const upper = s.upperKubeconfig;
const [lower1, lower2] = s.lowerKubeconfigs as [string, string];
const [f1, f2] = s.fedlets as [(typeof s.fedlets)[0], (typeof s.fedlets)[0]];
const ns = 'pods-e2e';
const lowerNs = { [f1.nodeName]: lowerNamespaceFor(f1, ns), [f2.nodeName]: lowerNamespaceFor(f2, ns) };
const lowerOf = { [f1.nodeName]: lower1, [f2.nodeName]: lower2 };
const cidrOf = { [f1.nodeName]: /^10\.101\./, [f2.nodeName]: /^10\.102\./ };

async function upperPods(selector: string): Promise<Pod[]> {
  return (await kubectlJson<List<Pod>>(upper, ['get', 'pods', '-n', ns, '-l', selector])).items;
}
async function lowerPods(lower: string, namespace: string, selector = ''): Promise<Pod[]> {
  const args = ['get', 'pods', '-n', namespace];
  if (selector) args.push('-l', selector);
  return (await kubectlJson<List<Pod>>(lower, args)).items;
}

async function waitRunning(selector: string, count: number, timeoutMs = 240_000): Promise<Pod[]> {
  return eventually(
    async () => {
      const pods = (await upperPods(selector)).filter(
        (p) => !p.metadata.annotations?.['deleted'] && p.status?.phase !== 'Failed',
      );
      const ready = pods.filter(isReady);
      if (pods.length !== count || ready.length !== count) throw new Error(`${ready.length}/${pods.length} Ready, want ${count}`);
      return pods;
    },
    { timeoutMs, what: `${count} Running pods for ${selector}` },
  );
}

function deployment(
  name: string,
  replicas: number,
  podSpec: Record<string, unknown>,
  labels: Record<string, string> = {},
): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, ...labels } },
        spec: { terminationGracePeriodSeconds: 5, containers: [{ name: 'app', image: 'registry.example/app:1' }], ...podSpec },
      },
    },
  });
}

beforeAll(async () => {
  await createNamespace(upper, ns);
});

afterAll(async () => {
  await kubectl(upper, ['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
});

describe('pods on virtual nodes', () => {
  it('spreads a Deployment over the clusters, runs it in the lower clusters and reflects status and remapped IPs', async () => {
    await kubectl(upper, ['apply', '-f', '-'], {
      input: deployment('web', 6, {
        topologySpreadConstraints: [
          {
            maxSkew: 1,
            topologyKey: 'fedlet.io/cluster',
            whenUnsatisfiable: 'DoNotSchedule',
            labelSelector: { matchLabels: { app: 'web' } },
          },
        ],
      }),
    });
    const pods = await waitRunning('app=web', 6);
    const byNode = new Map<string, Pod[]>();
    for (const p of pods) byNode.set(p.spec.nodeName!, [...(byNode.get(p.spec.nodeName!) ?? []), p]);
    expect(byNode.get(f1.nodeName)).toHaveLength(3);
    expect(byNode.get(f2.nodeName)).toHaveLength(3);
    for (const [node, list] of byNode) {
      const lows = await lowerPods(lowerOf[node]!, lowerNs[node]!, 'app=web');
      expect(lows).toHaveLength(3);
      for (const up of list) {
        expect(up.status?.podIP).toMatch(cidrOf[node]!);
        expect(up.status?.podIPs?.[0]?.ip).toBe(up.status?.podIP);
        expect(up.status?.hostIP).toBe(s.nodeIP ?? '127.0.0.1');
        const low = lows.find((l) => l.metadata.name === up.metadata.name);
        expect(low, `lower pod for ${up.metadata.name}`).toBeDefined();
        expect(low!.metadata.labels).toMatchObject({ 'fedlet.io/origin': node, 'fedlet.io/upper-uid': up.metadata.uid });
        expect(low!.metadata.annotations).toMatchObject({
          'fedlet.io/upper-namespace': ns,
          'fedlet.io/upper-name': up.metadata.name,
        });
        expect(low!.spec.hostname).toBe(up.metadata.name);
        // host bits are kept by the remapping
        expect(up.status!.podIP!.split('.').slice(2)).toEqual(low!.status!.podIP!.split('.').slice(2));
      }
    }
    const ns2 = await kubectlJson<{ metadata: { labels?: Record<string, string> } }>(lower2, [
      'get',
      'namespace',
      lowerNs[f2.nodeName]!,
    ]);
    expect(ns2.metadata.labels?.['fedlet.io/origin']).toBe(f2.nodeName);
  });

  it('scales to zero and back', async () => {
    await kubectl(upper, ['scale', 'deployment', 'web', '-n', ns, '--replicas=0']);
    await eventually(
      async () => {
        const left = [
          ...(await upperPods('app=web')),
          ...(await lowerPods(lower1, lowerNs[f1.nodeName]!, 'app=web')),
          ...(await lowerPods(lower2, lowerNs[f2.nodeName]!, 'app=web')),
        ];
        if (left.length) throw new Error(`${left.length} pods left`);
      },
      { timeoutMs: 120_000, what: 'all web pods gone in upper and lower clusters' },
    );
    await kubectl(upper, ['scale', 'deployment', 'web', '-n', ns, '--replicas=4']);
    await waitRunning('app=web', 4);
  });

  it('replaces a pod whose lower pod is deleted by hand', async () => {
    const pods = await waitRunning('app=web', 4);
    const victim = pods.find((p) => p.spec.nodeName === f1.nodeName) ?? pods[0]!;
    const node = victim.spec.nodeName!;
    await kubectl(lowerOf[node]!, ['delete', 'pod', victim.metadata.name, '-n', lowerNs[node]!, '--wait=false']);
    const failed = await eventually(
      async () => {
        const p = await kubectlJson<Pod>(upper, ['get', 'pod', victim.metadata.name, '-n', ns]);
        if (p.status?.phase !== 'Failed') throw new Error(`phase ${p.status?.phase}`);
        return p;
      },
      { what: 'upper pod Failed after its lower pod was deleted' },
    );
    expect(failed.status?.reason).toBe('LowerPodDeleted');
    await waitRunning('app=web', 4);
    await kubectl(upper, ['delete', 'pod', victim.metadata.name, '-n', ns, '--wait=false']);
  });

  it('pins replicas with nodeSelector and with node affinity on region', async () => {
    await kubectl(upper, ['apply', '-f', '-'], {
      input: deployment('pinned', 3, { nodeSelector: { 'fedlet.io/cluster': f2.cluster } }),
    });
    const pinned = await waitRunning('app=pinned', 3);
    expect(new Set(pinned.map((p) => p.spec.nodeName))).toEqual(new Set([f2.nodeName]));
    const region = (await kubectlJson<{ metadata: { labels: Record<string, string> } }>(upper, ['get', 'node', f1.nodeName]))
      .metadata.labels['topology.kubernetes.io/region'];
    expect(region).toBeTruthy();
    await kubectl(upper, ['apply', '-f', '-'], {
      input: deployment('regional', 3, {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'topology.kubernetes.io/region', operator: 'In', values: [region] }] },
              ],
            },
          },
        },
      }),
    });
    const regional = await waitRunning('app=regional', 3);
    expect(new Set(regional.map((p) => p.spec.nodeName))).toEqual(new Set([f1.nodeName]));
    await kubectl(upper, ['delete', 'deployment', 'pinned', 'regional', '-n', ns]);
  });

  it('copies ConfigMaps and Secrets, keeps them in sync, and removes them with the pods', async () => {
    await kubectl(upper, ['create', 'configmap', 'app-config', '-n', ns, '--from-literal=greeting=hello']);
    await kubectl(upper, ['create', 'secret', 'generic', 'app-secret', '-n', ns, '--from-literal=password=s3cret']);
    await kubectl(upper, ['apply', '-f', '-'], {
      input: deployment('withdeps', 2, {
        nodeSelector: { 'fedlet.io/cluster': f2.cluster },
        volumes: [{ name: 'cfg', configMap: { name: 'app-config' } }],
        containers: [
          {
            name: 'app',
            image: 'registry.example/app:1',
            env: [
              { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'app-secret', key: 'password' } } },
              { name: 'MY_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              { name: 'MY_NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
            ],
            volumeMounts: [{ name: 'cfg', mountPath: '/etc/app' }],
          },
        ],
      }),
    });
    const pods = await waitRunning('app=withdeps', 2);
    const lns = lowerNs[f2.nodeName]!;
    const cm = await kubectlJson<{ data: Record<string, string>; metadata: { labels: Record<string, string> } }>(lower2, [
      'get',
      'configmap',
      'app-config',
      '-n',
      lns,
    ]);
    expect(cm.data).toEqual({ greeting: 'hello' });
    expect(cm.metadata.labels['fedlet.io/origin']).toBe(f2.nodeName);
    const sec = await kubectlJson<{ data: Record<string, string> }>(lower2, ['get', 'secret', 'app-secret', '-n', lns]);
    expect(Buffer.from(sec.data.password!, 'base64').toString()).toBe('s3cret');
    const low = await kubectlJson<Pod>(lower2, ['get', 'pod', pods[0]!.metadata.name, '-n', lns]);
    const env = Object.fromEntries((low.spec.containers[0]!.env ?? []).map((e) => [e.name, e.value]));
    // Downward API values that would show lower facts are rewritten to the upper ones.
    expect(env.MY_NAMESPACE).toBe(ns);
    expect(env.MY_NODE).toBe(f2.nodeName);

    await kubectl(upper, [
      'create',
      'configmap',
      'app-config',
      '-n',
      ns,
      '--from-literal=greeting=bonjour',
      '--dry-run=client',
      '-o',
      'yaml',
    ]).then((y) => kubectl(upper, ['apply', '-f', '-'], { input: y }));
    await eventually(
      async () => {
        const c = await kubectlJson<{ data: Record<string, string> }>(lower2, ['get', 'configmap', 'app-config', '-n', lns]);
        if (c.data.greeting !== 'bonjour') throw new Error(`greeting=${c.data.greeting}`);
      },
      { what: 'lower ConfigMap updated' },
    );

    await kubectl(upper, ['delete', 'deployment', 'withdeps', '-n', ns]);
    await eventually(
      async () => {
        const left = [
          ...(await kubectl(lower2, ['get', 'pods', '-n', lns, '-l', 'app=withdeps', '-o', 'name'])).trim().split('\n'),
          // (Token Secrets of the pods that remain in this namespace stay: tokens.test.ts.)
          ...(
            await kubectl(lower2, [
              'get',
              'configmaps,secrets',
              '-n',
              lns,
              '-l',
              'fedlet.io/origin,!fedlet.io/service-account-token',
              '-o',
              'name',
            ])
          )
            .trim()
            .split('\n'),
        ].filter(Boolean);
        if (left.length) throw new Error(`left in lower: ${left.join(', ')}`);
      },
      { timeoutMs: 90_000, what: 'lower pods and copies removed' },
    );
  });

  it('explains pods it cannot run: hostNetwork, and a missing Secret (until it appears)', async () => {
    const pod = (name: string, spec: Record<string, unknown>) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: ns },
        spec: {
          nodeSelector: { 'fedlet.io/cluster': f1.cluster },
          containers: [{ name: 'c', image: 'registry.example/app:1' }],
          ...spec,
        },
      });
    await kubectl(upper, ['apply', '-f', '-'], { input: pod('hostnet', { hostNetwork: true }) });
    await kubectl(upper, ['apply', '-f', '-'], {
      input: pod('needs-secret', {
        containers: [{ name: 'c', image: 'registry.example/app:1', envFrom: [{ secretRef: { name: 'later' } }] }],
      }),
    });
    const hn = await eventually(
      async () => {
        const p = await kubectlJson<Pod>(upper, ['get', 'pod', 'hostnet', '-n', ns]);
        if (p.status?.reason !== 'UnsupportedPodSpec') throw new Error(`reason ${p.status?.reason}`);
        return p;
      },
      { what: 'hostNetwork pod explained' },
    );
    expect(hn.status?.message).toContain('spec.hostNetwork');
    expect(await kubectl(upper, ['get', 'pod', 'hostnet', '-n', ns])).toMatch(/UnsupportedPodSpec/);
    expect(await lowerPods(lower1, ns, 'fedlet.io/origin')).toSatisfy(
      (l: Pod[]) => !l.some((p) => p.metadata.name === 'hostnet'),
    );
    await eventually(
      async () => {
        const ev = await kubectlJson<List<{ reason: string; message: string }>>(upper, [
          'get',
          'events',
          '-n',
          ns,
          '--field-selector',
          'involvedObject.name=needs-secret',
        ]);
        const e = ev.items.find((x) => x.reason === 'MandatorySecretNotFound');
        if (!e) throw new Error('no MandatorySecretNotFound event yet');
        expect(e.message).toContain(`Secret ${ns}/later`);
      },
      { what: 'MandatorySecretNotFound event (the virtual-kubelet reason)' },
    );
    await kubectl(upper, ['create', 'secret', 'generic', 'later', '-n', ns, '--from-literal=k=v']);
    await eventually(
      async () => {
        const p = await kubectlJson<Pod>(upper, ['get', 'pod', 'needs-secret', '-n', ns]);
        if (!isReady(p)) throw new Error(`phase ${p.status?.phase} ${p.status?.reason ?? ''}`);
      },
      { timeoutMs: 90_000, what: 'pod runs once its Secret exists' },
    );
    await kubectl(upper, ['delete', 'pod', 'hostnet', 'needs-secret', '-n', ns, '--wait=true', '--timeout=60s']);
  });

  it('shows the lower scheduler verdict on the upper pod: condition and mirrored events', async () => {
    // 12 CPU fit the virtual node (16 free in total) but no single lower node (8 each). The scheduler
    // extender would keep such a pod off the node, so it is bound directly (spec.nodeName), as a user
    // or a controller may do.
    await kubectl(upper, ['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'too-big', namespace: ns },
        spec: {
          nodeName: f1.nodeName,
          containers: [{ name: 'c', image: 'registry.example/app:1', resources: { requests: { cpu: '12' } } }],
        },
      }),
    });
    const p = await eventually(
      async () => {
        const p = await kubectlJson<Pod & { status: { conditions?: Array<{ type: string; status: string; message?: string }> } }>(
          upper,
          ['get', 'pod', 'too-big', '-n', ns],
        );
        const c = p.status.conditions?.find((x) => x.type === 'fedlet.io/LowerScheduled');
        if (c?.status !== 'False') throw new Error(`LowerScheduled ${c?.status}`);
        return c;
      },
      { what: 'fedlet.io/LowerScheduled=False' },
    );
    expect(p.message).toMatch(/Insufficient cpu/);
    await eventually(
      async () => {
        const ev = await kubectlJson<List<{ reason: string; message: string; source?: { component?: string } }>>(upper, [
          'get',
          'events',
          '-n',
          ns,
          '--field-selector',
          'involvedObject.name=too-big',
        ]);
        const e = ev.items.find((x) => x.source?.component === 'fedlet' && x.reason === 'FailedScheduling');
        if (!e) throw new Error('no mirrored FailedScheduling event');
        expect(e.message).toContain(`[${f1.cluster}]`);
      },
      { what: 'mirrored lower event' },
    );
    expect(await kubectl(upper, ['describe', 'pod', 'too-big', '-n', ns])).toMatch(/Insufficient cpu/);
    await kubectl(upper, ['delete', 'pod', 'too-big', '-n', ns, '--wait=true', '--timeout=60s']);
  });

  it('propagates in-place updates: image, labels, annotations, activeDeadlineSeconds, added tolerations', async () => {
    await kubectl(upper, ['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'updatable', namespace: ns },
        spec: { nodeSelector: { 'fedlet.io/cluster': f1.cluster }, containers: [{ name: 'c', image: 'registry.example/app:1' }] },
      }),
    });
    await eventually(
      async () => expect(isReady(await kubectlJson<Pod>(upper, ['get', 'pod', 'updatable', '-n', ns]))).toBe(true),
      { what: 'updatable Running' },
    );
    await kubectl(upper, ['set', 'image', 'pod/updatable', '-n', ns, 'c=registry.example/app:2']);
    await kubectl(upper, ['label', 'pod', 'updatable', '-n', ns, 'tier=gold']);
    await kubectl(upper, ['annotate', 'pod', 'updatable', '-n', ns, 'note=hello']);
    await kubectl(upper, [
      'patch',
      'pod',
      'updatable',
      '-n',
      ns,
      '--type=json',
      '-p',
      JSON.stringify([
        { op: 'add', path: '/spec/activeDeadlineSeconds', value: 3600 },
        { op: 'add', path: '/spec/tolerations/-', value: { key: 'extra', operator: 'Exists', effect: 'NoSchedule' } },
      ]),
    ]);
    await eventually(
      async () => {
        const l = await kubectlJson<
          Pod & {
            spec: { containers: Array<{ image: string }>; activeDeadlineSeconds?: number; tolerations?: Array<{ key?: string }> };
          }
        >(lower1, ['get', 'pod', 'updatable', '-n', ns]);
        expect(l.spec.containers[0]!.image).toBe('registry.example/app:2');
        expect(l.metadata.labels?.tier).toBe('gold');
        expect(l.metadata.annotations?.note).toBe('hello');
        expect(l.spec.activeDeadlineSeconds).toBe(3600);
        expect(l.spec.tolerations?.some((t) => t.key === 'extra')).toBe(true);
      },
      { what: 'lower pod updated in place' },
    );
    await kubectl(upper, ['delete', 'pod', 'updatable', '-n', ns, '--wait=true', '--timeout=60s']);
  });

  it('converges after fedlet is SIGKILLed during a 200-pod scale-up: exactly 200 lower pods, all Running', async () => {
    await kubectl(upper, ['scale', 'deployment', 'web', '-n', ns, '--replicas=0']);
    await eventually(
      async () => {
        if ((await upperPods('app=web')).length) throw new Error('web pods left');
      },
      { timeoutMs: 120_000 },
    );
    await kubectl(upper, ['apply', '-f', '-'], {
      input: deployment('burst', 200, { nodeSelector: { 'fedlet.io/cluster': f1.cluster } }),
    });
    // Kill fedlet once some, but not all, lower pods exist.
    await eventually(
      async () => {
        const n = (await lowerPods(lower1, ns, 'app=burst')).length;
        if (n < 20) throw new Error(`${n} lower pods so far`);
      },
      { timeoutMs: 120_000, intervalMs: 100, what: 'scale-up under way' },
    );
    await stopFedlet(s, f1.cluster, 'SIGKILL');
    const atKill = (await lowerPods(lower1, ns, 'app=burst')).length;
    startFedlet(s, f1.cluster);
    saveState(s);
    await waitRunning('app=burst', 200, 240_000);
    const lows = await lowerPods(lower1, ns, 'app=burst');
    expect(lows).toHaveLength(200);
    expect(new Set(lows.map((p) => p.metadata.name)).size).toBe(200);
    const ups = new Set((await upperPods('app=burst')).map((p) => p.metadata.uid));
    expect(lows.every((l) => ups.has(l.metadata.labels!['fedlet.io/upper-uid']!))).toBe(true);
    expect(atKill).toBeLessThan(200);
    await kubectl(upper, ['delete', 'deployment', 'burst', '-n', ns]);
    await eventually(
      async () => {
        const n = (await lowerPods(lower1, ns, 'app=burst')).length;
        if (n) throw new Error(`${n} lower pods left`);
      },
      { timeoutMs: 180_000, what: 'burst pods removed' },
    );
  });

  it('maps a 60-character namespace through the template, shortened with a stable hash', async () => {
    const longNs = `long-${'n'.repeat(55)}`;
    expect(longNs).toHaveLength(60);
    await kubectl(upper, ['create', 'namespace', longNs]);
    try {
      await eventually(() => kubectl(upper, ['get', 'serviceaccount', 'default', '-n', longNs]), {
        what: 'default service account',
      });
      await kubectl(upper, ['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'longns', namespace: longNs },
          spec: {
            nodeSelector: { 'fedlet.io/cluster': f2.cluster },
            containers: [{ name: 'c', image: 'registry.example/app:1' }],
          },
        }),
      });
      await eventually(
        async () => {
          const p = await kubectlJson<Pod>(upper, ['get', 'pod', 'longns', '-n', longNs]);
          if (!isReady(p)) throw new Error(`phase ${p.status?.phase}`);
        },
        { what: 'pod in long namespace Running' },
      );
      const mapped = (
        await kubectlJson<List<{ metadata: { name: string; annotations?: Record<string, string> } }>>(lower2, [
          'get',
          'namespaces',
        ])
      ).items.find((n) => n.metadata.annotations?.['fedlet.io/upper-namespace'] === longNs);
      expect(mapped).toBeDefined();
      expect(mapped!.metadata.name.length).toBeLessThanOrEqual(63);
      expect(mapped!.metadata.name).toMatch(/^long-n+-[0-9a-f]{10}$/);
      expect((await lowerPods(lower2, mapped!.metadata.name)).map((p) => p.metadata.name)).toEqual(['longns']);
    } finally {
      await kubectl(upper, ['delete', 'namespace', longNs, '--wait=false']);
    }
  });
});
