// `fedlet join` and `fedlet leave` against the sandbox's production topology: the upper cluster's real
// node runs fedlet's image from the sandbox registry. One join of the first lower cluster under a node
// name and release of this file's own (not the sandbox's fedlets), the node Ready, one pod run below
// through it, a second join that changes nothing, and a leave that drains the pod and removes every
// object join and the joined fedlet made in both clusters (asserted by absence).
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinary } from '../../sandbox/binaries.js';
import { REAL_NODE_TAINT } from '../../sandbox/real-node.js';
import { repoRoot } from '../../sandbox/sandbox.js';
import { tokenFacts } from '../../src/kube/token-renewal.js';
import { IMAGE_REPOSITORY, imageMissing, imageVersions } from './framework/image.js';
import { eventually, kubectl, kubectlJson, kubectlRaw, run, sandbox, type List } from './framework/kubectl.js';
import { createNamespace } from './framework/namespaces.js';
import { readyCondition, type NodeJson } from './framework/nodes.js';
import type { ApiPod } from './framework/pods.js';

const s = sandbox();
const missing = imageMissing(s);
const upper = s.upperKubeconfig;
const lower = s.lowerKubeconfigs[0]!;
const cluster = 'join-e2e';
const release = 'fedlet-join-e2e';
const node = release;
const releaseNs = 'fedlet-join';
const ns = 'join-e2e';
const work = path.join(s.dir, 'join');
const taint = { key: 'fedlet.io/join-check', value: 'true', effect: 'NoSchedule' };
const { current } = imageVersions(s);

const env = {
  HELM: findBinary('helm'),
  HELM_CACHE_HOME: path.join(work, 'cache'),
  HELM_CONFIG_HOME: path.join(work, 'config'),
  HELM_DATA_HOME: path.join(work, 'data'),
};
const names = ['--upper-kubeconfig', upper, '--lower-kubeconfig', lower, '--cluster', cluster, '-n', releaseNs];
const joinArgs = [
  ...names,
  '--image',
  `${IMAGE_REPOSITORY}:${current}`,
  // The upper pods reach the lower API server at the sandbox's node address, not the admin's loopback.
  '--lower-server',
  `https://${s.nodeIP}:${new URL(s.lowers[0]?.server ?? 'https://x:1').port}`,
  '--set',
  'replicaCount=1',
  // The upper real node is a tainted system node; this file's taint keeps every other pod off the node.
  '--set',
  `tolerations[0].key=${REAL_NODE_TAINT}`,
  '--set',
  'tolerations[0].operator=Exists',
  '--set',
  `config.nodeTaints[0].key=${taint.key}`,
  '--set',
  `config.nodeTaints[0].value=${taint.value}`,
  '--set',
  `config.nodeTaints[0].effect=${taint.effect}`,
];

let runs = 0;
/** Runs the fedlet CLI; its output is kept in the sandbox directory for a reader of a failed run. */
const fedlet = async (args: string[]) => {
  const r = await run(process.execPath, [path.join(repoRoot(), 'dist', 'app', 'cli.js'), ...args], { env, timeoutMs: 600_000 });
  writeFileSync(
    path.join(work, `${++runs}-${args[0]}.out`),
    `$ fedlet ${args.join(' ')}\n${r.stdout}${r.stderr}exit ${r.code}\n`,
  );
  return r;
};

const helmRevision = async (kubeconfig: string) => {
  const r = await run(env.HELM, ['list', '--kubeconfig', kubeconfig, '-n', releaseNs, '-o', 'json'], { env });
  return (JSON.parse(r.stdout || '[]') as Array<{ name: string; revision: string; status: string }>).find(
    (x) => x.name === release,
  );
};
const exists = async (kubeconfig: string, args: string[]) => (await kubectlRaw(kubeconfig, ['get', ...args])).code === 0;
const names0 = async (kubeconfig: string, args: string[]) =>
  (await kubectl(kubeconfig, ['get', ...args, '-o', 'name'])).split('\n').filter(Boolean);

beforeAll(() => mkdirSync(work, { recursive: true }));

afterAll(async () => {
  if (missing) return;
  await kubectl(upper, ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']).catch(() => undefined);
  // Whatever a failed test left: leave is idempotent.
  if (await exists(upper, ['namespace', releaseNs])) await fedlet(['leave', ...names, '--timeout', '60s', '--force']);
});

describe.skipIf(!!missing)(`fedlet join and leave${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('join installs both halves with a short-lived lower token, and the virtual node turns Ready', async () => {
    const r = await fedlet(['join', ...joinArgs]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain(`joined: lower cluster ${cluster} is virtual node ${node}`);
    expect((await helmRevision(lower))?.status).toBe('deployed');
    expect((await helmRevision(upper))?.status).toBe('deployed');
    // The lower identity, with least privilege from the chart's lower half.
    await kubectl(lower, ['get', 'serviceaccount', release, '-n', releaseNs]);
    await kubectl(lower, ['get', 'clusterrole', `${release}:lower`]);
    // The kubeconfig Secret holds a token that expires (24 h), of that ServiceAccount.
    const kc = Buffer.from(
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
    ).toString();
    const token = /token: (\S+)/.exec(kc)?.[1] ?? '';
    const facts = tokenFacts(token);
    expect(facts).toMatchObject({ namespace: releaseNs, serviceAccount: release });
    expect((facts!.expiresAt - facts!.issuedAt) / 1000).toBe(86_400);
    const n = await eventually(
      async () => {
        const x = await kubectlJson<NodeJson>(upper, ['get', 'node', node]);
        if (readyCondition(x)?.status !== 'True') throw new Error(`not Ready: ${JSON.stringify(readyCondition(x))}`);
        return x;
      },
      { timeoutMs: 180_000, what: `virtual node ${node} Ready` },
    );
    expect(n.metadata.labels?.['fedlet.io/cluster']).toBe(cluster);
  });

  it('a pod runs below through the joined node', async () => {
    await createNamespace(upper, ns);
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'hello', namespace: ns },
      spec: {
        nodeSelector: { 'kubernetes.io/hostname': node },
        tolerations: [{ ...taint, operator: 'Equal' }],
        containers: [{ name: 'app', image: 'registry.example/hello:1' }],
      },
    };
    await kubectl(upper, ['apply', '-f', '-'], { input: JSON.stringify(pod) });
    await eventually(
      async () => {
        const p = await kubectlJson<ApiPod>(upper, ['get', 'pod', 'hello', '-n', ns]);
        if (p.status?.phase !== 'Running') throw new Error(`phase ${p.status?.phase}`);
      },
      { timeoutMs: 120_000, what: 'the pod Running through the joined node' },
    );
    const below = await kubectlJson<List<ApiPod>>(lower, ['get', 'pods', '-A', '-l', `fedlet.io/origin=${node}`]);
    expect(below.items.map((p) => p.status?.phase)).toEqual(['Running']);
  });

  it('join again changes nothing', async () => {
    const before = {
      lower: (await helmRevision(lower))?.revision,
      upper: (await helmRevision(upper))?.revision,
      secret: await kubectl(upper, [
        'get',
        'secret',
        `${release}-lower-kubeconfig`,
        '-n',
        releaseNs,
        '-o',
        'jsonpath={.metadata.resourceVersion}',
      ]),
    };
    const r = await fedlet(['join', ...joinArgs]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stderr.match(/\.\.\. (exists|unchanged)/g), r.stderr).toHaveLength(5);
    expect({
      lower: (await helmRevision(lower))?.revision,
      upper: (await helmRevision(upper))?.revision,
      secret: await kubectl(upper, [
        'get',
        'secret',
        `${release}-lower-kubeconfig`,
        '-n',
        releaseNs,
        '-o',
        'jsonpath={.metadata.resourceVersion}',
      ]),
    }).toEqual(before);
  });

  it('leave drains the node and removes everything join and the joined fedlet made, in both clusters', async () => {
    // The joined fedlet's logs, for the suite's check that it was never refused (RBAC of the chart).
    for (const p of await names0(upper, ['pods', '-n', releaseNs, '-l', `app.kubernetes.io/instance=${release}`]))
      writeFileSync(path.join(s.dir, `fedlet-join-${p.split('/')[1]}.log`), await kubectl(upper, ['logs', p, '-n', releaseNs]));
    const r = await fedlet(['leave', ...names, '--timeout', '2m']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('left behind: nothing');
    // The pod was evicted (not a controller's: it is gone), below too.
    expect(await exists(upper, ['pod', 'hello', '-n', ns])).toBe(false);
    expect(await names0(lower, ['pods', '-A', '-l', `fedlet.io/origin=${node}`])).toEqual([]);
    await eventually(async () => expect(await names0(lower, ['namespaces', '-l', `fedlet.io/origin=${node}`])).toEqual([]), {
      timeoutMs: 120_000,
      what: `the lower namespaces of ${node} gone`,
    });
    // Upper: the node and what fedlet made for it, the release, the Secret.
    expect(await exists(upper, ['node', node])).toBe(false);
    expect(await exists(upper, ['lease', `${node}-leader`, '-n', 'kube-node-lease'])).toBe(false);
    expect(await names0(upper, ['csr', '-l', `fedlet.io/node=${node}`])).toEqual([]);
    expect(await helmRevision(upper)).toBeUndefined();
    for (const what of [`clusterrole/${release}:upper`, `validatingadmissionpolicy/${release}-upper-scope`])
      expect(await exists(upper, [what]), what).toBe(false);
    expect(await exists(upper, ['rolebinding', `${release}:client-ca`, '-n', 'kube-system'])).toBe(false);
    // Lower: the identity and its RBAC and policy.
    expect(await helmRevision(lower)).toBeUndefined();
    for (const what of [
      `clusterrole/${release}:lower`,
      `clusterrole/${release}:lower-namespace`,
      `validatingadmissionpolicy/${release}-lower-scope`,
    ])
      expect(await exists(lower, [what]), what).toBe(false);
    // The release namespaces join created, with the Secret, summary and ServiceAccounts in them.
    for (const kubeconfig of [upper, lower])
      await eventually(async () => expect(await exists(kubeconfig, ['namespace', releaseNs])).toBe(false), {
        timeoutMs: 120_000,
        what: `namespace ${releaseNs} gone`,
      });
    // The node's own Lease went with the Node.
    await eventually(async () => expect(await exists(upper, ['lease', node, '-n', 'kube-node-lease'])).toBe(false), {
      what: `node Lease of ${node} gone`,
    });
    // Leaving again finds nothing and succeeds.
    const again = await fedlet(['leave', ...names, '--timeout', '30s']);
    expect(again.code, again.stderr).toBe(0);
  });
});
