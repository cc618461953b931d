// fedlet's UPPER credentials, proven by absence. Acting as exactly what the sandbox runs fedlet with —
// its ServiceAccount (manifests/rbac/upper, renamed after its node, and the admission policy of
// manifests/rbac/upper-policy) and its node identity (system:node:<node>, the client certificate it
// obtained by CSR) — neither can read a Secret no pod of its node names, write another node or its
// status, renew another node's Lease or take another fedlet's leader Lease, or write another cluster's
// scheduling summary. The node identity does read what its pods name (that is how fedlet reads them).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeconfigYaml } from '../../sandbox/pki.js';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.js';
import { createNamespace } from './framework/namespaces.js';
import { eventually, kubectl, kubectlRaw, sandbox } from './framework/kubectl.js';

const s = sandbox();
const upper = s.upperKubeconfig;
const [f1, f2] = s.fedlets as [(typeof s.fedlets)[0], (typeof s.fedlets)[0]];
const asAccount = f1.upperKubeconfig; // ServiceAccount fedlet-system/fedlet-lower-1
const account = `system:serviceaccount:fedlet-system:${f1.nodeName}`;
const ns = 'upper-lp-e2e';
const POLICY = /ValidatingAdmissionPolicy 'fedlet-upper-scope' with binding 'fedlet-upper-scope' denied request/;

/** A kubeconfig for the node identity fedlet obtained (kept in its cert dir). */
function nodeKubeconfig(): string {
  const dir = path.join(s.dir, `${f1.nodeName}-certs`);
  const file = path.join(s.dir, `${f1.nodeName}-node.kubeconfig`);
  writeFileSync(
    file,
    kubeconfigYaml({
      name: 'node',
      server: s.upper.server,
      caCert: s.upper.caCert,
      cert: path.join(dir, 'kubelet-client.crt'),
      key: path.join(dir, 'kubelet-client.key'),
    }),
    { mode: 0o600 },
  );
  return file;
}
let asNode = '';

/** A raw PATCH of a node's status (kubectl patch --subresource=status would GET it first). */
async function rawStatusPatch(kubeconfig: string, node: string): Promise<string> {
  try {
    await new KubeClient(loadKubeConfig(kubeconfig)).patch(
      `/api/v1/nodes/${node}/status`,
      { status: { conditions: [{ type: 'Ready', status: 'False', reason: 'Intruder' }] } },
      'strategic',
    );
    return 'accepted';
  } catch (e) {
    return (e as Error).message;
  }
}

const lease = (name: string) =>
  JSON.stringify({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace: 'kube-node-lease' },
    spec: { holderIdentity: 'intruder', leaseDurationSeconds: 3600, renewTime: new Date().toISOString().replace('Z', '000Z') },
  });
const summary = (name: string) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: 'fedlet-system' },
    data: { summary: '{}' },
  });

beforeAll(async () => {
  await createNamespace(upper, ns);
  await kubectl(upper, ['create', 'secret', 'generic', 'unrelated', '-n', ns, '--from-literal=k=v']);
  await kubectl(upper, ['create', 'secret', 'generic', 'named', '-n', ns, '--from-literal=k=v']);
  await kubectl(upper, ['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'uses-named', namespace: ns },
      spec: {
        nodeSelector: { 'fedlet.io/cluster': f1.cluster },
        containers: [{ name: 'app', image: 'registry.example/app:1', envFrom: [{ secretRef: { name: 'named' } }] }],
      },
    }),
  });
  await eventually(
    async () => {
      const phase = await kubectl(upper, ['get', 'pod', 'uses-named', '-n', ns, '-o', 'jsonpath={.status.phase}']);
      if (phase !== 'Running') throw new Error(phase);
    },
    { what: 'pod Running: its Secret was read as the node' },
  );
  asNode = nodeKubeconfig();
});
afterAll(async () => {
  await kubectl(upper, ['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
});

describe.skipIf(s.external)("fedlet's upper ServiceAccount", () => {
  it('reads no ConfigMap and no Secret but its own lower kubeconfig by name: not an unrelated one, not even those its pods name', async () => {
    for (const [args, what] of [
      [['get', 'secret', 'unrelated', '-n', ns], /cannot get resource "secrets"/],
      [['get', 'secret', 'named', '-n', ns], /cannot get resource "secrets"/],
      [['get', 'secrets', '-A'], /cannot list resource "secrets" in API group "" at the cluster scope/],
      [
        ['get', 'secrets', '-n', 'fedlet-system'],
        /cannot list resource "secrets" in API group "" in the namespace "fedlet-system"/,
      ],
      [['get', 'configmaps', '-A'], /cannot list resource "configmaps" in API group "" at the cluster scope/],
    ] as const) {
      const r = await kubectlRaw(asAccount, [...args]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`User "${account}" ${what.source}`));
    }
    // The one Secret it may get and update: where its lower kubeconfig is mounted from (renewed tokens are
    // written back there); not another Secret beside it, and no create/delete/list of any.
    const canI = async (...a: string[]) => (await kubectlRaw(asAccount, ['auth', 'can-i', ...a])).stdout.trim();
    expect(await canI('update', 'secret/fedlet-lower-kubeconfig', '-n', 'fedlet-system')).toBe('yes');
    for (const a of [
      ['update', 'secret/other', '-n', 'fedlet-system'],
      ['get', 'secret/fedlet-lower-kubeconfig', '-n', ns],
      ['create', 'secrets', '-n', 'fedlet-system'],
      ['delete', 'secret/fedlet-lower-kubeconfig', '-n', 'fedlet-system'],
    ])
      expect(await canI(...a), a.join(' ')).toBe('no');
  });

  it("cannot write another node, any node's status, another node's Lease, another fedlet's leader Lease or summary", async () => {
    const label = await kubectlRaw(asAccount, ['label', 'node', f2.nodeName, 'owned=yes']);
    expect(label.stderr).toMatch(POLICY);
    expect(label.stderr).toContain(`fedlet account ${f1.nodeName} may write only its own virtual Nodes`);
    const status = await rawStatusPatch(asAccount, f1.nodeName);
    expect(status).toMatch(new RegExp(`403 .*User "${account}" cannot patch resource "nodes/status"`));
    for (const name of [f2.nodeName, `${f2.nodeName}-leader`]) {
      const r = await kubectlRaw(asAccount, ['replace', '-f', '-'], { input: lease(name) });
      expect(r.stderr, name).toMatch(POLICY);
      expect(r.stderr).toContain(`fedlet account ${f1.nodeName} may write only its own Leases`);
    }
    // An update (RBAC allows update of summaries; the policy says whose): the other fedlet's summary exists.
    const theirs = await kubectlRaw(asAccount, ['replace', '-f', '-'], { input: summary(`fedlet-summary-${f2.nodeName}`) });
    expect(theirs.stderr).toMatch(POLICY);
    expect(theirs.stderr).toContain('may write only its own scheduling summaries');
    const pv = await kubectlRaw(asAccount, ['create', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: 'upper-lp-intruder' },
        spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/etc' } },
      }),
    });
    expect(pv.stderr).toMatch(POLICY);
    expect(pv.stderr).toContain('may write only PersistentVolumes it provisioned');
    // The real ones are untouched: its own node is still Ready, the other fedlet's Lease still its own.
    expect(
      await kubectl(upper, ['get', 'lease', f2.nodeName, '-n', 'kube-node-lease', '-o', 'jsonpath={.spec.holderIdentity}']),
    ).toBe(f2.nodeName);
  });
});

describe.skipIf(s.external)("fedlet's node identity (system:node:<node>)", () => {
  it('reads a Secret its pod names, and no other', async () => {
    expect(await kubectl(asNode, ['get', 'secret', 'named', '-n', ns, '-o', 'jsonpath={.metadata.name}'])).toBe('named');
    const r = await kubectlRaw(asNode, ['get', 'secret', 'unrelated', '-n', ns]);
    expect(r.stderr).toMatch(
      new RegExp(
        `User "system:node:${f1.nodeName}" cannot get resource "secrets".*no relationship found between node '${f1.nodeName}' and this object`,
      ),
    );
  });

  it("cannot write another node's status or Lease, nor any summary", async () => {
    // Refused by the Node authorizer or NodeRestriction (node "<ours>" is not allowed to modify node "<theirs>").
    const status = await rawStatusPatch(asNode, f2.nodeName);
    expect(status).toMatch(/: 403 /);
    expect(status).toMatch(
      new RegExp(`system:node:${f1.nodeName}|node "${f1.nodeName}" is not allowed to modify node "${f2.nodeName}"`),
    );
    const ready = await kubectl(upper, [
      'get',
      'node',
      f2.nodeName,
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
    ]);
    expect(ready).toBe('True');
    const l = await kubectlRaw(asNode, ['replace', '-f', '-'], { input: lease(f2.nodeName) });
    expect(l.stderr).toMatch(/forbidden/i);
    expect(l.stderr).toContain(`system:node:${f1.nodeName}`);
    const cm = await kubectlRaw(asNode, ['apply', '-f', '-'], { input: summary(`fedlet-summary-${f1.nodeName}`) });
    expect(cm.stderr).toMatch(/cannot (get|patch|create) resource "configmaps"/);
  });
});
