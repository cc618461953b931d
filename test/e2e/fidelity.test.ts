// Issue: what the upper pod says must be what happens below — lower refusals surface, conditions
// behave like a kubelet's, sync writes nothing when nothing changed, DaemonSets do not hang, lower
// namespaces go with their upper ones. Driven through the real kubectl against real clusters.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isProxyableAddress } from '../../sandbox/node-address.js';
import { saveState, startFedlet, stopFedlet, waitForNodesReady } from '../../sandbox/sandbox.js';
import { createNamespace, lowerNamespaceFor } from './framework/namespaces.js';
import { eventually, kubectl, kubectlJson, kubectlRaw, sandbox, type List } from './framework/kubectl.js';
import type { CoreEvent } from '../../src/kube/types.js';
import { isReady, type ApiPod as Pod } from './framework/pods.js';

const s = sandbox();
const upper = s.upperKubeconfig;
const [lower1, lower2] = s.lowerKubeconfigs as [string, string];
const [f1, f2] = s.fedlets as [(typeof s.fedlets)[0], (typeof s.fedlets)[0]];
const ns = 'fidelity-e2e';
const lowerNs1 = lowerNamespaceFor(f1, ns);
const lowerNs2 = lowerNamespaceFor(f2, ns);

const getPod = (name: string) => kubectlJson<Pod>(upper, ['get', 'pod', name, '-n', ns]);
const cond = (p: Pod, type: string) => p.status?.conditions?.find((c) => c.type === type);

async function events(name: string): Promise<CoreEvent[]> {
  return (
    await kubectlJson<List<CoreEvent>>(upper, ['get', 'events', '-n', ns, '--field-selector', `involvedObject.name=${name}`])
  ).items;
}

function podManifest(name: string, spec: Record<string, unknown> = {}, labels: Record<string, string> = {}): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels },
    spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'registry.example/app:1' }], ...spec },
  });
}
const onCluster = (cluster: string) => ({ nodeSelector: { 'fedlet.io/cluster': cluster } });

beforeAll(async () => {
  await createNamespace(upper, ns);
  // The lower namespace of cluster 1 exists before fedlet needs it: its admins own it (and its policies)
  // and grant it to fedlet (without the grant fedlet would not use it: LowerNamespaceNotOwned).
  await kubectl(lower1, ['create', 'namespace', lowerNs1]);
  await kubectl(lower1, ['label', 'namespace', lowerNs1, `fedlet.io/grant=${f1.nodeName}`]);
});

afterAll(async () => {
  await kubectl(upper, ['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
  await kubectl(lower1, ['delete', 'namespace', lowerNs1, '--wait=false']).catch(() => undefined);
});

describe('lower refusals surface on the upper pod', () => {
  it('a lower ResourceQuota refusal: reason LowerRejected, condition and Warning event with the lower message, logs/exec say why; runs once the quota allows', async () => {
    await kubectl(lower1, ['create', 'quota', 'no-pods', '-n', lowerNs1, '--hard=pods=0']);
    await kubectl(upper, ['apply', '-f', '-'], { input: podManifest('quota', onCluster(f1.cluster)) });
    const p = await eventually(
      async () => {
        const p = await getPod('quota');
        if (p.status?.reason !== 'LowerRejected') throw new Error(`reason ${p.status?.reason}`);
        return p;
      },
      { what: 'upper pod LowerRejected' },
    );
    expect(p.spec.nodeName).toBe(f1.nodeName);
    expect(p.status?.phase).toBe('Pending');
    expect(p.status?.message).toMatch(/exceeded quota: no-pods/);
    expect(cond(p, 'fedlet.io/LowerAccepted')).toMatchObject({ status: 'False', reason: 'LowerRejected' });
    expect(cond(p, 'fedlet.io/LowerAccepted')?.message).toMatch(/exceeded quota/);
    await eventually(
      async () => {
        const e = (await events('quota')).find((x) => x.reason === 'LowerRejected');
        if (!e) throw new Error('no LowerRejected event yet');
        expect(e.type).toBe('Warning');
        expect(e.message).toContain(`lower cluster ${f1.cluster} refused the pod`);
        expect(e.message).toMatch(/exceeded quota/);
      },
      { what: 'LowerRejected event' },
    );
    expect(await kubectl(upper, ['get', 'pod', 'quota', '-n', ns])).toMatch(/LowerRejected/);
    const logs = await kubectlRaw(upper, ['logs', 'quota', '-n', ns]);
    expect(logs.code).not.toBe(0);
    expect(logs.stderr).toMatch(/has not started: lower cluster lower-1 refused the pod \(403\).*exceeded quota/);
    const exec = await kubectlRaw(upper, ['exec', 'quota', '-n', ns, '--', 'true']);
    expect(exec.code).not.toBe(0);
    expect(exec.stderr).toMatch(/exceeded quota/);
    // A quota can free up: the pod is retried (with backoff) and is never failed for it.
    await kubectl(lower1, ['delete', 'quota', 'no-pods', '-n', lowerNs1]);
    const running = await eventually(
      async () => {
        const p = await getPod('quota');
        if (!isReady(p)) throw new Error(`phase ${p.status?.phase} ${p.status?.reason ?? ''}`);
        return p;
      },
      { timeoutMs: 90_000, what: 'pod Running once the quota allows it' },
    );
    expect(running.status?.reason).toBeUndefined();
    expect(cond(running, 'fedlet.io/LowerAccepted')).toBeUndefined();
    await kubectl(upper, ['delete', 'pod', 'quota', '-n', ns, '--wait=true', '--timeout=60s']);
  });

  it('a PodSecurity `restricted` lower namespace: LowerRejected, then the pod fails and its replacement runs in the other cluster', async () => {
    await kubectl(lower1, ['label', 'namespace', lowerNs1, 'pod-security.kubernetes.io/enforce=restricted']);
    try {
      await kubectl(upper, ['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'psa', namespace: ns },
          spec: {
            replicas: 1,
            selector: { matchLabels: { app: 'psa' } },
            template: {
              metadata: { labels: { app: 'psa' } },
              spec: {
                terminationGracePeriodSeconds: 1,
                // Prefer cluster 1 so that the first pod meets its policy.
                affinity: {
                  nodeAffinity: {
                    preferredDuringSchedulingIgnoredDuringExecution: [
                      {
                        weight: 100,
                        preference: { matchExpressions: [{ key: 'fedlet.io/cluster', operator: 'In', values: [f1.cluster] }] },
                      },
                    ],
                  },
                },
                containers: [{ name: 'c', image: 'registry.example/app:1' }],
              },
            },
          },
        }),
      });
      const list = async () => (await kubectlJson<List<Pod>>(upper, ['get', 'pods', '-n', ns, '-l', 'app=psa'])).items;
      const refused = await eventually(
        async () => {
          const p = (await list()).find((x) => x.status?.reason === 'LowerRejected');
          if (!p) throw new Error('no refused pod yet');
          return p;
        },
        { what: 'first pod LowerRejected' },
      );
      expect(refused.spec.nodeName).toBe(f1.nodeName);
      expect(refused.status?.message).toMatch(/violates PodSecurity "restricted/);
      const failed = await eventually(
        async () => {
          const p = await getPod(refused.metadata.name);
          if (p.status?.phase !== 'Failed') throw new Error(`phase ${p.status?.phase}`);
          return p;
        },
        { timeoutMs: 150_000, what: 'refused pod Failed after bounceAfterSeconds' },
      );
      expect(failed.status?.reason).toBe('LowerRejected');
      expect(failed.status?.message).toMatch(/violates PodSecurity/);
      // A failed pod's containers are not ready (READY 0/1).
      expect(cond(failed, 'Ready')?.status).toBe('False');
      const replacement = await eventually(
        async () => {
          const r = (await list()).find((x) => x.metadata.uid !== refused.metadata.uid && isReady(x));
          if (!r) throw new Error('no Running replacement yet');
          return r;
        },
        { timeoutMs: 120_000, what: 'replacement Running' },
      );
      expect(replacement.spec.nodeName).toBe(f2.nodeName);
      // The first replacement already went elsewhere: the pod was failed only once the extender knew to
      // keep its controller away (a failed pod stays listed, so a second refusal would show here).
      const failedPods = (await list()).filter((x) => x.status?.phase === 'Failed');
      expect(failedPods.map((x) => x.metadata.uid)).toEqual([refused.metadata.uid]);
      const logs = await kubectlRaw(upper, ['logs', refused.metadata.name, '-n', ns]);
      expect(logs.stderr).toMatch(/violates PodSecurity/);
      expect((await kubectl(lower1, ['get', 'pods', '-n', lowerNs1, '-o', 'name'])).trim()).toBe('');
    } finally {
      await kubectl(lower1, ['label', 'namespace', lowerNs1, 'pod-security.kubernetes.io/enforce-']);
      await kubectl(upper, ['delete', 'deployment', 'psa', '-n', ns, '--wait=true']);
    }
  });
});

describe('conditions like a kubelet', () => {
  it("a readiness gate set by another party holds the pod unready and survives fedlet's status writes; True makes it Ready", async () => {
    const gate = 'example.com/gate';
    await kubectl(upper, ['apply', '-f', '-'], {
      input: podManifest('gated', { ...onCluster(f2.cluster), readinessGates: [{ conditionType: gate }] }),
    });
    const setGate = (status: string) =>
      kubectl(upper, [
        'patch',
        'pod',
        'gated',
        '-n',
        ns,
        '--subresource=status',
        '--type=strategic',
        '-p',
        JSON.stringify({ status: { conditions: [{ type: gate, status, reason: 'SetByTest' }] } }),
      ]);
    // Containers ready, no gate condition yet: not Ready, as a kubelet would say.
    const before = await eventually(
      async () => {
        const p = await getPod('gated');
        if (cond(p, 'ContainersReady')?.status !== 'True')
          throw new Error(`ContainersReady ${cond(p, 'ContainersReady')?.status}`);
        return p;
      },
      { timeoutMs: 90_000, what: 'gated pod containers ready' },
    );
    expect(before.status?.phase).toBe('Running');
    expect(cond(before, 'Ready')).toMatchObject({ status: 'False', reason: 'ReadinessGatesNotReady' });
    expect(cond(before, 'Ready')?.message).toMatch(/readiness gate "example.com\/gate" does not exist/);

    await setGate('False');
    // fedlet writes Ready again (new message) and keeps the gate's condition.
    const held = await eventually(
      async () => {
        const p = await getPod('gated');
        if (!/is not "True", but False/.test(cond(p, 'Ready')?.message ?? ''))
          throw new Error(`Ready ${JSON.stringify(cond(p, 'Ready'))}`);
        return p;
      },
      { what: 'Ready message names the False gate' },
    );
    expect(cond(held, gate)).toMatchObject({ status: 'False', reason: 'SetByTest' });
    expect(cond(held, 'Ready')?.status).toBe('False');
    // Still there a few status-sync rounds later.
    await new Promise((r) => setTimeout(r, 5000));
    const later = await getPod('gated');
    expect(cond(later, gate)?.status).toBe('False');
    expect(cond(later, 'Ready')?.status).toBe('False');

    await setGate('True');
    const ready = await eventually(
      async () => {
        const p = await getPod('gated');
        if (!isReady(p)) throw new Error(`Ready ${JSON.stringify(cond(p, 'Ready'))}`);
        return p;
      },
      { what: 'Ready once the gate is True' },
    );
    expect(cond(ready, gate)?.status).toBe('True');
    expect(await kubectl(upper, ['get', 'pod', 'gated', '-n', ns, '-o', 'wide'])).toMatch(/1\/1\s+Running[\s\S]*1\/1\s*$/m);
    await kubectl(upper, ['delete', 'pod', 'gated', '-n', ns, '--wait=true', '--timeout=60s']);
  });

  it('a pod fedlet fails (its lower pod was deleted) reports its containers not ready: READY 0/1', async () => {
    await kubectl(upper, ['apply', '-f', '-'], { input: podManifest('lost', onCluster(f2.cluster)) });
    await eventually(async () => expect(isReady(await getPod('lost'))).toBe(true), { timeoutMs: 90_000, what: 'lost Running' });
    await kubectl(lower2, ['delete', 'pod', 'lost', '-n', lowerNs2, '--wait=false']);
    const failed = await eventually(
      async () => {
        const p = await getPod('lost');
        if (p.status?.phase !== 'Failed') throw new Error(`phase ${p.status?.phase}`);
        return p;
      },
      { what: 'lost Failed' },
    );
    expect(failed.status?.reason).toBe('LowerPodDeleted');
    expect(failed.status?.containerStatuses?.map((c) => c.ready)).toEqual([false]);
    expect(cond(failed, 'Ready')?.status).toBe('False');
    expect(cond(failed, 'ContainersReady')?.status).toBe('False');
    expect(await kubectl(upper, ['get', 'pod', 'lost', '-n', ns, '--no-headers'])).toMatch(
      /^lost\s+0\/1\s+Error|^lost\s+0\/1\s+\S+/,
    );
    await kubectl(upper, ['delete', 'pod', 'lost', '-n', ns, '--wait=true', '--timeout=60s']);
  });
});

/** PATCH/PUT requests on pods (any subresource) an API server has answered since it started. */
async function podWrites(kubeconfig: string, subresource?: string): Promise<number> {
  const text = await kubectl(kubeconfig, ['get', '--raw', '/metrics']);
  let n = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (labels.resource !== 'pods' || !['PATCH', 'PUT', 'APPLY'].includes(labels.verb ?? '')) continue;
    if (subresource !== undefined && labels.subresource !== subresource) continue;
    n += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return n;
}

describe('zero-write sync', () => {
  it('removing an upper label removes it below; labels the lower cluster adds stay', async () => {
    await kubectl(upper, ['apply', '-f', '-'], { input: podManifest('labelled', onCluster(f2.cluster), { tier: 'gold' }) });
    await eventually(async () => expect(isReady(await getPod('labelled'))).toBe(true), {
      timeoutMs: 90_000,
      what: 'labelled Running',
    });
    const lowerLabels = async () =>
      (await kubectlJson<Pod>(lower2, ['get', 'pod', 'labelled', '-n', lowerNs2])).metadata.labels ?? {};
    expect((await lowerLabels()).tier).toBe('gold');
    await kubectl(lower2, ['label', 'pod', 'labelled', '-n', lowerNs2, 'lower.example/owned-below=yes']);
    await kubectl(upper, ['annotate', 'pod', 'labelled', '-n', ns, 'note=hello']);
    await eventually(
      async () => {
        const a = (await kubectlJson<Pod>(lower2, ['get', 'pod', 'labelled', '-n', lowerNs2])).metadata.annotations ?? {};
        if (a.note !== 'hello') throw new Error('annotation not below yet');
      },
      { what: 'annotation propagated' },
    );
    await kubectl(upper, ['label', 'pod', 'labelled', '-n', ns, 'tier-']);
    await kubectl(upper, ['annotate', 'pod', 'labelled', '-n', ns, 'note-']);
    await eventually(
      async () => {
        const low = await kubectlJson<Pod>(lower2, ['get', 'pod', 'labelled', '-n', lowerNs2]);
        if ('tier' in (low.metadata.labels ?? {})) throw new Error('tier still below');
        if ('note' in (low.metadata.annotations ?? {})) throw new Error('note still below');
      },
      { what: 'label and annotation removed below' },
    );
    expect((await lowerLabels())['lower.example/owned-below']).toBe('yes');
    await kubectl(upper, ['delete', 'pod', 'labelled', '-n', ns, '--wait=true', '--timeout=60s']);
  });

  it('restarting fedlet with unchanged Running pods writes no pod in either cluster, and no token Secret', async () => {
    await kubectl(upper, ['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'steady', namespace: ns },
        spec: {
          replicas: 10,
          selector: { matchLabels: { app: 'steady' } },
          template: {
            metadata: { labels: { app: 'steady' }, annotations: { 'example.com/note': 'x' } },
            spec: {
              ...onCluster(f1.cluster),
              terminationGracePeriodSeconds: 1,
              containers: [{ name: 'c', image: 'registry.example/app:1' }],
            },
          },
        },
      }),
    });
    await eventually(
      async () => {
        const pods = (await kubectlJson<List<Pod>>(upper, ['get', 'pods', '-n', ns, '-l', 'app=steady'])).items;
        if (pods.filter(isReady).length !== 10) throw new Error(`${pods.filter(isReady).length}/10 Ready`);
      },
      { timeoutMs: 120_000, what: '10 steady pods Running' },
    );
    // The lower cluster adds a label of its own to one pod: not fedlet's to correct.
    const lowerOne = (await kubectl(lower1, ['get', 'pods', '-n', lowerNs1, '-l', 'app=steady', '-o', 'name']))
      .trim()
      .split('\n')[0]!;
    await kubectl(lower1, ['label', lowerOne, '-n', lowerNs1, 'lower.example/added=1']);
    await new Promise((r) => setTimeout(r, 3000));
    const log = path.join(s.dir, `fedlet-${f1.cluster}.log`);
    const starts = () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => l.includes('pod controller started')).length;
    const startsBefore = starts();
    // The restart must stay shorter than the upper node grace period (20 s in the sandbox): else the
    // node lifecycle controller marks the pods NotReady and fedlet rightly writes them back. So stop
    // just after a heartbeat, and hand the leader lease over at once (the old process is gone).
    await eventually(
      async () => {
        const renew = await kubectl(upper, [
          'get',
          'lease',
          f1.nodeName,
          '-n',
          'kube-node-lease',
          '-o',
          'jsonpath={.spec.renewTime}',
        ]);
        if (Date.now() - Date.parse(renew) > 2000) throw new Error(`last heartbeat ${renew}`);
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'a fresh node heartbeat' },
    );
    await stopFedlet(s, f1.cluster);
    await kubectl(upper, ['delete', 'lease', `${f1.nodeName}-leader`, '-n', 'kube-node-lease', '--ignore-not-found']);
    const before = { upper: await podWrites(upper), lower: await podWrites(lower1, '') };
    // The pods' token Secrets below (the namespace is granted, not created by fedlet): a restart that did
    // not know them would issue every token again and rewrite each Secret.
    const tokenSecrets = async () =>
      kubectl(lower1, [
        'get', 'secrets', '-n', lowerNs1, '-l', 'fedlet.io/service-account-token',
        '-o', 'jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion}{"\\n"}{end}',
      ]); // prettier-ignore
    const secretsBefore = await tokenSecrets();
    expect(secretsBefore.trim().split('\n').length).toBeGreaterThanOrEqual(10);
    startFedlet(s, f1.cluster);
    saveState(s);
    await waitForNodesReady(s, [f1.nodeName], 90_000);
    // The restarted fedlet syncs every pod once its caches are synced ("pod controller started").
    await eventually(
      async () => {
        if (starts() <= startsBefore) throw new Error('pod controller not started yet');
      },
      { what: 'restarted pod controller started' },
    );
    await new Promise((r) => setTimeout(r, 15_000));
    const after = { upper: await podWrites(upper), lower: await podWrites(lower1, '') };
    expect({ upper: after.upper - before.upper, lower: after.lower - before.lower }).toEqual({ upper: 0, lower: 0 });
    expect(await tokenSecrets()).toBe(secretsBefore);
    await kubectl(upper, ['delete', 'deployment', 'steady', '-n', ns, '--wait=true']);
  });
});

describe('DaemonSets and virtual nodes', () => {
  it('a real DaemonSet completes `kubectl rollout status` with virtual nodes present; a plain Deployment still lands on them', async () => {
    for (const f of [f1, f2]) {
      const taints = await kubectl(upper, ['get', 'node', f.nodeName, '-o', 'jsonpath={.spec.taints}']);
      expect(JSON.parse(taints)).toContainEqual({ key: 'fedlet.io/virtual-node', value: 'true', effect: 'NoSchedule' });
    }
    await kubectl(upper, ['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'agent', namespace: ns },
        spec: {
          selector: { matchLabels: { app: 'agent' } },
          template: {
            metadata: { labels: { app: 'agent' } },
            spec: { containers: [{ name: 'agent', image: 'registry.example/agent:1' }] },
          },
        },
      }),
    });
    try {
      const out = await kubectl(upper, ['rollout', 'status', 'daemonset/agent', '-n', ns, '--timeout=90s'], {
        timeoutMs: 120_000,
      });
      expect(out).toMatch(/successfully rolled out/);
      const pods = (await kubectlJson<List<Pod>>(upper, ['get', 'pods', '-n', ns, '-l', 'app=agent'])).items;
      expect(pods).toEqual([]);
      // Plain workloads are unchanged for their authors: no toleration in the manifest, yet they run
      // on virtual nodes (the webhook added the toleration at creation).
      await kubectl(upper, ['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'plain', namespace: ns },
          spec: {
            replicas: 2,
            selector: { matchLabels: { app: 'plain' } },
            template: {
              metadata: { labels: { app: 'plain' } },
              spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'registry.example/app:1' }] },
            },
          },
        }),
      });
      const plain = await eventually(
        async () => {
          const list = (await kubectlJson<List<Pod>>(upper, ['get', 'pods', '-n', ns, '-l', 'app=plain'])).items;
          if (list.filter(isReady).length !== 2) throw new Error(`${list.filter(isReady).length}/2 Ready`);
          return list;
        },
        { timeoutMs: 90_000, what: 'plain Deployment Running' },
      );
      for (const p of plain) expect([f1.nodeName, f2.nodeName]).toContain(p.spec.nodeName);
      const tolerations = await kubectl(upper, [
        'get',
        'pod',
        plain[0]!.metadata.name,
        '-n',
        ns,
        '-o',
        'jsonpath={.spec.tolerations}',
      ]);
      expect(JSON.parse(tolerations)).toContainEqual({
        key: 'fedlet.io/virtual-node',
        operator: 'Equal',
        value: 'true',
        effect: 'NoSchedule',
      });
    } finally {
      await kubectl(upper, ['delete', 'daemonset', 'agent', '-n', ns, '--ignore-not-found']);
      await kubectl(upper, ['delete', 'deployment', 'plain', '-n', ns, '--ignore-not-found', '--wait=true']);
    }
  });
});

describe('lower namespace lifecycle', () => {
  it('a lower namespace fedlet created goes when nothing of its remains and with its upper namespace; one it did not create stays', async () => {
    const up = 'fidelity-ns-life';
    const own2 = lowerNamespaceFor(f2, up); // created by fedlet in lower-2
    const theirs1 = lowerNamespaceFor(f1, up); // created by the lower cluster's admins in lower-1, and granted to fedlet
    await kubectl(lower1, ['create', 'namespace', theirs1]);
    await kubectl(lower1, ['label', 'namespace', theirs1, `fedlet.io/grant=${f1.cluster}`]);
    await createNamespace(upper, up);
    const exists = async (kubeconfig: string, name: string) =>
      (await kubectlRaw(kubeconfig, ['get', 'namespace', name, '-o', 'name'])).code === 0;
    const runPod = async (name: string, cluster: string) => {
      await kubectl(upper, ['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name, namespace: up },
          spec: {
            ...onCluster(cluster),
            terminationGracePeriodSeconds: 1,
            containers: [{ name: 'c', image: 'registry.example/app:1' }],
          },
        }),
      });
      await eventually(
        async () => {
          const p = await kubectlJson<Pod>(upper, ['get', 'pod', name, '-n', up]);
          if (!isReady(p)) throw new Error(`phase ${p.status?.phase}`);
        },
        { timeoutMs: 90_000, what: `${name} Running` },
      );
    };
    try {
      await runPod('a', f2.cluster);
      await runPod('b', f1.cluster);
      const created = await kubectlJson<{ metadata: { labels?: Record<string, string> } }>(lower2, ['get', 'namespace', own2]);
      expect(created.metadata.labels?.['fedlet.io/origin']).toBe(f2.nodeName);
      // Nothing of fedlet's left in it: the namespace fedlet created goes, once its grace period is over
      // (the sandbox's fedlets keep it 20 s: pods that come back soon find it ready, not terminating).
      await kubectl(upper, ['delete', 'pod', 'a', '-n', up, '--wait=true', '--timeout=60s']);
      await new Promise((r) => setTimeout(r, 5000));
      expect(await exists(lower2, own2)).toBe(true);
      await eventually(
        async () => {
          if (await exists(lower2, own2)) throw new Error(`${own2} still exists`);
        },
        { timeoutMs: 90_000, what: `${own2} deleted once empty` },
      );
      // Needed again: created again.
      await runPod('a2', f2.cluster);
      expect(await exists(lower2, own2)).toBe(true);
      // The upper namespace goes: so does the lower one fedlet created; the admins' one stays.
      await kubectl(upper, ['delete', 'namespace', up, '--wait=false']);
      await eventually(
        async () => {
          if (await exists(lower2, own2)) throw new Error(`${own2} still exists`);
        },
        { timeoutMs: 120_000, what: `${own2} deleted with the upper namespace` },
      );
      await eventually(
        async () => {
          const left = (await kubectl(lower1, ['get', 'pods', '-n', theirs1, '-o', 'name'])).trim();
          if (left) throw new Error(`pods left in ${theirs1}: ${left}`);
        },
        { timeoutMs: 90_000, what: `fedlet's pods gone from ${theirs1}` },
      );
      await new Promise((r) => setTimeout(r, 5000)); // a garbage-collection round or two
      expect(await exists(lower1, theirs1)).toBe(true);
    } finally {
      await kubectl(upper, ['delete', 'namespace', up, '--wait=false', '--ignore-not-found']);
      await kubectl(lower1, ['delete', 'namespace', theirs1, '--wait=false', '--ignore-not-found']);
    }
  });
});

describe('virtual-kubelet conventions', () => {
  it('optional missing Secret → OptionalSecretNotFound; a projected volume keeps all but its token source (with an event)', async () => {
    await kubectl(upper, ['create', 'configmap', 'bundle-cm', '-n', ns, '--from-literal=k=v']);
    await kubectl(upper, ['apply', '-f', '-'], {
      input: podManifest('conv', {
        ...onCluster(f2.cluster),
        containers: [
          {
            name: 'c',
            image: 'registry.example/app:1',
            envFrom: [{ secretRef: { name: 'absent', optional: true } }],
            volumeMounts: [{ name: 'bundle', mountPath: '/etc/bundle' }],
          },
        ],
        volumes: [
          {
            name: 'bundle',
            projected: {
              sources: [
                { configMap: { name: 'bundle-cm' } },
                { downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
                { serviceAccountToken: { path: 'token', audience: 'vault' } },
              ],
            },
          },
        ],
      }),
    });
    await eventually(async () => expect(isReady(await getPod('conv'))).toBe(true), { timeoutMs: 90_000, what: 'conv Running' });
    await eventually(
      async () => {
        const ev = await events('conv');
        const optional = ev.find((e) => e.reason === 'OptionalSecretNotFound');
        if (!optional) throw new Error(`events: ${ev.map((e) => e.reason).join(',')}`);
        expect(optional.type).toBe('Warning');
        expect(optional.message).toContain(`${ns}/absent`);
      },
      { what: 'OptionalSecretNotFound event' },
    );
    const low = await kubectlJson<{
      spec: {
        volumes?: Array<{ name: string; projected?: { sources: Array<Record<string, unknown>> } }>;
        containers: Array<{ volumeMounts?: Array<{ name: string }> }>;
      };
    }>(lower2, ['get', 'pod', 'conv', '-n', lowerNs2]);
    const bundle = low.spec.volumes?.find((v) => v.name === 'bundle');
    // Every source is kept; the token source is served from fedlet's token Secret (service-account.ts).
    const kinds = bundle?.projected?.sources.map((src) => Object.keys(src)[0]);
    expect(kinds).toEqual(expect.arrayContaining(['configMap', 'downwardAPI', 'secret']));
    expect(kinds).not.toContain('serviceAccountToken');
    expect(low.spec.containers[0]!.volumeMounts?.map((m) => m.name)).toContain('bundle');
    expect((await kubectl(lower2, ['get', 'configmap', 'bundle-cm', '-n', lowerNs2, '-o', 'jsonpath={.data.k}'])).trim()).toBe(
      'v',
    );
  });

  it.skipIf(!isProxyableAddress(s.nodeIP ?? '127.0.0.1'))(
    "/metrics/resource serves the kubelet's pod series (pod_cpu_usage_seconds_total, pod_memory_working_set_bytes)",
    async () => {
      const text = await eventually(
        async () => {
          const t = await kubectl(upper, ['get', '--raw', `/api/v1/nodes/${f2.nodeName}/proxy/metrics/resource`]);
          if (!new RegExp(`^pod_cpu_usage_seconds_total\\{namespace="${ns}",pod="conv"\\} [0-9.e+-]+`, 'm').test(t))
            throw new Error('no pod cpu series for conv yet');
          return t;
        },
        { timeoutMs: 60_000, what: 'pod series for conv' },
      );
      expect(text).toMatch(new RegExp(`^pod_memory_working_set_bytes\\{namespace="${ns}",pod="conv"\\} \\d+`, 'm'));
      for (const name of [
        'node_cpu_usage_seconds_total',
        'node_memory_working_set_bytes',
        'container_cpu_usage_seconds_total',
        'container_memory_working_set_bytes',
        'container_start_time_seconds',
        'pod_cpu_usage_seconds_total',
        'pod_memory_working_set_bytes',
        'scrape_error',
      ])
        expect(text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
      await kubectl(upper, ['delete', 'pod', 'conv', '-n', ns, '--wait=true', '--timeout=60s']);
    },
  );
});

describe('what the extender assumed holds below', () => {
  it('a NotIn node-affinity term on a lower-only label (zone) keeps every replica off the excluded lower node', async () => {
    const nodes = (
      await kubectlJson<List<{ metadata: { name: string; labels: Record<string, string> } }>>(lower1, ['get', 'nodes'])
    ).items;
    const zones = [...new Set(nodes.map((n) => n.metadata.labels['topology.kubernetes.io/zone']!))].sort();
    expect(zones.length).toBeGreaterThan(1); // so zone is not a label of the virtual node
    const excluded = zones[0]!;
    await kubectl(upper, ['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'zoned', namespace: ns },
        spec: {
          replicas: 4,
          selector: { matchLabels: { app: 'zoned' } },
          template: {
            metadata: { labels: { app: 'zoned' } },
            spec: {
              ...onCluster(f1.cluster),
              terminationGracePeriodSeconds: 1,
              affinity: {
                nodeAffinity: {
                  requiredDuringSchedulingIgnoredDuringExecution: {
                    nodeSelectorTerms: [
                      { matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'NotIn', values: [excluded] }] },
                    ],
                  },
                },
              },
              containers: [{ name: 'c', image: 'registry.example/app:1' }],
            },
          },
        },
      }),
    });
    try {
      await eventually(
        async () => {
          const pods = (await kubectlJson<List<Pod>>(upper, ['get', 'pods', '-n', ns, '-l', 'app=zoned'])).items;
          if (pods.filter(isReady).length !== 4) throw new Error(`${pods.filter(isReady).length}/4 Ready`);
        },
        { timeoutMs: 120_000, what: '4 zoned pods Running' },
      );
      const lows = (
        await kubectlJson<List<Pod & { spec: { nodeName?: string; affinity?: unknown } }>>(lower1, [
          'get',
          'pods',
          '-n',
          lowerNs1,
          '-l',
          'app=zoned',
        ])
      ).items;
      expect(lows).toHaveLength(4);
      const zoneOf = new Map(nodes.map((n) => [n.metadata.name, n.metadata.labels['topology.kubernetes.io/zone']]));
      expect(lows.map((l) => zoneOf.get(l.spec.nodeName!))).not.toContain(excluded);
      for (const l of lows) expect(JSON.stringify(l.spec.affinity ?? {})).toContain(excluded);
    } finally {
      await kubectl(upper, ['delete', 'deployment', 'zoned', '-n', ns, '--wait=true']);
    }
  });
});

describe('RuntimeClass and PriorityClass below', () => {
  interface ClassPod {
    spec: {
      runtimeClassName?: string;
      priorityClassName?: string;
      priority?: number;
      preemptionPolicy?: string;
      overhead?: Record<string, string>;
    };
  }
  const classes = (runtime: string, overheadCpu: string, priority: string, value: number, extra: Record<string, unknown> = {}) =>
    [
      {
        apiVersion: 'node.k8s.io/v1',
        kind: 'RuntimeClass',
        metadata: { name: runtime },
        handler: 'runc',
        overhead: { podFixed: { cpu: overheadCpu } },
      },
      { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: priority }, value, ...extra },
    ]
      .map((o) => JSON.stringify(o))
      .join('\n');
  const classPod = (name: string, cluster: string) =>
    podManifest(name, { ...onCluster(cluster), runtimeClassName: 'fast', priorityClassName: 'important' });
  const kinds = ['runtimeclass/fast', 'priorityclass/important'];

  beforeAll(async () => {
    await kubectl(upper, ['apply', '-f', '-'], { input: classes('fast', '10m', 'important', 1000) });
    // Lower cluster 1 has them under other settings (and the RuntimeClass under another name); lower 2 has neither.
    await kubectl(lower1, ['apply', '-f', '-'], {
      input: classes('fast-below', '20m', 'important', 500, { preemptionPolicy: 'Never' }),
    });
  });
  afterAll(async () => {
    await kubectl(upper, ['delete', ...kinds, '--ignore-not-found']).catch(() => undefined);
    await kubectl(lower1, ['delete', 'runtimeclass/fast-below', 'priorityclass/important', '--ignore-not-found']).catch(
      () => undefined,
    );
  });

  it('a class the lower cluster has (under its runtimeClassMap name) stays on the lower pod, whose overhead and priority come from the lower classes', async () => {
    // fedlet of cluster 1 restarted with the name map.
    await stopFedlet(s, f1.cluster);
    await kubectl(upper, ['delete', 'lease', `${f1.nodeName}-leader`, '-n', 'kube-node-lease', '--ignore-not-found']);
    startFedlet(s, f1.cluster, { FEDLET_RUNTIME_CLASS_MAP: 'fast=fast-below' });
    saveState(s);
    await waitForNodesReady(s, [f1.nodeName], 90_000);
    await kubectl(upper, ['apply', '-f', '-'], { input: classPod('classy', f1.cluster) });
    await eventually(async () => expect(isReady(await getPod('classy'))).toBe(true), {
      timeoutMs: 90_000,
      what: 'classy Running',
    });
    const up = await kubectlJson<ClassPod>(upper, ['get', 'pod', 'classy', '-n', ns]);
    expect(up.spec).toMatchObject({
      runtimeClassName: 'fast',
      priorityClassName: 'important',
      priority: 1000,
      overhead: { cpu: '10m' },
    });
    const low = await kubectlJson<ClassPod>(lower1, ['get', 'pod', 'classy', '-n', lowerNs1]);
    expect(low.spec).toMatchObject({
      runtimeClassName: 'fast-below',
      overhead: { cpu: '20m' },
      priorityClassName: 'important',
      priority: 500,
      preemptionPolicy: 'Never',
    });
    const reasons = (await events('classy')).map((e) => e.reason);
    expect(reasons).not.toContain('RuntimeClassNotFound');
    expect(reasons).not.toContain('PriorityClassNotFound');
    await kubectl(upper, ['delete', 'pod', 'classy', '-n', ns, '--wait=true', '--timeout=60s']);
  });

  it('classes the lower cluster lacks are dropped with overhead and priority; the pod runs and says so in Warning events', async () => {
    await kubectl(upper, ['apply', '-f', '-'], { input: classPod('classless', f2.cluster) });
    await eventually(async () => expect(isReady(await getPod('classless'))).toBe(true), {
      timeoutMs: 90_000,
      what: 'classless Running',
    });
    const low = await kubectlJson<ClassPod>(lower2, ['get', 'pod', 'classless', '-n', lowerNs2]);
    expect(low.spec.runtimeClassName).toBeUndefined();
    expect(low.spec.overhead).toBeUndefined();
    expect(low.spec.priorityClassName).toBeUndefined();
    expect(low.spec.priority ?? 0).toBe(0); // the lower default: no global default PriorityClass there
    const ev = await eventually(
      async () => {
        const ev = await events('classless');
        if (!ev.some((e) => e.reason === 'RuntimeClassNotFound') || !ev.some((e) => e.reason === 'PriorityClassNotFound'))
          throw new Error(`events: ${ev.map((e) => e.reason).join(',')}`);
        return ev;
      },
      { what: 'class events' },
    );
    const rc = ev.find((e) => e.reason === 'RuntimeClassNotFound')!;
    expect(rc.type).toBe('Warning');
    expect(rc.message).toBe(
      `lower cluster ${f2.cluster} has no RuntimeClass "fast": the pod runs there without runtimeClassName and overhead`,
    );
    const pc = ev.find((e) => e.reason === 'PriorityClassNotFound')!;
    expect(pc.type).toBe('Warning');
    expect(pc.message).toMatch(
      new RegExp(
        `^lower cluster ${f2.cluster} has no PriorityClass "important": the pod runs there without priorityClassName, priority and preemptionPolicy`,
      ),
    );
    await kubectl(upper, ['delete', 'pod', 'classless', '-n', ns, '--wait=true', '--timeout=60s']);
  });
});
