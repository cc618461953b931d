// fedlet's LOWER credential, proven by absence: acting as exactly the identity the sandbox runs fedlet
// with (manifests/rbac/lower), it has no right on Secrets, pods or their streams outside the lower
// namespaces it created, cannot reach kube-system, and cannot make a namespace its own (bind its role
// elsewhere, bind another role, move fedlet's labels, delete a namespace it did not create). In a namespace
// it created, its RoleBinding gives it exactly what it uses, and pods keep running.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespace } from './framework/namespaces.js';
import { eventually, kubectl, kubectlRaw, sandbox } from './framework/kubectl.js';

const s = sandbox();
const upper = s.upperKubeconfig;
const lowerAdmin = s.lowerKubeconfigs[0]!;
const f1 = s.fedlets[0]!;
const asFedlet = f1.lowerKubeconfig; // the lower ServiceAccount token fedlet runs with
const user = 'system:serviceaccount:fedlet-system:fedlet';
const theirs = 'lp-theirs'; // a lower namespace of the lower admins, not granted to fedlet
const ns = 'lp-ours'; // an upper namespace: fedlet creates its lower namespace (template {{namespace}})
const POLICY = "ValidatingAdmissionPolicy 'fedlet-lower-scope' with binding 'fedlet-lower-scope' denied request";

const pod = (name: string, namespace: string) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
  });
const binding = (namespace: string, role: string) =>
  JSON.stringify({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'fedlet-takes-over', namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: [{ kind: 'ServiceAccount', name: 'fedlet', namespace: 'fedlet-system' }],
  });

beforeAll(async () => {
  await createNamespace(lowerAdmin, theirs);
  await kubectl(lowerAdmin, ['create', 'secret', 'generic', 'db-password', '-n', theirs, '--from-literal=password=hunter2']);
  await kubectl(lowerAdmin, ['apply', '-f', '-'], { input: pod('their-app', theirs) });
  // A pod through the upper cluster: fedlet creates lower namespace lp-ours and binds its role there.
  await createNamespace(upper, ns);
  await kubectl(upper, ['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'app', namespace: ns },
      spec: {
        nodeSelector: { 'fedlet.io/cluster': f1.cluster },
        containers: [
          {
            name: 'app',
            image: 'registry.example/app:1',
            env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'cfg', key: 'x' } } }],
          },
        ],
      },
    }),
  });
  await kubectl(upper, ['create', 'secret', 'generic', 'cfg', '-n', ns, '--from-literal=x=1']);
  await eventually(
    async () => {
      const phase = await kubectl(upper, ['get', 'pod', 'app', '-n', ns, '-o', 'jsonpath={.status.phase}']);
      if (phase !== 'Running') throw new Error(phase);
    },
    { what: 'pod Running through fedlet with per-namespace rights' },
  );
});
afterAll(async () => {
  await kubectl(lowerAdmin, ['delete', 'namespace', theirs, '--wait=false']).catch(() => undefined);
  await kubectl(upper, ['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
});

describe.skipIf(s.external)("fedlet's lower identity outside its namespaces", () => {
  it('cannot list or read Secrets of a lower namespace it does not own, nor of kube-system', async () => {
    const list = await kubectlRaw(asFedlet, ['get', 'secrets', '-n', theirs]);
    expect(list.code).not.toBe(0);
    expect(list.stderr).toMatch(
      new RegExp(`User "${user}" cannot list resource "secrets" in API group "" in the namespace "${theirs}"`),
    );
    const read = await kubectlRaw(asFedlet, ['get', 'secret', 'db-password', '-n', theirs]);
    expect(read.stderr).toMatch(/cannot get resource "secrets"/);
    const all = await kubectlRaw(asFedlet, ['get', 'secrets', '-A']);
    expect(all.stderr).toMatch(/cannot list resource "secrets" in API group "" at the cluster scope/);
    const system = await kubectlRaw(asFedlet, ['get', 'secrets', '-n', 'kube-system']);
    expect(system.stderr).toMatch(/cannot list resource "secrets" in API group "" in the namespace "kube-system"/);
  });

  it('cannot create pods there or in kube-system, nor open streams to pods there', async () => {
    const there = await kubectlRaw(asFedlet, ['create', '-f', '-'], { input: pod('intruder', theirs) });
    expect(there.stderr).toMatch(new RegExp(`cannot create resource "pods" in API group "" in the namespace "${theirs}"`));
    const system = await kubectlRaw(asFedlet, ['create', '-f', '-'], { input: pod('intruder', 'kube-system') });
    expect(system.stderr).toMatch(/cannot create resource "pods" in API group "" in the namespace "kube-system"/);
    const exec = await kubectlRaw(asFedlet, ['exec', 'their-app', '-n', theirs, '--', 'true']);
    expect(exec.stderr).toMatch(/cannot create resource "pods\/exec"/);
    const del = await kubectlRaw(asFedlet, ['delete', 'pod', 'their-app', '-n', theirs, '--wait=false']);
    expect(del.stderr).toMatch(/cannot delete resource "pods"/);
  });

  it('cannot make a namespace its own or weaken it: no binding there or of another role, no label change, no delete', async () => {
    const bindSystem = await kubectlRaw(asFedlet, ['create', '-f', '-'], {
      input: binding('kube-system', 'fedlet:lower-namespace'),
    });
    expect(bindSystem.stderr).toContain(POLICY);
    expect(bindSystem.stderr).toMatch(/fedlet may bind roles only in lower namespaces it created/);
    const bindTheirs = await kubectlRaw(asFedlet, ['create', '-f', '-'], { input: binding(theirs, 'fedlet:lower-namespace') });
    expect(bindTheirs.stderr).toContain(POLICY);
    // In its own namespace, still only its own role: cluster-admin is not its to give.
    const admin = await kubectlRaw(asFedlet, ['create', '-f', '-'], { input: binding(ns, 'cluster-admin') });
    expect(admin.stderr).toMatch(/is attempting to grant RBAC permissions not currently held|cannot bind/);
    const label = await kubectlRaw(asFedlet, ['label', 'namespace', 'kube-system', `fedlet.io/origin=${f1.nodeName}`]);
    expect(label.stderr).toContain(POLICY);
    expect(label.stderr).toMatch(/fedlet may not add, change or remove the labels fedlet.io\/origin/);
    // It may raise the Pod Security labels of namespaces it created, and change nothing of anyone else's.
    const weaken = await kubectlRaw(asFedlet, [
      'label',
      '--overwrite',
      'namespace',
      theirs,
      'pod-security.kubernetes.io/enforce=privileged',
    ]);
    expect(weaken.stderr).toContain(POLICY);
    expect(weaken.stderr).toMatch(/fedlet may change only lower namespaces it created/);
    const delNs = await kubectlRaw(asFedlet, ['delete', 'namespace', theirs, '--wait=false']);
    expect(delNs.stderr).toContain(POLICY);
    expect(delNs.stderr).toMatch(/fedlet may delete only lower namespaces it created/);
    expect((await kubectlRaw(lowerAdmin, ['get', 'namespace', theirs])).code).toBe(0);
  });
});

describe.skipIf(s.external)("fedlet's lower identity inside a namespace it created", () => {
  it('holds its rights there through one RoleBinding to itself, and nothing cluster-wide grants them', async () => {
    const rb = JSON.parse(
      await kubectl(lowerAdmin, ['get', 'rolebinding', 'fedlet:lower-namespace', '-n', ns, '-o', 'json']),
    ) as { roleRef: { name: string }; subjects: unknown[] };
    expect(rb.roleRef.name).toBe('fedlet:lower-namespace');
    expect(rb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'fedlet', namespace: 'fedlet-system' }]);
    // The copy of the pod's Secret is there and fedlet may read it; it may not read anyone else's.
    expect(await kubectl(asFedlet, ['get', 'secret', 'cfg', '-n', ns, '-o', 'name'])).toBe('secret/cfg\n');
    const crbs = JSON.parse(await kubectl(lowerAdmin, ['get', 'clusterrolebindings', '-o', 'json'])) as {
      items: Array<{
        metadata: { name: string };
        roleRef: { name: string };
        subjects?: Array<{ name: string; namespace?: string }>;
      }>;
    };
    const mine = crbs.items.filter((b) => b.subjects?.some((x) => x.name === 'fedlet' && x.namespace === 'fedlet-system'));
    expect(mine.map((b) => b.roleRef.name)).toEqual(['fedlet:lower']);
    for (const [verb, resource] of [
      ['create', 'pods'],
      ['get', 'secrets'],
      ['create', 'pods/exec'],
      ['list', 'configmaps'],
    ] as const) {
      const r = await kubectlRaw(asFedlet, ['auth', 'can-i', verb, resource, '-n', 'kube-system']);
      expect(r.stdout.trim(), `${verb} ${resource} in kube-system`).toBe('no');
    }
  });
});
