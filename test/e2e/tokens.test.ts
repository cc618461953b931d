// Issue 16: pods that use the Kubernetes API. A pod on a virtual node gets a token of its UPPER service
// account, bound to the upper pod, that the upper API server accepts (TokenReview) with the pod binding
// and the requested audience, at the same paths with the upper CA and namespace; the token dies with the
// pod and its lower Secret goes; tokens that cannot be issued say why on the pod. Real kubectl, real
// upper and lower API servers, kwok nodes.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveState, startFedlet, stopFedlet, waitForNodesReady } from '../../sandbox/sandbox.js';
import { tokenRequests, tokenSecretName } from '../../provider/configuration/service-account.js';
import type { CoreEvent, Pod } from '../../src/kube/types.js';
import { createNamespace, lowerNamespaceFor } from './framework/namespaces.js';
import { eventually, kubectl, kubectlJson, kubectlRaw, sandbox } from './framework/kubectl.js';
import { REAL_NODE_LABEL } from '../../sandbox/real-node.js';
import { kubeconfigYaml } from '../../sandbox/pki.js';
import { apply, container, realNodesMissing, realPod, waitPod } from './framework/real-nodes.js';
import { getPod, type ApiPod } from './framework/pods.js';

const s = sandbox();
const upper = s.upperKubeconfig;
const [lower1, lower2] = s.lowerKubeconfigs as [string, string];
const [f1, f2] = s.fedlets as [(typeof s.fedlets)[0], (typeof s.fedlets)[0]];
const ns = 'tokens-e2e';
/** The second lower cluster maps namespaces ({{namespace}}-{{cluster}}): lower and upper names differ. */
const lowerNs2 = lowerNamespaceFor(f2, ns);
/** Where lower pods reach the upper API server: the sandbox's address for real nodes, else loopback. */
const f2Address = () =>
  f2.args.find((a) => a.startsWith('--upper-api-server-address='))?.split('=')[1] ?? new URL(s.upper.server).host;
const missingReal = realNodesMissing(s);

interface SecretJson {
  metadata: { name: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}
interface TokenReviewJson {
  status: {
    authenticated?: boolean;
    error?: string;
    audiences?: string[];
    user?: { username?: string; extra?: Record<string, string[]> };
  };
}

const decode = (v: string | undefined) => Buffer.from(v ?? '', 'base64').toString('utf8');

function podManifest(name: string, cluster: string, spec: Record<string, unknown> = {}, annotations?: Record<string, string>) {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, ...(annotations ? { annotations } : {}) },
    spec: {
      nodeSelector: { 'fedlet.io/cluster': cluster },
      terminationGracePeriodSeconds: 1,
      serviceAccountName: 'robot',
      containers: [{ name: 'app', image: 'registry.example/app:1' }],
      ...spec,
    },
  });
}

async function runningPod(name: string): Promise<Pod> {
  return eventually(
    async () => {
      const p = await kubectlJson<Pod>(upper, ['get', 'pod', name, '-n', ns]);
      if (p.status?.phase !== 'Running') throw new Error(`phase ${p.status?.phase}: ${p.status?.message ?? ''}`);
      return p;
    },
    { timeoutMs: 120_000, what: `pod ${name} Running` },
  );
}

/** TokenReview in the upper cluster, as admin. */
async function review(token: string, audiences?: string[]): Promise<TokenReviewJson['status']> {
  const out = await kubectl(upper, ['create', '-f', '-', '-o', 'json'], {
    input: JSON.stringify({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token, ...(audiences ? { audiences } : {}) },
    }),
  });
  return (JSON.parse(out) as TokenReviewJson).status;
}

async function events(pod: string, reason: string): Promise<CoreEvent[]> {
  return (
    await kubectlJson<{ items: CoreEvent[] }>(upper, [
      'get',
      'events',
      '-n',
      ns,
      '--field-selector',
      `involvedObject.name=${pod},reason=${reason}`,
    ])
  ).items;
}

/** The first container's env (the API server omits empty values: a defined variable reads ''). */
const env = (p: Pod) => Object.fromEntries((p.spec.containers[0]!.env ?? []).map((e) => [e.name, e.value ?? '']));

const isAddressArg = (a: string) => a.startsWith('--upper-api-server-address');
/** The first fedlet's address argument (the sandbox sets one when it runs real nodes), put back afterwards. */
let f1Address: string | undefined;

async function restartWith(f: typeof f1, args: string[]): Promise<void> {
  await stopFedlet(s, f.cluster);
  f.args.splice(0, f.args.length, ...args);
  startFedlet(s, f.cluster);
  saveState(s);
  await waitForNodesReady(s, [f.nodeName], 120_000);
}

beforeAll(async () => {
  await createNamespace(upper, ns);
  await kubectl(upper, ['create', 'serviceaccount', 'robot', '-n', ns]);
  if (s.external) return;
  // The second fedlet knows how lower pods reach the upper API server, the first does not.
  if (!f2.args.some(isAddressArg)) await restartWith(f2, [...f2.args, `--upper-api-server-address=${f2Address()}`]);
  f1Address = f1.args.find(isAddressArg);
  if (f1Address)
    await restartWith(
      f1,
      f1.args.filter((a) => !isAddressArg(a)),
    );
}, 240_000);

afterAll(async () => {
  await kubectl(upper, ['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
  if (f1Address) await restartWith(f1, [...f1.args, f1Address]);
}, 180_000);

describe.skipIf(s.external)('service-account tokens on virtual nodes (upper identity)', () => {
  it('gives the default automount and an audience projection upper tokens bound to the pod, at the same paths with the upper CA and namespace; they die with the pod', async () => {
    await kubectl(upper, ['apply', '-f', '-'], {
      input: podManifest('api', f2.cluster, {
        volumes: [
          {
            name: 'vault',
            projected: {
              sources: [
                { serviceAccountToken: { audience: 'vault', expirationSeconds: 600, path: 'vault-token' } },
                { downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
              ],
            },
          },
        ],
        containers: [
          {
            name: 'app',
            image: 'registry.example/app:1',
            volumeMounts: [{ name: 'vault', mountPath: '/var/run/secrets/vault', readOnly: true }],
          },
        ],
      }),
    });
    const up = await runningPod('api');
    const secretName = tokenSecretName(up);
    // Secret keys per distinct (audience, lifetime), in the order the volumes appear in the pod.
    const reqs = tokenRequests(up);
    const apiKey = reqs.find((r) => !r.audience)!.key;
    const vaultKey = reqs.find((r) => r.audience === 'vault')!.key;
    expect(reqs).toHaveLength(2);
    const upperCA = (
      await kubectlJson<{ data: Record<string, string> }>(upper, ['get', 'configmap', 'kube-root-ca.crt', '-n', ns])
    ).data['ca.crt'];
    const lowerCA = (
      await kubectlJson<{ data: Record<string, string> }>(lower2, ['get', 'configmap', 'kube-root-ca.crt', '-n', lowerNs2])
    ).data['ca.crt'];
    expect(upperCA).toBeTruthy();
    expect(lowerCA).not.toBe(upperCA); // separate clusters, separate CAs: the check below can tell them apart

    // The lower pod: same volumes and mounts, the token items read from fedlet's Secret.
    const low = await kubectlJson<Pod>(lower2, ['get', 'pod', 'api', '-n', lowerNs2]);
    expect(low.spec.serviceAccountName).toBe('default');
    expect(low.spec.automountServiceAccountToken).toBe(false);
    const access = up.spec.volumes!.find((v) => v.name.startsWith('kube-api-access-'))!;
    expect(access).toBeDefined();
    const lowAccess = low.spec.volumes!.find((v) => v.name === access.name)!;
    expect(lowAccess.projected?.sources).toEqual([
      { secret: { name: secretName, items: [{ key: apiKey, path: 'token' }] } },
      { secret: { name: secretName, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      { secret: { name: secretName, items: [{ key: 'namespace', path: 'namespace' }] } },
    ]);
    expect(lowAccess.projected?.defaultMode).toBe(access.projected?.defaultMode);
    expect(low.spec.volumes!.find((v) => v.name === 'vault')!.projected?.sources).toEqual([
      { secret: { name: secretName, items: [{ key: vaultKey, path: 'vault-token' }] } },
      { downwardAPI: { items: [{ path: 'labels', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.labels' } }] } },
    ]);
    expect(low.spec.containers[0]!.volumeMounts?.map((m) => m.mountPath).sort()).toEqual(
      up.spec.containers[0]!.volumeMounts!.map((m) => m.mountPath).sort(),
    );
    const upperAddress = f2Address();
    const [host, port] = [
      upperAddress.slice(0, upperAddress.lastIndexOf(':')),
      upperAddress.slice(upperAddress.lastIndexOf(':') + 1),
    ];
    expect(env(low)).toMatchObject({ KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port });

    // The Secret: fedlet's, with the upper CA and the upper namespace.
    const secret = await kubectlJson<SecretJson>(lower2, ['get', 'secret', secretName, '-n', lowerNs2]);
    expect(secret.metadata.labels).toMatchObject({ 'fedlet.io/origin': f2.nodeName, 'fedlet.io/upper-uid': up.metadata.uid });
    expect(decode(secret.data?.['ca.crt'])).toBe(upperCA);
    expect(decode(secret.data?.namespace)).toBe(ns);

    // The upper API server accepts both tokens as the pod's service account, bound to the pod.
    const apiToken = decode(secret.data?.[apiKey]);
    const vaultToken = decode(secret.data?.[vaultKey]);
    const r1 = await review(apiToken);
    expect(r1.authenticated, r1.error).toBe(true);
    expect(r1.user?.username).toBe(`system:serviceaccount:${ns}:robot`);
    expect(r1.user?.extra?.['authentication.kubernetes.io/pod-name']).toEqual(['api']);
    expect(r1.user?.extra?.['authentication.kubernetes.io/pod-uid']).toEqual([up.metadata.uid]);
    const r2 = await review(vaultToken, ['vault']);
    expect(r2.authenticated, r2.error).toBe(true);
    expect(r2.audiences).toEqual(['vault']);
    expect(r2.user?.username).toBe(`system:serviceaccount:${ns}:robot`);
    expect((await review(vaultToken)).authenticated).not.toBe(true); // not valid for the API server's audience

    // Token values never reach fedlet's logs.
    for (const f of readdirSync(s.dir).filter((x) => /^fedlet-.*\.log$/.test(x))) {
      const text = readFileSync(path.join(s.dir, f), 'utf8');
      expect(text.includes(apiToken) || text.includes(vaultToken), f).toBe(false);
    }

    // Deleting the upper pod invalidates the tokens and removes the Secret.
    await kubectl(upper, ['delete', 'pod', 'api', '-n', ns, '--wait=true', '--timeout=60s']);
    // (The API server caches successful authentications for --token-success-cache-ttl, 10 s by default.)
    await eventually(
      async () => {
        const [a, v] = [await review(apiToken), await review(vaultToken, ['vault'])];
        if (a.authenticated || v.authenticated) throw new Error('a token of the deleted pod is still accepted');
        expect(a.error).toBeTruthy();
      },
      { timeoutMs: 60_000, what: 'tokens rejected after the pod is deleted' },
    );
    await eventually(
      async () => {
        const r = await kubectlRaw(lower2, ['get', 'secret', secretName, '-n', lowerNs2]);
        if (r.code === 0) throw new Error('token Secret still there');
        expect(r.stderr).toMatch(/NotFound/);
      },
      { timeoutMs: 60_000, what: 'token Secret removed' },
    );
  });

  it('a pod whose service account is gone stays Pending with reason ServiceAccountNotFound and an event, and starts once it exists', async () => {
    await kubectl(upper, ['create', 'serviceaccount', 'ghost', '-n', ns]);
    // Admission needs the account when the pod is created; the scheduling gate holds the pod until the
    // account is deleted, so fedlet meets a pod whose account does not exist.
    await kubectl(upper, ['apply', '-f', '-'], {
      input: podManifest('haunted', f2.cluster, { serviceAccountName: 'ghost', schedulingGates: [{ name: 'tokens-e2e/hold' }] }),
    });
    await kubectl(upper, ['delete', 'serviceaccount', 'ghost', '-n', ns]);
    await kubectl(upper, [
      'patch',
      'pod',
      'haunted',
      '-n',
      ns,
      '--type=json',
      '-p',
      '[{"op":"remove","path":"/spec/schedulingGates"}]',
    ]);
    const p = await eventually(
      async () => {
        const p = await kubectlJson<Pod>(upper, ['get', 'pod', 'haunted', '-n', ns]);
        if (p.status?.reason !== 'ServiceAccountNotFound') throw new Error(`reason ${p.status?.reason}`);
        return p;
      },
      { timeoutMs: 90_000, what: 'reason ServiceAccountNotFound' },
    );
    expect(p.status?.phase).toBe('Pending');
    expect(p.status?.message).toMatch(/ghost/);
    const evs = await eventually(
      async () => {
        const e = await events('haunted', 'ServiceAccountNotFound');
        if (!e.length) throw new Error('no event yet');
        return e;
      },
      { what: 'ServiceAccountNotFound event' },
    );
    expect(evs[0]!.type).toBe('Warning');
    expect((await kubectlRaw(lower2, ['get', 'pod', 'haunted', '-n', lowerNs2])).code).not.toBe(0);
    await kubectl(upper, ['create', 'serviceaccount', 'ghost', '-n', ns]);
    await runningPod('haunted');
  });

  it('without upperAPIServerAddress: valid tokens, empty KUBERNETES_SERVICE_HOST and a Warning event', async () => {
    await kubectl(upper, ['apply', '-f', '-'], { input: podManifest('no-address', f1.cluster) });
    const up = await runningPod('no-address');
    const low = await kubectlJson<Pod>(lower1, ['get', 'pod', 'no-address', '-n', ns]);
    const e = env(low);
    expect(e).toHaveProperty('KUBERNETES_SERVICE_HOST', '');
    expect(e).toHaveProperty('KUBERNETES_SERVICE_PORT', '');
    const secret = await kubectlJson<SecretJson>(lower1, ['get', 'secret', tokenSecretName(up), '-n', ns]);
    expect((await review(decode(secret.data?.['token-0']))).authenticated).toBe(true);
    const evs = await eventually(
      async () => {
        const e = await events('no-address', 'UpperAPIServerAddressUnset');
        if (!e.length) throw new Error('no event yet');
        return e;
      },
      { what: 'UpperAPIServerAddressUnset event' },
    );
    expect(evs[0]!.type).toBe('Warning');
  });

  it('least privilege: tokens are requested as the virtual node (system:node client certificate from an auto-approved CSR), which may mint them only for service accounts of its own pods', async () => {
    // The node identity fedlet keeps in its certDir, as a kubeconfig for kubectl.
    const nodeKubeconfig = (f: typeof f1) => {
      const dir = f.args.find((a) => a.startsWith('--cert-dir='))!.split('=')[1]!;
      const file = path.join(s.dir, `${f.nodeName}-node.kubeconfig.test`);
      const yaml = kubeconfigYaml({
        name: f.nodeName,
        server: s.upper.server,
        caCert: s.upper.caCert,
        cert: path.join(dir, 'kubelet-client.crt'),
        key: path.join(dir, 'kubelet-client.key'),
      });
      writeFileSync(file, yaml, { mode: 0o600 });
      return file;
    };
    await kubectl(upper, ['apply', '-f', '-'], { input: podManifest('minted', f2.cluster) });
    const up = await runningPod('minted');
    const node2 = nodeKubeconfig(f2);
    const node1 = nodeKubeconfig(f1);
    const who = JSON.parse(await kubectl(node2, ['auth', 'whoami', '-o', 'json'])) as {
      status: { userInfo: { username: string; groups: string[] } };
    };
    expect(who.status.userInfo.username).toBe(`system:node:${f2.nodeName}`);
    expect(who.status.userInfo.groups).toContain('system:nodes');
    // Issued through a kube-apiserver-client-kubelet CSR that kube-controller-manager approved by itself.
    const csrs = await kubectlJson<{
      items: Array<{
        spec: { signerName: string; username: string };
        status: { conditions?: Array<{ type: string; reason?: string }> };
      }>;
    }>(upper, ['get', 'csr', '-l', `fedlet.io/node-client=${f2.nodeName}`]);
    expect(csrs.items.length).toBeGreaterThan(0);
    for (const c of csrs.items) {
      expect(c.spec.signerName).toBe('kubernetes.io/kube-apiserver-client-kubelet');
      expect(c.spec.username).toBe(`system:serviceaccount:fedlet-system:${f2.nodeName}`); // its own upper account
      expect(c.status.conditions?.find((x) => x.type === 'Approved')?.reason).toBe('AutoApproved');
    }
    const bound = ['--bound-object-kind=Pod', '--bound-object-name=minted', `--bound-object-uid=${up.metadata.uid}`];
    // The node may mint a token for the service account of a pod bound to it, bound to that pod...
    const ok = await kubectlRaw(node2, ['create', 'token', 'robot', '-n', ns, ...bound]);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await review(ok.stdout.trim())).user?.username).toBe(`system:serviceaccount:${ns}:robot`);
    // ...but not for a service account no pod of the node uses, nor for another node's pod, nor read a
    // Secret no pod of the node references; fedlet's own ServiceAccount mints no tokens at all.
    await kubectl(upper, ['create', 'serviceaccount', 'idle', '-n', ns]);
    await kubectl(upper, ['create', 'secret', 'generic', 'unrelated', '-n', ns, '--from-literal=k=v']);
    const refused = [
      await kubectlRaw(node2, ['create', 'token', 'idle', '-n', ns]),
      await kubectlRaw(node1, ['create', 'token', 'robot', '-n', ns, ...bound]),
      await kubectlRaw(node2, ['get', 'secret', 'unrelated', '-n', ns]),
      await kubectlRaw(f2.upperKubeconfig, ['create', 'token', 'robot', '-n', ns, ...bound]),
    ];
    for (const r of refused) {
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/forbidden/i);
    }
  });
});

describe.skipIf(!!missingReal)(
  `in-cluster API clients on a real lower node${missingReal ? ` (skipped: ${missingReal})` : ''}`,
  () => {
    /** A pod on the second virtual node that lands on its lower cluster's real node and calls the upper API server. */
    const apiPod = (name: string, serviceAccountName: string) =>
      realPod(name, ns, f2.nodeName, {
        serviceAccountName,
        restartPolicy: 'Never',
        // A lower key (not a virtual node label): it stays on the lower pod and picks the real node.
        nodeSelector: { [REAL_NODE_LABEL]: 'true' },
        containers: [container('app', ['api', '/api/v1/namespaces/{namespace}/pods'])],
      });
    const finished = (p: ApiPod) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

    it('a container lists pods of its upper namespace with its projected token when RBAC allows it, and gets 403 when not', async () => {
      await kubectl(upper, ['create', 'serviceaccount', 'reader', '-n', ns]);
      await kubectl(upper, ['create', 'serviceaccount', 'outsider', '-n', ns]);
      await kubectl(upper, ['create', 'role', 'pod-reader', '-n', ns, '--verb=get,list', '--resource=pods']);
      await kubectl(upper, [
        'create',
        'rolebinding',
        'pod-reader',
        '-n',
        ns,
        '--role=pod-reader',
        `--serviceaccount=${ns}:reader`,
      ]);
      await apply(upper, apiPod('in-cluster-ok', 'reader'));
      await apply(upper, apiPod('in-cluster-denied', 'outsider'));

      const ok = await waitPod(upper, ns, 'in-cluster-ok', finished, 'finished', 180_000);
      const okLog = await kubectl(upper, ['logs', 'in-cluster-ok', '-n', ns]);
      expect(ok.status?.phase, okLog).toBe('Succeeded');
      const lower = await getPod(lower2, lowerNs2, 'in-cluster-ok');
      expect(lower.spec.nodeName).toBe(s.realNodes!.find((r) => r.cluster === f2.cluster)!.name);
      // The UPPER API server answered: the list holds the upper pods of the upper namespace.
      expect(okLog).toMatch(/^status 200\n/);
      const list = JSON.parse(okLog.split('\n').slice(1).join('\n')) as {
        kind: string;
        items: Array<{ metadata: { name: string; namespace: string } }>;
      };
      expect(list.kind).toBe('PodList');
      expect(list.items.map((i) => i.metadata.name)).toContain('in-cluster-ok');
      expect(new Set(list.items.map((i) => i.metadata.namespace))).toEqual(new Set([ns]));

      const denied = await waitPod(upper, ns, 'in-cluster-denied', finished, 'finished', 180_000);
      const deniedLog = await kubectl(upper, ['logs', 'in-cluster-denied', '-n', ns]);
      expect(denied.status?.phase, deniedLog).toBe('Failed');
      expect(deniedLog).toMatch(/^status 403\n/);
      expect(deniedLog).toContain(`system:serviceaccount:${ns}:outsider`);
    });
  },
);

describe.skipIf(s.external)('lower identity (fedlet.io/service-account: lower)', () => {
  it('runs as the same-named lower service account with the normal lower projection', async () => {
    // The lower admin's namespace (or the one fedlet made for earlier pods), where they grant fedlet the
    // use of the namespace and of its service accounts.
    await kubectl(lower2, ['create', 'namespace', lowerNs2]).catch(() => undefined);
    await kubectl(lower2, [
      'label',
      'namespace',
      lowerNs2,
      '--overwrite',
      `fedlet.io/grant=${f2.nodeName}`,
      `fedlet.io/lower-identity=${f2.nodeName}`,
    ]);
    await kubectl(lower2, ['create', 'serviceaccount', 'robot', '-n', lowerNs2]);
    await kubectl(upper, ['apply', '-f', '-'], {
      input: podManifest('lower-id', f2.cluster, {}, { 'fedlet.io/service-account': 'lower' }),
    });
    const up = await runningPod('lower-id');
    const low = await kubectlJson<Pod>(lower2, ['get', 'pod', 'lower-id', '-n', lowerNs2]);
    expect(low.spec.serviceAccountName).toBe('robot');
    expect(low.spec.automountServiceAccountToken).not.toBe(false);
    const access = up.spec.volumes!.find((v) => v.name.startsWith('kube-api-access-'))!;
    expect(low.spec.volumes!.find((v) => v.name === access.name)).toEqual(access);
    expect(env(low).KUBERNETES_SERVICE_HOST).toBeUndefined();
    expect((await kubectlRaw(lower2, ['get', 'secret', tokenSecretName(up), '-n', lowerNs2])).code).not.toBe(0);
  });

  it('says why when the lower service account is missing', async () => {
    // The account exists in the upper cluster only.
    await kubectl(upper, ['create', 'serviceaccount', 'upper-only', '-n', ns]);
    await kubectl(upper, ['apply', '-f', '-'], {
      input: podManifest(
        'lower-missing',
        f2.cluster,
        { serviceAccountName: 'upper-only' },
        { 'fedlet.io/service-account': 'lower' },
      ),
    });
    const p = await eventually(
      async () => {
        const p = await kubectlJson<Pod>(upper, ['get', 'pod', 'lower-missing', '-n', ns]);
        if (p.status?.reason !== 'LowerServiceAccountNotFound') throw new Error(`reason ${p.status?.reason}`);
        return p;
      },
      { timeoutMs: 90_000, what: 'reason LowerServiceAccountNotFound' },
    );
    expect(p.status?.message).toMatch(/upper-only/);
    expect((await events('lower-missing', 'LowerServiceAccountNotFound')).length).toBeGreaterThan(0);
  });
});
