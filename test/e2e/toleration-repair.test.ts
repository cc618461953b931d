// A pod the admission webhook missed (failurePolicy Ignore: timeout, extender restarting) lacks the
// virtual-node toleration; the extender's toleration repair must add it while the pod is unscheduled,
// so that it still reaches a virtual node instead of staying Pending for good.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_CONFIG_NAME, waitForWebhook } from '../../sandbox/webhook.js';
import { createNamespace } from './framework/namespaces.js';
import { eventually, kubectl, kubectlJson, sandbox } from './framework/kubectl.js';
import { extenderRequest } from './framework/extender.js';
import type { CoreEvent } from '../../src/kube/types.js';
import type { ApiPod as Pod } from './framework/pods.js';

const s = sandbox();
const upper = s.upperKubeconfig;
const f1 = s.fedlets[0]!;
const ns = 'toleration-repair-e2e';
const TOLERATION = { key: 'fedlet.io/virtual-node', operator: 'Equal', value: 'true', effect: 'NoSchedule' };

function podManifest(name: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns },
    spec: {
      terminationGracePeriodSeconds: 1,
      // Only the virtual node of cluster 1 matches: without the toleration nothing can take the pod.
      nodeSelector: { 'fedlet.io/cluster': f1.cluster },
      containers: [{ name: 'c', image: 'registry.example/app:1' }],
    },
  });
}

const hasToleration = (p: Pod) => (p.spec.tolerations ?? []).some((t) => JSON.stringify(t) === JSON.stringify(TOLERATION));

beforeAll(async () => {
  await createNamespace(upper, ns);
});
afterAll(async () => {
  await kubectl(upper, ['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
});

describe('toleration repair', () => {
  it('a pod created while the webhook is not in effect gets the toleration afterwards and runs on the virtual node', async () => {
    const saved = await kubectlJson<{ metadata: Record<string, unknown> }>(upper, [
      'get',
      'mutatingwebhookconfiguration',
      WEBHOOK_CONFIG_NAME,
    ]);
    const { name, labels, annotations } = saved.metadata;
    const restore = JSON.stringify({ ...saved, metadata: { name, labels, annotations } });
    await kubectl(upper, ['delete', 'mutatingwebhookconfiguration', WEBHOOK_CONFIG_NAME]);
    try {
      // The API server drops the webhook once its configuration watch sees the deletion.
      await eventually(
        async () => {
          const dry = JSON.parse(
            await kubectl(upper, ['create', '-f', '-', '--dry-run=server', '-o', 'json'], { input: podManifest('probe') }),
          ) as Pod;
          if (hasToleration(dry)) throw new Error('the webhook still adds the toleration');
        },
        { timeoutMs: 30_000, what: 'webhook out of effect' },
      );
      const created = JSON.parse(
        await kubectl(upper, ['create', '-f', '-', '-o', 'json'], { input: podManifest('missed') }),
      ) as Pod;
      expect(hasToleration(created)).toBe(false);
    } finally {
      await kubectl(upper, ['create', '-f', '-'], { input: restore });
      await waitForWebhook(upper, 30_000);
    }
    const pod = await eventually(
      async () => {
        const p = await kubectlJson<Pod>(upper, ['get', 'pod', 'missed', '-n', ns]);
        const ready = p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
        if (p.status?.phase !== 'Running' || !ready)
          throw new Error(`phase ${p.status?.phase ?? '-'} on ${p.spec.nodeName ?? '-'}`);
        return p;
      },
      { timeoutMs: 90_000, what: 'repaired pod Running' },
    );
    expect(pod.spec.nodeName).toBe(f1.nodeName);
    expect(pod.spec.tolerations).toContainEqual(TOLERATION);
    const events = await kubectlJson<{ items: CoreEvent[] }>(upper, [
      'get',
      'events',
      '-n',
      ns,
      '--field-selector',
      'involvedObject.name=missed',
    ]);
    expect(events.items).toContainEqual(
      expect.objectContaining({
        type: 'Normal',
        reason: 'VirtualNodeTolerationAdded',
        source: expect.objectContaining({ component: 'fedlet-extender' }),
      }),
    );
    // /metrics is behind the extender's client-certificate authentication, like /filter.
    const metrics = (await extenderRequest('GET', '/metrics')).body;
    expect(Number(/^fedlet_extender_tolerations_repaired_total (\d+)/m.exec(metrics)?.[1] ?? 0)).toBeGreaterThanOrEqual(1);
    // The restored webhook is the one the sandbox registered.
    const now = await kubectlJson<{ webhooks: unknown[] }>(upper, ['get', 'mutatingwebhookconfiguration', WEBHOOK_CONFIG_NAME]);
    expect(now.webhooks).toEqual((saved as unknown as { webhooks: unknown[] }).webhooks);
  });
});
