// The Helm chart (charts/fedlet), driven by the real helm binary: it lints clean, its RBAC grants exactly
// what the kustomize bases in manifests/ grant, and a fedlet running with nothing but the chart's
// ServiceAccounts, config and kubeconfig Secret brings a virtual node Ready and runs a pod on it.
// No container images exist here, so the chart's Deployment is installed with zero replicas and fedlet
// runs as a local process, the way the sandbox runs it, fed from what the release put into the cluster.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinary } from '../../sandbox/binaries.js';
import { isProxyableAddress } from '../../sandbox/node-address.js';
import { freePorts, startProcess, stopProcess, type ProcessRecord } from '../../sandbox/processes.js';
import { fedletCli, repoRoot } from '../../sandbox/sandbox.js';
import { createNamespace } from './framework/namespaces.js';
import { eventually, kubectl, kubectlJson, kubectlRaw, sandbox } from './framework/kubectl.js';
import { nodeCsr, readyCondition, type NodeJson } from './framework/nodes.js';

const s = sandbox();
const upper = s.upperKubeconfig;
const lowerAdmin = s.lowerKubeconfigs[0]!;
const cluster = s.fedlets[0]!.cluster;
const chart = path.join(repoRoot(), 'charts', 'fedlet');
const release = 'fedlet-helm'; // also the name of the chart's ServiceAccounts
const nodeName = 'fedlet-helm'; // a second virtual node for the first lower cluster, beside the sandbox's own
const releaseNs = 'fedlet-system';
const ns = 'helm-e2e';
const work = path.join(s.dir, 'helm');
const fedletLog = path.join(s.dir, `${nodeName}.log`); // fedlet-*.log: the suite's Forbidden check reads it
// kube-apiserver proxies kubelet requests (logs) only to non-loopback node addresses (see netns-run.sh).
const proxyable = !s.external && isProxyableAddress(s.nodeIP ?? '127.0.0.1');
const taint = { key: 'fedlet.io/helm-check', value: 'true', effect: 'NoSchedule' };

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real helm binary with its state kept in this test's directory, not in $HOME. */
function helm(args: string[]): Promise<Result> {
  const env = {
    ...process.env,
    HELM_CACHE_HOME: path.join(work, 'cache'),
    HELM_CONFIG_HOME: path.join(work, 'config'),
    HELM_DATA_HOME: path.join(work, 'data'),
  };
  return new Promise((resolve) => {
    execFile(
      findBinary('helm'),
      args,
      { env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
async function helmOk(args: string[]): Promise<string> {
  const r = await helm(args);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * A kubeconfig holding a fresh token of one of the chart's ServiceAccounts, written with the same
 * `kubectl config` commands as the kind quick start of docs/install.md.
 */
async function tokenKubeconfig(adminKubeconfig: string, serviceAccount: string, out: string): Promise<string> {
  const token = (await kubectl(adminKubeconfig, ['create', 'token', serviceAccount, '-n', releaseNs, '--duration=2h'])).trim();
  const view = (jsonpath: string) =>
    kubectl(adminKubeconfig, ['config', 'view', '--minify', '--raw', '--flatten', '-o', `jsonpath=${jsonpath}`]);
  const server = await view('{.clusters[0].cluster.server}');
  const ca = `${out}.ca.crt`;
  writeFileSync(ca, Buffer.from(await view('{.clusters[0].cluster.certificate-authority-data}'), 'base64'));
  await kubectl(out, ['config', 'set-cluster', 'c', `--server=${server}`, `--certificate-authority=${ca}`, '--embed-certs']);
  await kubectl(out, ['config', 'set-credentials', 'fedlet', `--token=${token}`]);
  await kubectl(out, ['config', 'set-context', 'c', '--cluster=c', '--user=fedlet']);
  await kubectl(out, ['config', 'use-context', 'c']);
  chmodSync(out, 0o600);
  return out;
}

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Array<{
    apiGroups?: string[];
    resources?: string[];
    verbs: string[];
    nonResourceURLs?: string[];
    resourceNames?: string[];
  }>;
  roleRef?: { kind: string; name: string };
  subjects?: Array<{ kind: string; name: string; namespace?: string }>;
}

const parseAll = (text: string) => (yaml.loadAll(text) as Array<K8sObject | null>).filter((o): o is K8sObject => !!o?.kind);

/**
 * The RBAC of a set of objects in a form where the chart and the kustomize bases must agree: names
 * reduced to their role (the part after the last ':'; ServiceAccounts to "fedlet" or "extender"), and
 * rules expanded to one entry per group/resource/verb, so that regrouping rules is not a difference.
 */
function rbacShape(objects: K8sObject[], accounts: Record<string, string>) {
  const role = (name: string) => name.slice(name.lastIndexOf(':') + 1);
  const account = (name: string) => accounts[name] ?? `unexpected ServiceAccount ${name}`;
  // resourceNames: an account's name, or a role's (the part after the last ':').
  const named = (name: string) => accounts[name] ?? role(name);
  const out: Record<string, unknown> = {};
  for (const o of objects) {
    const key = `${o.kind} ${o.metadata.namespace ?? '(cluster)'} `;
    if (o.kind === 'ServiceAccount') out[key + account(o.metadata.name)] = true;
    else if (o.kind === 'ClusterRole' || o.kind === 'Role')
      out[key + role(o.metadata.name)] = (o.rules ?? [])
        .flatMap((r) =>
          r.nonResourceURLs
            ? r.nonResourceURLs.flatMap((u) => r.verbs.map((v) => `url ${u} ${v}`))
            : (r.apiGroups ?? []).flatMap((g) =>
                (r.resources ?? []).flatMap((res) =>
                  r.verbs.map(
                    (v) => `${g}/${res} ${v}${r.resourceNames ? ` [${r.resourceNames.map(named).sort().join(',')}]` : ''}`,
                  ),
                ),
              ),
        )
        .sort();
    else if (o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')
      out[key + role(o.metadata.name)] = {
        roleRef: `${o.roleRef!.kind} ${role(o.roleRef!.name)}`,
        subjects: (o.subjects ?? []).map((x) => `${x.kind} ${x.namespace} ${account(x.name)}`).sort(),
      };
  }
  return out;
}

let fedlet: ProcessRecord | undefined;

beforeAll(() => {
  mkdirSync(work, { recursive: true });
});

afterAll(async () => {
  if (fedlet) await stopProcess(fedlet);
  await kubectl(upper, ['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']).catch(() => undefined);
  await kubectl(upper, ['delete', 'node', nodeName, '--ignore-not-found']).catch(() => undefined);
  await kubectl(upper, ['delete', 'lease', nodeName, '-n', 'kube-node-lease', '--ignore-not-found']).catch(() => undefined);
  await kubectl(upper, ['delete', 'csr', '-l', `fedlet.io/node=${nodeName}`]).catch(() => undefined);
  await kubectl(upper, ['delete', 'lease', `${nodeName}-leader`, '-n', 'kube-node-lease', '--ignore-not-found']).catch(
    () => undefined,
  );
  await kubectl(upper, ['delete', 'configmap', `fedlet-summary-${nodeName}`, '-n', releaseNs, '--ignore-not-found']).catch(
    () => undefined,
  );
  await helm(['uninstall', release, '--kubeconfig', upper, '-n', releaseNs, '--ignore-not-found']);
  await helm(['uninstall', release, '--kubeconfig', lowerAdmin, '-n', releaseNs, '--ignore-not-found']);
});

describe('the Helm chart', () => {
  it('lints clean with its defaults and for both halves of a release', async () => {
    expect(await helmOk(['version', '--template', '{{.Version}}'])).toMatch(/^v3\.\d+\.\d+$/);
    for (const set of [
      [],
      ['--set', 'clusterName=eu-1,lowerKubeconfig.existingSecret=k,extender.enabled=true'],
      ['--set', 'target=lower'],
    ]) {
      const out = await helmOk(['lint', chart, '--strict', ...set]);
      expect(out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
      expect(out).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
    // Values that cannot work stop the install with a message naming the value.
    const missing = await helm(['template', release, chart, '-n', releaseNs]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/clusterName is required/);
    const noKubeconfig = await helm(['template', release, chart, '-n', releaseNs, '--set', 'clusterName=eu-1']);
    expect(noKubeconfig.stderr).toMatch(/lower cluster's kubeconfig is required/);
    const badTarget = await helm(['template', release, chart, '--set', 'target=middle']);
    expect(badTarget.stderr).toMatch(/target must be "upper" or "lower"/);
  });

  it('grants exactly the RBAC of the kustomize bases (upper, lower and extender)', async () => {
    const upperHalf = parseAll(
      await helmOk([
        'template',
        release,
        chart,
        '-n',
        releaseNs,
        '--set',
        // The kustomize base's Secret name, which the Role for writing renewed tokens back names.
        'clusterName=eu-1,lowerKubeconfig.existingSecret=fedlet-lower-kubeconfig,extender.enabled=true',
      ]),
    );
    const lowerHalf = parseAll(await helmOk(['template', release, chart, '-n', releaseNs, '--set', 'target=lower']));
    const kustomize = async (dir: string) =>
      parseAll(await kubectl(upper, ['kustomize', path.join(repoRoot(), 'manifests', 'rbac', dir)])).filter(
        (o) => o.kind !== 'Namespace', // a chart leaves namespaces to `helm install --create-namespace`
      );
    const chartAccounts = { [release]: 'fedlet', [`${release}-extender`]: 'extender' };
    const baseAccounts = { fedlet: 'fedlet', 'fedlet-extender': 'extender' };
    const rbacKinds = new Set(['ServiceAccount', 'ClusterRole', 'Role', 'ClusterRoleBinding', 'RoleBinding']);
    const isRbac = (o: K8sObject) => rbacKinds.has(o.kind);

    const chartUpper = rbacShape(upperHalf.filter(isRbac), chartAccounts);
    const baseUpper = rbacShape([...(await kustomize('upper')), ...(await kustomize('extender'))], baseAccounts);
    expect(Object.keys(baseUpper).length).toBeGreaterThan(10);
    expect(chartUpper).toEqual(baseUpper);

    // The admission policies that narrow what RBAC cannot: the same rules, for the release's accounts.
    // Compared as data: keys in order, whitespace inside expressions (YAML folding) collapsed.
    const canonical = (v: unknown): unknown =>
      typeof v === 'string'
        ? v.replace(/\s+/g, ' ').trim()
        : Array.isArray(v)
          ? v.map(canonical)
          : v && typeof v === 'object'
            ? Object.fromEntries(
                Object.keys(v)
                  .sort()
                  .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
              )
            : v;
    const policies = (objects: K8sObject[], rename: [string, string][]) =>
      objects
        .filter((o) => o.kind === 'ValidatingAdmissionPolicy' || o.kind === 'ValidatingAdmissionPolicyBinding')
        .map((o) =>
          rename.reduce(
            (t, [a, b]) => t.replaceAll(a, b),
            JSON.stringify(canonical({ kind: o.kind, spec: (o as { spec?: unknown }).spec })),
          ),
        )
        .sort();
    const basePolicies = policies(
      [...(await kustomize('upper')), ...(await kustomize('upper-policy')), ...(await kustomize('extender'))],
      [],
    );
    expect(basePolicies.length).toBeGreaterThanOrEqual(4);
    expect(
      policies(upperHalf, [
        [`${release}-upper-scope`, 'fedlet-upper-scope'],
        [`${release}-extender`, 'fedlet-extender'],
      ]),
    ).toEqual(basePolicies);

    const chartLower = rbacShape(lowerHalf.filter(isRbac), chartAccounts);
    const baseLower = rbacShape(await kustomize('lower'), baseAccounts);
    expect(chartLower).toEqual(baseLower);
    // The lower half holds fedlet's identity there and nothing that runs.
    // (and, by default, no token Secret that never expires).
    expect(lowerHalf.map((o) => o.kind).sort()).toEqual(
      [
        'ClusterRole',
        'ClusterRole',
        'ClusterRoleBinding',
        'Role',
        'RoleBinding',
        'ServiceAccount',
        'ValidatingAdmissionPolicy',
        'ValidatingAdmissionPolicyBinding',
      ].sort(),
    );
    expect(policies(lowerHalf, [[release, 'fedlet']])).toEqual(policies(await kustomize('lower'), []));
  });

  it('ships the StorageClass of manifests/storage, once per upper cluster (off by default)', async () => {
    const render = async (set: string) =>
      parseAll(
        await helmOk([
          'template',
          release,
          chart,
          '-n',
          releaseNs,
          '--set',
          `clusterName=eu-1,lowerKubeconfig.existingSecret=k${set}`,
        ]),
      );
    expect((await render('')).filter((o) => o.kind === 'StorageClass')).toEqual([]);
    const shape = (o: K8sObject) => {
      const { metadata, ...rest } = o as K8sObject & Record<string, unknown>;
      return { name: metadata.name, ...rest };
    };
    const chartClass = (await render(',storageClass.create=true')).filter((o) => o.kind === 'StorageClass').map(shape);
    const baseClass = parseAll(await kubectl(upper, ['kustomize', path.join(repoRoot(), 'manifests', 'storage')])).map(shape);
    expect(baseClass).toHaveLength(1);
    expect(chartClass).toEqual(baseClass);
    const bad = await helm([
      'template',
      release,
      chart,
      '--set',
      'clusterName=eu-1,lowerKubeconfig.existingSecret=k,storageClass.create=true,storageClass.reclaimPolicy=Keep',
    ]);
    expect(bad.stderr).toMatch(/storageClass.reclaimPolicy must be Delete or Retain/);
  });

  it('installs into the clusters, and fedlet with only the chart RBAC brings a virtual node Ready and runs a pod', async () => {
    // Lower half first: fedlet's identity in the lower cluster, then a kubeconfig carrying its token.
    await helmOk(['install', release, chart, '--kubeconfig', lowerAdmin, '-n', releaseNs, '--set', 'target=lower', '--wait']);
    // No token that never expires by default: the kubeconfig carries one with a lifetime (fedlet renews it).
    expect((await kubectlRaw(lowerAdmin, ['get', 'secret', `${release}-token`, '-n', releaseNs])).code).not.toBe(0);
    const lowerKubeconfig = await tokenKubeconfig(lowerAdmin, release, path.join(work, 'lower.kubeconfig'));

    // Upper half: the Deployment at zero replicas (no images here), the extender objects too.
    const values = path.join(work, 'values.yaml');
    writeFileSync(
      values,
      yaml.dump({
        clusterName: cluster,
        nodeName,
        replicaCount: 0,
        config: { nodeTaints: [taint], nodeLabels: { 'fedlet.io/installed-by': 'helm' } },
        extender: { enabled: true, replicaCount: 0 },
      }),
    );
    const notes = await helmOk([
      'install',
      release,
      chart,
      '--kubeconfig',
      upper,
      '-n',
      releaseNs,
      '-f',
      values,
      '--set-file',
      `lowerKubeconfig.content=${lowerKubeconfig}`,
      '--wait',
    ]);
    expect(notes).toMatch(new RegExp(`registers virtual node ${nodeName}`));
    expect(notes).toMatch(/urlPrefix: https:\/\/fedlet-helm-extender\.fedlet-system\.svc:8888\n\s+tlsConfig:/);
    const deploy = await kubectlJson<{
      spec: {
        template: {
          spec: {
            serviceAccountName: string;
            containers: Array<{ securityContext: Record<string, unknown>; readinessProbe: { httpGet: { path: string } } }>;
          };
        };
      };
    }>(upper, ['get', 'deployment', release, '-n', releaseNs]);
    expect(deploy.spec.template.spec.serviceAccountName).toBe(release);
    expect(deploy.spec.template.spec.containers[0]!.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(deploy.spec.template.spec.containers[0]!.readinessProbe.httpGet.path).toBe('/readyz');

    // What the pod would mount: the release's config file and lower kubeconfig Secret, as stored.
    const configFile = path.join(work, 'fedlet.yaml');
    writeFileSync(
      configFile,
      await kubectl(upper, ['get', 'configmap', `${release}-config`, '-n', releaseNs, '-o', 'jsonpath={.data.fedlet\\.yaml}']),
    );
    const mountedLower = path.join(work, 'mounted-lower.kubeconfig');
    writeFileSync(
      mountedLower,
      Buffer.from(
        await kubectl(upper, [
          'get',
          'secret',
          `${release}-lower-kubeconfig`,
          '-n',
          releaseNs,
          '-o',
          'jsonpath={.data.kubeconfig}',
        ]),
        'base64',
      ),
      { mode: 0o600 },
    );
    // What the pod's ServiceAccount would present: a token of the chart's upper ServiceAccount.
    const upperKubeconfig = await tokenKubeconfig(upper, release, path.join(work, 'upper.kubeconfig'));

    const [kubeletPort, healthPort] = await freePorts(2);
    const nodeIP = s.nodeIP ?? '127.0.0.1';
    fedlet = startProcess(
      nodeName,
      process.execPath,
      [
        fedletCli(),
        'run',
        `--config=${configFile}`,
        // Only what differs between a pod and a local process: file paths, addresses and ports.
        `--upper-kubeconfig=${upperKubeconfig}`,
        `--lower-kubeconfig=${mountedLower}`,
        `--cert-dir=${path.join(work, 'certs')}`,
        `--node-ip=${nodeIP}`,
        `--kubelet-port=${kubeletPort}`,
        `--kubelet-bind-address=${nodeIP}`,
        `--health-port=${healthPort}`,
        '--health-bind-address=127.0.0.1',
      ],
      fedletLog,
      { POD_NAME: `${release}-local` },
    );

    // The chart's default serving certificate comes from a CSR; approve it as a cluster admin would.
    const csr = await nodeCsr(upper, nodeName, 90_000);
    await kubectl(upper, ['certificate', 'approve', csr]);

    const node = await eventually(
      async () => {
        const n = await kubectlJson<NodeJson>(upper, ['get', 'node', nodeName]);
        if (readyCondition(n)?.status !== 'True') throw new Error(`node ${nodeName} not Ready yet`);
        return n;
      },
      { timeoutMs: 120_000, what: `virtual node ${nodeName} Ready` },
    );
    // The chart's config reached fedlet: cluster name, extra label and taint.
    expect(node.metadata.labels?.['fedlet.io/cluster']).toBe(cluster);
    expect(node.metadata.labels?.['fedlet.io/installed-by']).toBe('helm');
    expect(node.spec?.taints).toContainEqual(taint);
    expect(
      (
        await kubectl(upper, [
          'get',
          'lease',
          `${nodeName}-leader`,
          '-n',
          'kube-node-lease',
          '-o',
          'jsonpath={.spec.holderIdentity}',
        ])
      ).trim(),
    ).toBe(`${release}-local`);
    const readyz = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
    expect(`${readyz.status} ${(await readyz.text()).trim()}`).toBe('200 leader');

    await createNamespace(upper, ns);
    await kubectl(upper, ['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'via-helm', namespace: ns },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': nodeName },
          tolerations: [{ key: taint.key, operator: 'Equal', value: taint.value, effect: taint.effect }],
          containers: [{ name: 'app', image: 'registry.example/app:1' }],
        },
      }),
    });
    await eventually(
      async () => {
        const p = await kubectlJson<{
          spec: { nodeName?: string };
          status?: { phase?: string; conditions?: Array<{ type: string; status: string }> };
        }>(upper, ['get', 'pod', 'via-helm', '-n', ns]);
        const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        if (p.spec.nodeName !== nodeName || p.status?.phase !== 'Running' || !ready)
          throw new Error(`on ${p.spec.nodeName ?? '-'}, phase ${p.status?.phase ?? '-'}, ready ${String(ready)}`);
      },
      { timeoutMs: 120_000, what: 'pod on the chart-installed virtual node Running and Ready' },
    );
    // It really runs in the lower cluster, owned by this virtual node.
    const lowerPods = await kubectl(lowerAdmin, ['get', 'pods', '-A', '-l', `fedlet.io/origin=${nodeName}`, '-o', 'name']);
    expect(lowerPods.trim().split('\n').filter(Boolean)).toHaveLength(1);
  });

  // The steps below use the node and pod of the test above (vitest runs a file's tests in order).
  it.skipIf(!proxyable)(
    'serves kubectl logs through the upper API server with the chart RBAC (SubjectAccessReview)',
    async () => {
      expect(await kubectl(upper, ['logs', 'via-helm', '-n', ns])).toContain('fedlet test log line');
    },
  );

  it('logged no Forbidden, and uninstalling both halves removes the pod and the RBAC', async () => {
    const forbidden = readFileSync(fedletLog, 'utf8')
      .split('\n')
      .filter((l) => /forbidden/i.test(l));
    expect(forbidden, 'fedlet with the chart RBAC was refused something').toEqual([]);

    // Clean up: the pod leaves both clusters, then the releases go and take their RBAC with them.
    await kubectl(upper, ['delete', 'pod', 'via-helm', '-n', ns, '--wait=true', '--timeout=60s']);
    await eventually(
      async () => {
        const left = (
          await kubectl(lowerAdmin, ['get', 'pods', '-A', '-l', `fedlet.io/origin=${nodeName}`, '-o', 'name'])
        ).trim();
        if (left) throw new Error(`lower pods left: ${left}`);
      },
      { what: 'lower pod removed' },
    );
    if (fedlet) await stopProcess(fedlet);
    fedlet = undefined;
    await helmOk(['uninstall', release, '--kubeconfig', upper, '-n', releaseNs, '--wait']);
    await helmOk(['uninstall', release, '--kubeconfig', lowerAdmin, '-n', releaseNs, '--wait']);
    expect((await kubectl(upper, ['get', 'clusterrole', '-o', 'name'])).split('\n')).not.toContain(
      `clusterrole.rbac.authorization.k8s.io/${release}:upper`,
    );
    expect((await kubectl(lowerAdmin, ['get', 'clusterrole', '-o', 'name'])).split('\n')).not.toContain(
      `clusterrole.rbac.authorization.k8s.io/${release}:lower`,
    );
  });
});
