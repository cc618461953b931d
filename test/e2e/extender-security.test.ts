// The scheduler extender's credential and endpoint, proven by absence: acting as the extender's own
// ServiceAccount (the token the sandbox runs it with), a pod's image, labels or other tolerations cannot
// be changed, nor a scheduled pod touched — the ValidatingAdmissionPolicy shipped in
// manifests/rbac/extender says why; only the virtual-node toleration may be added to an unscheduled pod.
// And the extender answers only callers with a client certificate from its CA: kube-scheduler (which
// keeps calling it over mutual TLS), not an anonymous client nor one of another CA.
import path from 'node:path';
import { KubeApiError, KubeClient, loadKubeConfig } from '../../src/kube/client.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespace } from './framework/namespaces.js';
import { eventually, kubectl, kubectlRaw, sandbox } from './framework/kubectl.js';
import { extenderRequest } from './framework/extender.js';

const s = sandbox();
const upper = s.upperKubeconfig;
const asExtender = path.join(s.dir, 'fedlet-extender.kubeconfig'); // the extender's ServiceAccount token
const ns = 'extender-security-e2e';
const POLICY = "ValidatingAdmissionPolicy 'fedlet-extender-pod-writes' with binding 'fedlet-extender-pod-writes' denied request";
const VIRTUAL_NODE_TOLERATION = { key: 'fedlet.io/virtual-node', operator: 'Equal', value: 'true', effect: 'NoSchedule' };

/** A pod nothing schedules; it tolerates the virtual-node taint with Exists, so the webhook leaves it be. */
function pendingPod(name: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app: 'victim' } },
    spec: {
      nodeSelector: { 'fedlet.io/cluster': 'nowhere' },
      tolerations: [{ key: 'fedlet.io/virtual-node', operator: 'Exists', effect: 'NoSchedule' }],
      containers: [{ name: 'app', image: 'registry.example/app:1' }],
      ...extra,
    },
  });
}

const extender = new KubeClient(loadKubeConfig(asExtender));
/** A raw JSON PATCH with the extender's token (it may not even get pods: kubectl patch would GET first). */
async function patchAsExtender(pod: string, ops: unknown[]): Promise<{ code: number; stderr: string }> {
  try {
    await extender.patch(`/api/v1/namespaces/${ns}/pods/${pod}`, ops, 'json');
    return { code: 0, stderr: '' };
  } catch (e) {
    return { code: e instanceof KubeApiError ? e.code : -1, stderr: (e as Error).message };
  }
}

beforeAll(async () => {
  await createNamespace(upper, ns);
  await kubectl(upper, ['apply', '-f', '-'], { input: pendingPod('victim') });
  await kubectl(upper, ['apply', '-f', '-'], { input: pendingPod('bound', { nodeName: 'no-such-node' }) });
});
afterAll(async () => {
  await kubectl(upper, ['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
});

describe.skipIf(s.external)("the extender's ServiceAccount", () => {
  it("cannot change a pod's image (the admission policy says why)", async () => {
    const r = await patchAsExtender('victim', [
      { op: 'replace', path: '/spec/containers/0/image', value: 'attacker.example/x:1' },
    ]);
    expect(r.code).toBe(403);
    expect(r.stderr).toContain(POLICY);
    expect(r.stderr).toMatch(/fedlet-extender may change nothing of a pod's spec but its tolerations/);
    expect(await kubectl(upper, ['get', 'pod', 'victim', '-n', ns, '-o', 'jsonpath={.spec.containers[0].image}'])).toBe(
      'registry.example/app:1',
    );
  });

  it('cannot relabel a pod, add another toleration, or touch a scheduled pod', async () => {
    const label = await patchAsExtender('victim', [{ op: 'add', path: '/metadata/labels/owned', value: 'yes' }]);
    expect(label.stderr).toContain(POLICY);
    expect(label.stderr).toMatch(/may not change a pod's labels, annotations, owners or finalizers/);
    const other = await patchAsExtender('victim', [
      { op: 'add', path: '/spec/tolerations/-', value: { key: 'node.kubernetes.io/unreachable', operator: 'Exists' } },
    ]);
    expect(other.stderr).toContain(POLICY);
    expect(other.stderr).toMatch(/may only add the toleration fedlet.io\/virtual-node=true:NoSchedule/);
    const bound = await patchAsExtender('bound', [{ op: 'add', path: '/spec/tolerations/-', value: VIRTUAL_NODE_TOLERATION }]);
    expect(bound.stderr).toContain(POLICY);
    expect(bound.stderr).toMatch(/may only change pods that are not scheduled yet/);
    // Deleting is not in its RBAC at all.
    const del = await kubectlRaw(asExtender, ['delete', 'pod', 'victim', '-n', ns, '--wait=false']);
    expect(del.stderr).toMatch(
      /forbidden: User "system:serviceaccount:fedlet-system:fedlet-extender" cannot delete resource "pods"/,
    );
  });

  it('may add the virtual-node toleration to an unscheduled pod (what its toleration repair does)', async () => {
    const r = await patchAsExtender('victim', [{ op: 'add', path: '/spec/tolerations/-', value: VIRTUAL_NODE_TOLERATION }]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const tolerations = JSON.parse(
      await kubectl(upper, ['get', 'pod', 'victim', '-n', ns, '-o', 'jsonpath={.spec.tolerations}']),
    ) as unknown[];
    expect(tolerations).toContainEqual(VIRTUAL_NODE_TOLERATION);
  });
});

describe.skipIf(s.external)("the extender's endpoint", () => {
  it('refuses a caller without a client certificate, or with one from another CA, at the TLS handshake', async () => {
    const body = JSON.stringify({ Pod: { metadata: { name: 'p', namespace: ns }, spec: { containers: [] } }, NodeNames: [] });
    await expect(extenderRequest('POST', '/filter', { body, as: 'none' })).rejects.toThrow(
      /certificate required|alert|socket hang up|ECONNRESET/i,
    );
    await expect(extenderRequest('GET', '/metrics', { as: 'none' })).rejects.toThrow(
      /certificate required|alert|socket hang up|ECONNRESET/i,
    );
    // The upper cluster's admin certificate is of the cluster CA, not of the extender's.
    const admin = { cert: path.join(s.upper.dir, 'pki', 'admin.crt'), key: path.join(s.upper.dir, 'pki', 'admin.key') };
    await expect(extenderRequest('POST', '/filter', { body, as: admin })).rejects.toThrow(
      /certificate|alert|socket hang up|ECONNRESET/i,
    );
    expect((await extenderRequest('POST', '/filter', { body })).status).toBe(200);
  });

  it('kube-scheduler calls it over mutual TLS: scheduling a pod adds answered filter calls', async () => {
    const filterCalls = async () => {
      const m = (await extenderRequest('GET', '/metrics')).body;
      return Number(/^fedlet_extender_requests_total\{verb="filter",code="200"\} (\d+)/m.exec(m)?.[1] ?? 0);
    };
    const before = await filterCalls();
    await kubectl(upper, ['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'scheduled', namespace: ns },
        spec: {
          nodeSelector: { 'fedlet.io/cluster': s.fedlets[0]!.cluster },
          containers: [{ name: 'app', image: 'registry.example/app:1' }],
        },
      }),
    });
    await eventually(
      async () => {
        const node = await kubectl(upper, ['get', 'pod', 'scheduled', '-n', ns, '-o', 'jsonpath={.spec.nodeName}']);
        if (node !== s.fedlets[0]!.nodeName) throw new Error(`on "${node}"`);
      },
      { what: 'pod scheduled to the virtual node' },
    );
    expect(await filterCalls()).toBeGreaterThan(before);
  });
});
