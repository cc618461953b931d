// Issue 15, the data path: a StatefulSet of the upper cluster whose pods run on the lower clusters' real
// nodes (kwok nodes cordoned for this file) and whose claims of the fedlet class become lower claims that
// the sandbox's provisioner backs with a directory on the real node. Data written through fedlet
// (kubectl exec upstairs) lands in that directory and survives `kubectl delete pod web-0`: the new web-0
// reads it back. Deleting the claims removes the lower claims, volumes and directories.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REAL_NODE_TAINT } from '../../sandbox/real-node.js';
import { createNamespace } from './framework/namespaces.js';
import { eventually, kubectl, kubectlJson, kubectlRaw, sandbox } from './framework/kubectl.js';
import { apply, BUSYBOX, realNodesMissing, realNodesOnly, waitPod } from './framework/real-nodes.js';
import { getPod, isReady, type ApiPod } from './framework/pods.js';
import { lowerOf as lowerSide } from './framework/storage.js';

const s = sandbox();
const missing = realNodesMissing(s);
const upper = s.upperKubeconfig;
const ns = 'storage-real';
/** Undoes the cordoning of the kwok nodes (so pods run on the real nodes) in afterAll. */
let restoreNodes: (() => Promise<void>) | undefined;

/** The sandbox maps namespaces of its second lower cluster with the template {{namespace}}-{{cluster}}. */
const lowerOf = (node: string) => lowerSide(s, node, ns);

interface LowerClaim {
  metadata: { uid: string };
  spec: { volumeName?: string };
  status?: { phase?: string };
}
interface LowerVolume {
  spec: {
    local?: { path?: string };
    nodeAffinity?: { required?: { nodeSelectorTerms?: Array<{ matchExpressions?: Array<{ values?: string[] }> }> } };
  };
}

const statefulSet = {
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'web', namespace: ns },
  spec: {
    serviceName: 'web',
    replicas: 2,
    podManagementPolicy: 'Parallel',
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        terminationGracePeriodSeconds: 2,
        tolerations: [{ key: REAL_NODE_TAINT, operator: 'Exists', effect: 'NoSchedule' }],
        // One replica per lower cluster: both clusters' real nodes and provisioners take part.
        topologySpreadConstraints: [
          {
            maxSkew: 1,
            topologyKey: 'fedlet.io/cluster',
            whenUnsatisfiable: 'DoNotSchedule',
            labelSelector: { matchLabels: { app: 'web' } },
          },
        ],
        containers: [
          {
            name: 'app',
            image: BUSYBOX,
            imagePullPolicy: 'Never',
            // Prints what an earlier incarnation left, then idles.
            command: ['sh', '-c', 'echo "found: $(cat /data/token 2>/dev/null)"; exec sleep 100000'],
            volumeMounts: [{ name: 'data', mountPath: '/data' }],
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
};

/** web-N → where its data lives. */
const placed = new Map<string, { node: string; lowerUid: string; dir: string; token: string }>();

describe.skipIf(!!missing)(`storage on real lower nodes${missing ? ` (skipped: ${missing})` : ''}`, () => {
  beforeAll(async () => {
    restoreNodes = await realNodesOnly(
      upper,
      [...s.lowerKubeconfigs],
      s.fedlets.map((f) => f.nodeName),
    );
    await createNamespace(upper, ns);
  });

  afterAll(async () => {
    await kubectlRaw(upper, ['delete', 'namespace', ns, '--wait=false']);
    await restoreNodes?.();
  });

  it('a StatefulSet on real nodes: each replica writes through kubectl exec into a directory on its real node', async () => {
    await apply(upper, statefulSet);
    for (const pod of ['web-0', 'web-1']) {
      const p = await waitPod(upper, ns, pod, isReady, 'Ready', 180_000);
      const node = p.spec.nodeName!;
      const l = lowerOf(node);
      const lowerPod = await getPod(l.kubeconfig, l.ns, pod);
      const realNode = s.realNodes!.find((r) => r.cluster === l.cluster)!.name;
      expect(lowerPod.spec.nodeName).toBe(realNode);
      const claim = await eventually(
        async () => {
          const c = await kubectlJson<LowerClaim>(l.kubeconfig, ['get', 'pvc', `data-${pod}`, '-n', l.ns]);
          if (c.status?.phase !== 'Bound') throw new Error(`lower claim ${c.status?.phase}`);
          return c;
        },
        { what: `lower claim data-${pod} Bound` },
      );
      // The sandbox provisioned a local volume on the real node the lower scheduler picked.
      const pv = await kubectlJson<LowerVolume>(l.kubeconfig, ['get', 'pv', claim.spec.volumeName!]);
      expect(pv.spec.nodeAffinity?.required?.nodeSelectorTerms?.[0]?.matchExpressions?.[0]?.values).toEqual([realNode]);
      const dir = pv.spec.local!.path!;
      expect(existsSync(dir)).toBe(true);
      const token = `${pod}-${randomBytes(6).toString('hex')}`;
      await kubectl(upper, ['exec', pod, '-n', ns, '--', 'sh', '-c', `echo ${token} > /data/token && sync`]);
      // The real kubelet mounted the directory: the bytes are on the node's disk.
      expect(readFileSync(path.join(dir, 'token'), 'utf8').trim()).toBe(token);
      placed.set(pod, { node, lowerUid: claim.metadata.uid, dir, token });
    }
    expect(new Set([...placed.values()].map((p) => lowerOf(p.node).cluster)).size).toBe(2);
  });

  it('kubectl delete pod web-0: the new web-0 reads the same data back (exec and logs through fedlet)', async () => {
    const was = placed.get('web-0')!;
    const before = await getPod(upper, ns, 'web-0');
    const uid = (p: ApiPod) => (p.metadata as { uid?: string }).uid;
    await kubectl(upper, ['delete', 'pod', 'web-0', '-n', ns]);
    const after = await waitPod(upper, ns, 'web-0', (p) => isReady(p) && uid(p) !== uid(before), 'a new web-0 Ready', 180_000);
    expect(after.spec.nodeName).toBe(was.node);
    const l = lowerOf(was.node);
    expect((await kubectlJson<LowerClaim>(l.kubeconfig, ['get', 'pvc', 'data-web-0', '-n', l.ns])).metadata.uid).toBe(
      was.lowerUid,
    );
    expect((await kubectl(upper, ['exec', 'web-0', '-n', ns, '--', 'cat', '/data/token'])).trim()).toBe(was.token);
    await eventually(async () => expect(await kubectl(upper, ['logs', 'web-0', '-n', ns])).toContain(`found: ${was.token}`), {
      what: 'the new web-0 printing the token it found',
    });
  });

  it('deleting the StatefulSet and its claims removes the lower claims, volumes and directories', async () => {
    await kubectl(upper, ['delete', 'statefulset', 'web', '-n', ns]);
    await eventually(
      async () => {
        const left = (await kubectl(upper, ['get', 'pods', '-n', ns, '-l', 'app=web', '-o', 'name'])).trim();
        if (left) throw new Error(`pods left: ${left}`);
      },
      { timeoutMs: 120_000, what: 'web pods gone' },
    );
    await kubectl(upper, ['delete', 'pvc', 'data-web-0', 'data-web-1', '-n', ns]);
    for (const [pod, p] of placed) {
      const l = lowerOf(p.node);
      await eventually(
        async () => {
          const r = await kubectlRaw(l.kubeconfig, ['get', 'pvc', `data-${pod}`, '-n', l.ns]);
          if (r.code === 0) throw new Error('lower claim still there');
          if (existsSync(p.dir)) throw new Error(`${p.dir} still exists`);
        },
        { timeoutMs: 120_000, what: `lower claim and directory of data-${pod} gone` },
      );
    }
  });
});
