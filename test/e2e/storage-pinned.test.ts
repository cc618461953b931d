// A pod whose data lives in one cluster is never bounced out of it. A StatefulSet replica with a claim of
// the fedlet class runs in lower-1; its lower volume is pinned to one kwok node, which is then cordoned and
// the pod deleted. The new pod's lower copy cannot be scheduled there. Past bounceAfterSeconds, fedlet
// must not fail it (its controller's replacement could only come back here, the upper volume pins it) nor
// record its controller as avoiding the cluster: it waits, saying why, and runs once the node is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespace } from './framework/namespaces.js';
import { eventually, kubectl, kubectlJson, kubectlRaw, sandbox } from './framework/kubectl.js';
import type { ApiPod as Pod } from './framework/pods.js';

const s = sandbox();
const upper = s.upperKubeconfig;
const ns = 'storage-pinned';
const f1 = s.fedlets[0]!;
const lower1 = s.lowerKubeconfigs[0]!;
/** The sandbox fedlets' bounceAfterSeconds (--bounce-after in sandbox/sandbox.ts). */
const BOUNCE_AFTER_S = 20;

const statefulSet = {
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'db', namespace: ns },
  spec: {
    serviceName: 'db',
    replicas: 1,
    selector: { matchLabels: { app: 'db' } },
    template: {
      metadata: { labels: { app: 'db' } },
      spec: {
        nodeSelector: { 'fedlet.io/cluster': f1.cluster },
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'db', image: 'registry.example/db:1' }],
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

const upperPod = () => kubectlJson<Pod>(upper, ['get', 'pod', 'db-0', '-n', ns]);
const lowerPod = () => kubectlJson<Pod>(lower1, ['get', 'pod', 'db-0', '-n', ns]);
const avoidRecord = async () =>
  (
    JSON.parse(
      await kubectl(upper, [
        'get',
        'configmap',
        `fedlet-summary-${f1.nodeName}`,
        '-n',
        'fedlet-system',
        '-o',
        'jsonpath={.data.summary\\.json}',
      ]),
    ) as { avoid: Record<string, string> }
  ).avoid;

let cordoned: string | undefined;

describe.skipIf(s.external)('a pod pinned by its data', () => {
  beforeAll(async () => {
    await createNamespace(upper, ns);
  });
  afterAll(async () => {
    if (cordoned) await kubectl(lower1, ['uncordon', cordoned]).catch(() => undefined);
    await kubectlRaw(upper, ['delete', 'statefulset', 'db', '-n', ns, '--wait=false']);
    await kubectlRaw(upper, ['delete', 'namespace', ns, '--wait=false']);
  });

  it('is not bounced when its lower copy cannot be scheduled: it waits, saying why, and runs once it can', async () => {
    await kubectl(upper, ['apply', '-f', '-'], { input: JSON.stringify(statefulSet) });
    const first = await eventually(
      async () => {
        const p = await upperPod();
        if (p.status?.phase !== 'Running') throw new Error(`db-0 ${p.status?.phase}`);
        return p;
      },
      { timeoutMs: 120_000, what: 'db-0 Running' },
    );
    expect(first.spec.nodeName).toBe(f1.nodeName);
    const controller = first.metadata.ownerReferences!.find((o) => o.controller)!.uid;
    const lowerClaimUid = (await kubectlJson<{ metadata: { uid: string } }>(lower1, ['get', 'pvc', 'data-db-0', '-n', ns]))
      .metadata.uid;
    // The lower volume is pinned to the kwok node the lower scheduler picked: take that node away.
    cordoned = (await lowerPod()).spec.nodeName!;
    await kubectl(lower1, ['cordon', cordoned]);
    await kubectl(upper, ['delete', 'pod', 'db-0', '-n', ns, '--wait=true']);

    // The new db-0 is bound to the same virtual node (its PV says so) and its lower copy is Unschedulable.
    const since = await eventually(
      async () => {
        const p = await upperPod();
        if (p.metadata.uid === first.metadata.uid) throw new Error('old db-0 still there');
        const c = p.status?.conditions?.find((x) => x.type === 'fedlet.io/LowerScheduled');
        if (c?.status !== 'False' || c.reason !== 'Unschedulable') throw new Error(`LowerScheduled ${JSON.stringify(c)}`);
        return Date.parse(c.lastTransitionTime!);
      },
      { timeoutMs: 120_000, what: 'new db-0 waiting, LowerScheduled=False/Unschedulable' },
    );
    // Past the point where an unpinned pod is bounced (plus a margin for the recheck).
    const until = since + (BOUNCE_AFTER_S + 15) * 1000;
    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now())));
    const waiting = await upperPod();
    expect(waiting.status?.phase).toBe('Pending');
    expect(waiting.status?.reason).not.toBe('LowerUnschedulable');
    expect(waiting.spec.nodeName).toBe(f1.nodeName);
    expect(waiting.status?.conditions?.find((x) => x.type === 'fedlet.io/LowerScheduled')?.message).toMatch(
      /unschedulable|affinity/i,
    );
    expect((await lowerPod()).status?.phase).toBe('Pending');
    expect(Object.keys(await avoidRecord())).not.toContain(controller);

    // The node returns: the same pod runs there, on the same lower claim (its data).
    await kubectl(lower1, ['uncordon', cordoned]);
    cordoned = undefined;
    await eventually(
      async () => {
        const p = await upperPod();
        if (p.status?.phase !== 'Running') throw new Error(`db-0 ${p.status?.phase}`);
        expect(p.metadata.uid).toBe(waiting.metadata.uid);
      },
      { timeoutMs: 120_000, what: 'the waiting db-0 Running once the node is back' },
    );
    const claim = await kubectlJson<{ metadata: { uid: string } }>(lower1, ['get', 'pvc', 'data-db-0', '-n', ns]);
    expect(claim.metadata.uid).toBe(lowerClaimUid);
  });
});
