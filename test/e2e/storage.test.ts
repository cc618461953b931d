// Issue 15: claims of the upper StorageClass `fedlet` run behind virtual nodes. The upper scheduler and
// PV controller are the real ones; fedlet provisions the upper PV pinned to the virtual node and the
// real claim in the lower cluster, where the real lower scheduler and PV controller bind it to a local
// volume the sandbox's provisioner creates on the node the lower scheduler picked (kwok nodes here; the
// data path through a real kubelet is storage-real.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveState, startFedlet, stopFedlet, waitForNodesReady } from '../../sandbox/sandbox.js';
import { createNamespace } from './framework/namespaces.js';
import { eventually, kubectl, kubectlJson, kubectlRaw, sandbox } from './framework/kubectl.js';
import type { ApiPod as Pod } from './framework/pods.js';
import { lowerOf as lowerSide } from './framework/storage.js';

const s = sandbox();
const ns = 'storage-e2e';
const upper = s.upperKubeconfig;
const lowerOf = (node: string) => lowerSide(s, node, ns);

interface ClaimJson {
  metadata: { name: string; uid: string; resourceVersion: string; annotations?: Record<string, string> };
  spec: { volumeName?: string; storageClassName?: string; resources?: { requests?: Record<string, string> } };
  status?: {
    phase?: string;
    capacity?: Record<string, string>;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
  };
}
interface VolumeJson {
  metadata: { name: string; resourceVersion: string; annotations?: Record<string, string> };
  spec: {
    capacity?: Record<string, string>;
    claimRef?: { name?: string; namespace?: string };
    nodeAffinity?: {
      required?: {
        nodeSelectorTerms?: Array<{ matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> }>;
      };
    };
  };
  status?: { phase?: string };
}

const getPod = (name: string) => kubectlJson<Pod>(upper, ['get', 'pod', name, '-n', ns]);
const getClaim = (name: string) => kubectlJson<ClaimJson>(upper, ['get', 'pvc', name, '-n', ns]);
const getLowerClaim = (node: string, name: string) => {
  const l = lowerOf(node);
  return kubectlJson<ClaimJson>(l.kubeconfig, ['get', 'pvc', name, '-n', l.ns]);
};
const running = async (name: string) => {
  const p = await getPod(name);
  if (p.status?.phase !== 'Running' || !p.spec.nodeName) throw new Error(`${name}: ${p.status?.phase} on ${p.spec.nodeName}`);
  return p;
};
const lowerClaimGone = async (node: string, name: string) => {
  const l = lowerOf(node);
  const r = await kubectlRaw(l.kubeconfig, ['get', 'pvc', name, '-n', l.ns]);
  if (r.code === 0) throw new Error(`lower claim ${l.ns}/${name} still exists`);
  if (!/NotFound/.test(r.stderr)) throw new Error(r.stderr);
};

const statefulSet = (replicas: number) =>
  JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web', namespace: ns },
    spec: {
      serviceName: 'web',
      replicas,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'c',
              image: 'registry.example/web:1',
              volumeMounts: [{ name: 'data', mountPath: '/data' }],
              resources: { requests: { cpu: '100m' } },
            },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'data' },
          spec: { storageClassName: 'fedlet', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
        },
      ],
    },
  });

const ephemeralPod = (name: string, storageClassName: string, nodeSelector?: Record<string, string>) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns },
    spec: {
      ...(nodeSelector ? { nodeSelector } : {}),
      containers: [{ name: 'c', image: 'registry.example/app:1', volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }] }],
      volumes: [
        {
          name: 'scratch',
          ephemeral: {
            volumeClaimTemplate: {
              spec: { storageClassName, accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '2Gi' } } },
            },
          },
        },
      ],
    },
  });

/** Where web-N runs and the uid of its lower claim. */
const placements = new Map<string, { node: string; lowerUid: string }>();

beforeAll(async () => {
  await createNamespace(upper, ns);
});

afterAll(async () => {
  await kubectlRaw(upper, ['delete', 'namespace', ns, '--wait=false']);
});

describe.skipIf(s.external)('storage: claims of the fedlet class on virtual nodes', () => {
  it('a StatefulSet with volumeClaimTemplates: claims bound to PVs pinned to the virtual nodes, lower claims bound, pods Running', async () => {
    await kubectl(upper, ['apply', '-f', '-'], { input: statefulSet(2) });
    for (const i of [0, 1]) {
      const pod = await eventually(() => running(`web-${i}`), { timeoutMs: 120_000, what: `web-${i} Running` });
      const node = pod.spec.nodeName!;
      const claim = await getClaim(`data-web-${i}`);
      expect(claim.status?.phase).toBe('Bound');
      const pv = await kubectlJson<VolumeJson>(upper, ['get', 'pv', claim.spec.volumeName!]);
      expect(pv.metadata.annotations?.['pv.kubernetes.io/provisioned-by']).toBe('fedlet.io/lower-cluster');
      expect(pv.spec.claimRef).toMatchObject({ namespace: ns, name: `data-web-${i}` });
      expect(pv.spec.nodeAffinity?.required?.nodeSelectorTerms?.[0]?.matchExpressions?.[0]).toEqual({
        key: 'kubernetes.io/hostname',
        operator: 'In',
        values: [node],
      });
      const l = lowerOf(node);
      expect(pv.metadata.annotations?.['fedlet.io/lower-claim']).toBe(`${l.cluster}/${l.ns}/data-web-${i}`);
      const lower = await eventually(
        async () => {
          const c = await getLowerClaim(node, `data-web-${i}`);
          if (c.status?.phase !== 'Bound') throw new Error(`lower claim ${c.status?.phase}`);
          return c;
        },
        { what: `lower claim data-web-${i} Bound` },
      );
      // Bound by the real lower PV controller to the local volume the sandbox provisioned for it.
      expect(lower.spec.storageClassName).toBe('local');
      expect(lower.spec.volumeName).toBe(`pvc-${lower.metadata.uid}`);
      // The lower pod mounts the lower claim.
      const lowerPod = await kubectlJson<{
        spec: { volumes?: Array<{ name: string; persistentVolumeClaim?: { claimName: string } }> };
      }>(l.kubeconfig, ['get', 'pod', `web-${i}`, '-n', l.ns]);
      expect(lowerPod.spec.volumes?.find((v) => v.name === 'data')?.persistentVolumeClaim?.claimName).toBe(`data-web-${i}`);
      // The lower claim's phase and capacity are mirrored onto the upper PV.
      await eventually(
        async () => {
          const v = await kubectlJson<VolumeJson>(upper, ['get', 'pv', claim.spec.volumeName!]);
          expect(v.metadata.annotations?.['fedlet.io/lower-phase']).toBe('Bound');
          expect(v.metadata.annotations?.['fedlet.io/lower-capacity']).toBe('1Gi');
        },
        { what: 'lower claim mirrored on the upper PV' },
      );
      placements.set(`web-${i}`, { node, lowerUid: lower.metadata.uid });
    }
  });

  it('kubectl delete pod web-0: the new web-0 lands on the same virtual node with the same lower claim', async () => {
    const before = await getPod('web-0');
    const was = placements.get('web-0')!;
    await kubectl(upper, ['delete', 'pod', 'web-0', '-n', ns, '--wait=false']);
    const after = await eventually(
      async () => {
        const p = await running('web-0');
        if (p.metadata.uid === before.metadata.uid) throw new Error('still the old web-0');
        return p;
      },
      { timeoutMs: 120_000, what: 'a new web-0 Running' },
    );
    expect(after.spec.nodeName).toBe(was.node);
    expect((await getLowerClaim(was.node, 'data-web-0')).metadata.uid).toBe(was.lowerUid);
  });

  it('scale to 0 and back keeps the claims', async () => {
    await kubectl(upper, ['scale', 'statefulset', 'web', '-n', ns, '--replicas=0']);
    await eventually(
      async () => {
        const left = (await kubectl(upper, ['get', 'pods', '-n', ns, '-l', 'app=web', '-o', 'name'])).trim();
        if (left) throw new Error(`pods left: ${left}`);
      },
      { timeoutMs: 120_000, what: 'web scaled to 0' },
    );
    for (const [pod, was] of placements) expect((await getLowerClaim(was.node, `data-${pod}`)).metadata.uid).toBe(was.lowerUid);
    await kubectl(upper, ['scale', 'statefulset', 'web', '-n', ns, '--replicas=2']);
    for (const [pod, was] of placements) {
      const p = await eventually(() => running(pod), { timeoutMs: 120_000, what: `${pod} Running again` });
      expect(p.spec.nodeName).toBe(was.node);
      expect((await getLowerClaim(was.node, `data-${pod}`)).metadata.uid).toBe(was.lowerUid);
    }
  });

  it('expansion: a grown claim grows its lower claim, capacity follows the lower result; refusals say why', async () => {
    const resize = (claim: string, size: string) =>
      kubectl(upper, [
        'patch',
        'pvc',
        claim,
        '-n',
        ns,
        '-p',
        JSON.stringify({ spec: { resources: { requests: { storage: size } } } }),
      ]);
    const w0 = placements.get('web-0')!;
    const volume0 = (await getClaim('data-web-0')).spec.volumeName!;
    // 1536Mi: the sandbox's provisioner sizes volumes in whole GiB, so the lower result (2Gi) is not the request.
    await resize('data-web-0', '1536Mi');
    await eventually(
      async () => {
        const lower = await getLowerClaim(w0.node, 'data-web-0');
        expect(lower.spec.resources?.requests?.storage).toBe('1536Mi');
        expect(lower.status?.capacity?.storage).toBe('2Gi');
        const pv = await kubectlJson<VolumeJson>(upper, ['get', 'pv', volume0]);
        expect(pv.spec.capacity?.storage).toBe('2Gi');
        const c = await getClaim('data-web-0');
        expect(c.status?.capacity?.storage).toBe('2Gi');
      },
      { timeoutMs: 60_000, what: 'data-web-0 grown to 2Gi below and above' },
    );
    // The same lower claim: its data stays.
    expect((await getLowerClaim(w0.node, 'data-web-0')).metadata.uid).toBe(w0.lowerUid);

    // A lower class that does not allow expansion: refused with the reason on the upper claim.
    const w1 = placements.get('web-1')!;
    const l1 = lowerOf(w1.node);
    const setExpansion = (on: boolean) =>
      kubectl(l1.kubeconfig, ['patch', 'storageclass', 'local', '-p', JSON.stringify({ allowVolumeExpansion: on })]);
    await setExpansion(false);
    try {
      await resize('data-web-1', '2Gi');
      await eventually(
        async () => {
          const c = await getClaim('data-web-1');
          const cond = c.status?.conditions?.find((x) => x.type === 'ControllerResizeError');
          expect(cond).toMatchObject({ status: 'True', reason: 'ExpansionRefused' });
          expect(cond?.message).toMatch(/lower storage class local .* does not allow volume expansion/);
          const d = await kubectl(upper, ['describe', 'pvc', 'data-web-1', '-n', ns]);
          expect(d).toMatch(/ExpansionRefused/);
        },
        { timeoutMs: 60_000, what: 'data-web-1 growth refused with a reason' },
      );
      expect((await getClaim('data-web-1')).status?.capacity?.storage).toBe('1Gi');
      expect((await getLowerClaim(w1.node, 'data-web-1')).spec.resources?.requests?.storage).toBe('1Gi');
    } finally {
      await setExpansion(true);
    }
    // Allowed again: the pending growth goes through and the condition goes away.
    await eventually(
      async () => {
        const c = await getClaim('data-web-1');
        expect(c.status?.capacity?.storage).toBe('2Gi');
        expect(c.status?.conditions ?? []).toEqual([]);
      },
      { timeoutMs: 60_000, what: 'data-web-1 grown once the lower class allows it' },
    );

    // The lower cluster refusing the growth (beyond the sandbox's largest volume): its reason reaches the upper claim.
    await resize('data-web-1', '200Gi');
    await eventually(
      async () => {
        const events = await kubectl(upper, ['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=data-web-1']);
        expect(events).toMatch(/VolumeResizeFailed/);
        expect(events).toMatch(new RegExp(`\\[${l1.cluster}\\].*exceeds the largest sandbox local-path volume`));
      },
      { timeoutMs: 60_000, what: 'the lower refusal mirrored onto data-web-1' },
    );
    expect((await getClaim('data-web-1')).status?.capacity?.storage).toBe('2Gi');
  });

  it('a cluster without a lower class for the claim: the pod is kept off it with a reason; fedlet restarts change nothing', async () => {
    const f2 = s.fedlets[1]!;
    const lowerRvs = async () =>
      Object.fromEntries(
        await Promise.all(
          [...placements].map(async ([pod, p]) => [pod, (await getLowerClaim(p.node, `data-${pod}`)).metadata.resourceVersion]),
        ),
      );
    const pvRvs = async () =>
      (
        await kubectl(upper, [
          'get',
          'pv',
          '-l',
          'fedlet.io/origin',
          '-o',
          'jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion}{"\\n"}{end}',
        ])
      )
        .trim()
        .split('\n')
        .sort();
    const lowerBefore = await lowerRvs();
    const pvBefore = await pvRvs();
    await kubectl(upper, ['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'storage.k8s.io/v1',
        kind: 'StorageClass',
        metadata: { name: 'fedlet-fast' },
        provisioner: 'fedlet.io/lower-cluster',
        volumeBindingMode: 'WaitForFirstConsumer',
      }),
    });
    // Both fedlets restart; the second one maps fedlet-fast to a lower class its cluster lacks.
    const origArgs = [...f2.args];
    try {
      for (const f of s.fedlets) await stopFedlet(s, f.cluster);
      f2.args = [...origArgs, '--storage-class-map=fedlet-fast=no-such-class'];
      for (const f of s.fedlets) startFedlet(s, f.cluster);
      saveState(s);
      await waitForNodesReady(
        s,
        s.fedlets.map((f) => f.nodeName),
        90_000,
      );
      // The extender decides by the published summary: wait until it says what lower-2 can serve.
      await eventually(
        async () => {
          const summary = await kubectl(upper, [
            'get',
            'configmap',
            `fedlet-summary-${f2.nodeName}`,
            '-n',
            'fedlet-system',
            '-o',
            'jsonpath={.data.summary\\.json}',
          ]);
          expect(summary).toMatch(/no-such-class/);
        },
        { timeoutMs: 60_000, what: 'summary of lower-2 names its storage classes' },
      );
      await kubectl(upper, ['apply', '-f', '-'], {
        input: ephemeralPod('fast', 'fedlet-fast', { 'fedlet.io/cluster': f2.cluster }),
      });
      await eventually(
        async () => {
          const d = await kubectl(upper, ['describe', 'pod', 'fast', '-n', ns]);
          expect(d).toMatch(/FailedScheduling/);
          expect(d).toMatch(/no storage for claims of class fedlet-fast in lower cluster lower-2/);
          expect(d).toMatch(/no-such-class/);
        },
        { timeoutMs: 90_000, what: 'the pod kept off lower-2 with the storage reason' },
      );
      expect((await getPod('fast')).spec.nodeName ?? '').toBe('');
      // The same pod without the pin runs in the cluster whose default class serves fedlet-fast.
      await kubectl(upper, ['apply', '-f', '-'], { input: ephemeralPod('fast-anywhere', 'fedlet-fast') });
      const p = await eventually(() => running('fast-anywhere'), { timeoutMs: 120_000, what: 'fast-anywhere Running' });
      expect(p.spec.nodeName).toBe(s.fedlets[0]!.nodeName);
      // By now both fedlets have synced everything: the unchanged claims and volumes were not written.
      expect(await lowerRvs()).toEqual(lowerBefore);
      const pvAfter = await pvRvs();
      expect(pvAfter.filter((x) => pvBefore.some((b) => b.split('=')[0] === x.split('=')[0]))).toEqual(pvBefore);
    } finally {
      await kubectlRaw(upper, ['delete', 'pod', 'fast', 'fast-anywhere', '-n', ns, '--wait=false']);
      await stopFedlet(s, f2.cluster);
      f2.args = origArgs;
      startFedlet(s, f2.cluster);
      saveState(s);
      await waitForNodesReady(s, [f2.nodeName], 90_000);
    }
  });

  it('a generic ephemeral volume: the pod runs on a lower claim that goes with the pod', async () => {
    await kubectl(upper, ['apply', '-f', '-'], { input: ephemeralPod('eph', 'fedlet') });
    const p = await eventually(() => running('eph'), { timeoutMs: 120_000, what: 'eph Running' });
    const node = p.spec.nodeName!;
    const claim = await getClaim('eph-scratch');
    expect(claim.status?.phase).toBe('Bound');
    await eventually(
      async () => {
        const c = await getLowerClaim(node, 'eph-scratch');
        if (c.status?.phase !== 'Bound') throw new Error(`lower claim ${c.status?.phase}`);
      },
      { what: 'lower ephemeral claim Bound' },
    );
    const l = lowerOf(node);
    const lowerPod = await kubectlJson<{
      spec: { volumes?: Array<{ name: string; persistentVolumeClaim?: { claimName: string } }> };
    }>(l.kubeconfig, ['get', 'pod', 'eph', '-n', l.ns]);
    expect(lowerPod.spec.volumes?.find((v) => v.name === 'scratch')).toEqual({
      name: 'scratch',
      persistentVolumeClaim: { claimName: 'eph-scratch' },
    });
    await kubectl(upper, ['delete', 'pod', 'eph', '-n', ns]);
    await eventually(() => lowerClaimGone(node, 'eph-scratch'), { timeoutMs: 120_000, what: 'lower ephemeral claim deleted' });
    await eventually(
      async () => {
        const r = await kubectlRaw(upper, ['get', 'pv', claim.spec.volumeName!]);
        if (r.code === 0) throw new Error('upper PV still there');
      },
      { what: 'upper PV deleted' },
    );
  });

  it('a claim with a data source (snapshot, clone): refused with the reason on the claim and the pod, nothing provisioned', async () => {
    await kubectl(upper, ['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'clone', namespace: ns },
        spec: {
          storageClassName: 'fedlet',
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: '1Gi' } },
          dataSource: { kind: 'PersistentVolumeClaim', name: 'data-web-0' },
        },
      }),
    });
    await kubectl(upper, ['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'cloned', namespace: ns },
        spec: {
          containers: [{ name: 'c', image: 'registry.example/app:1', volumeMounts: [{ name: 'd', mountPath: '/d' }] }],
          volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'clone' } }],
        },
      }),
    });
    try {
      await eventually(
        async () => {
          for (const kind of ['pvc clone', 'pod cloned']) {
            const d = await kubectl(upper, ['describe', ...kind.split(' '), '-n', ns]);
            expect(d).toMatch(/ProvisioningFailed/);
            expect(d).toMatch(/PersistentVolumeClaim data-web-0: snapshots, clones and volume populators\) are not supported/);
          }
        },
        { timeoutMs: 90_000, what: 'the clone refused with a reason' },
      );
      const c = await getClaim('clone');
      expect(c.status?.phase).toBe('Pending');
      expect(c.spec.volumeName ?? '').toBe('');
      for (const l of s.fedlets.map((f) => lowerOf(f.nodeName)))
        expect((await kubectlRaw(l.kubeconfig, ['get', 'pvc', 'clone', '-n', l.ns])).code).not.toBe(0);
    } finally {
      await kubectlRaw(upper, ['delete', 'pod', 'cloned', '-n', ns, '--wait=false']);
      await kubectlRaw(upper, ['delete', 'pvc', 'clone', '-n', ns, '--wait=false']);
    }
  });

  it('reclaim policy Retain: the lower claim outlives the upper claim, marked retained, and the PV says where', async () => {
    await kubectl(upper, ['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'storage.k8s.io/v1',
        kind: 'StorageClass',
        metadata: { name: 'fedlet-retain' },
        provisioner: 'fedlet.io/lower-cluster',
        volumeBindingMode: 'WaitForFirstConsumer',
        reclaimPolicy: 'Retain',
      }),
    });
    await kubectl(upper, ['apply', '-f', '-'], { input: ephemeralPod('keep', 'fedlet-retain') });
    const p = await eventually(() => running('keep'), { timeoutMs: 120_000, what: 'keep Running' });
    const node = p.spec.nodeName!;
    const l = lowerOf(node);
    const volume = (await getClaim('keep-scratch')).spec.volumeName!;
    const lowerUid = (await getLowerClaim(node, 'keep-scratch')).metadata.uid;
    await kubectl(upper, ['delete', 'pod', 'keep', '-n', ns]);
    const pv = await eventually(
      async () => {
        const v = await kubectlJson<VolumeJson>(upper, ['get', 'pv', volume]);
        if (v.status?.phase !== 'Released') throw new Error(`PV ${v.status?.phase}`);
        const c = await getLowerClaim(node, 'keep-scratch');
        if (c.metadata.annotations?.['fedlet.io/retained'] !== 'true') throw new Error('lower claim not marked retained');
        expect(c.metadata.uid).toBe(lowerUid);
        return v;
      },
      { timeoutMs: 120_000, what: 'PV Released and the lower claim retained' },
    );
    expect(pv.metadata.annotations?.['fedlet.io/lower-claim']).toBe(`${l.cluster}/${l.ns}/keep-scratch`);
    const events = await kubectl(upper, ['get', 'events', '-n', 'default', '--field-selector', `involvedObject.name=${volume}`]);
    expect(events).toMatch(/LowerClaimRetained/);
  });

  it('deleting the claims (reclaim policy Delete) removes the lower claims and the upper PVs', async () => {
    await kubectl(upper, ['delete', 'statefulset', 'web', '-n', ns]);
    await eventually(
      async () => {
        const left = (await kubectl(upper, ['get', 'pods', '-n', ns, '-l', 'app=web', '-o', 'name'])).trim();
        if (left) throw new Error(`pods left: ${left}`);
      },
      { timeoutMs: 120_000, what: 'web pods gone' },
    );
    const volumes = await Promise.all(
      [...placements.keys()].map(async (pod) => (await getClaim(`data-${pod}`)).spec.volumeName!),
    );
    await kubectl(upper, ['delete', 'pvc', 'data-web-0', 'data-web-1', '-n', ns]);
    for (const [pod, p] of placements)
      await eventually(() => lowerClaimGone(p.node, `data-${pod}`), {
        timeoutMs: 120_000,
        what: `lower claim data-${pod} deleted`,
      });
    for (const v of volumes)
      await eventually(
        async () => {
          const r = await kubectlRaw(upper, ['get', 'pv', v]);
          if (r.code === 0) throw new Error(`upper PV ${v} still there`);
        },
        { what: `upper PV ${v} deleted` },
      );
  });
});
