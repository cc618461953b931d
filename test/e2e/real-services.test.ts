// Issue: lower clusters with real nodes work as real clusters: kube-proxy (iptables) serves ClusterIP
// Services and CoreDNS answers cluster DNS. Checked directly in a lower cluster, without fedlet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REAL_NODE_LABEL } from '../../sandbox/real-node.js';
import { createNamespace } from './framework/namespaces.js';
import { kubectl, sandbox } from './framework/kubectl.js';
import { apply, container, realNodesMissing, realPodSpec, waitPod } from './framework/real-nodes.js';
import { isReady } from './framework/pods.js';

const s = sandbox();
const missing = realNodesMissing(s);
const lower1 = s.lowerKubeconfigs[0]!;
const ns = 'real-svc-e2e';

const lowerPod = (name: string, spec: Record<string, unknown>) => {
  const { nodeName: _ignored, ...rest } = realPodSpec('', spec);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app: name } },
    // The lower scheduler places it: only real nodes carry the label.
    spec: { ...rest, nodeSelector: { [REAL_NODE_LABEL]: 'true' } },
  };
};

describe.skipIf(!!missing)(
  `Services and DNS in a lower cluster with a real node${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    beforeAll(async () => {
      await createNamespace(lower1, ns);
    });
    afterAll(async () => {
      await kubectl(lower1, ['delete', 'namespace', ns, '--timeout=90s'], { timeoutMs: 100_000 }).catch(() => undefined);
    });

    it('a client pod reaches a Service by its DNS name through its ClusterIP', async () => {
      await apply(lower1, lowerPod('web', { containers: [container('app', ['serve', '8080'])] }));
      await apply(lower1, {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: ns },
        spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
      });
      await waitPod(lower1, ns, 'web', isReady, 'Ready');
      await apply(
        lower1,
        lowerPod('client', {
          restartPolicy: 'OnFailure',
          containers: [container('app', ['get', `http://web.${ns}.svc.cluster.local/echo?msg=via-service`])],
        }),
      );
      // OnFailure: the first attempts may run before kube-proxy has programmed the new Service.
      const p = await waitPod(lower1, ns, 'client', (x) => x.status?.phase === 'Succeeded', 'Succeeded', 120_000);
      expect(p.status?.phase).toBe('Succeeded');
      expect(await kubectl(lower1, ['logs', 'client', '-n', ns])).toBe('via-service from web\n');
    });
  },
);
