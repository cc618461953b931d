// The production topology: fedlet installed with `helm install` as README's Helm section says — the lower half
// in each lower cluster, a kubeconfig holding a token of its ServiceAccount minted with a lifetime
// (`kubectl create token`, as the chart's NOTES say; fedlet renews it), the upper half in the upper
// cluster — running as pods of the image from the sandbox's registry on the upper cluster's real node,
// beside the extender (mutual TLS only, its Secret made with docs/kind/extender-tls.sh) and its admission
// webhook as pods behind a Service. Proven through those pods: virtual nodes Ready, a Deployment runs
// below, kubectl logs/exec/port-forward reach the lower cluster (the upper API server dials the leader
// pod's IP on 10250), the chart's extender answers kube-scheduler's client certificate and refuses a
// caller without one, the API server calls the chart's webhook, another replica takes over when the leader
// pod is deleted, `helm upgrade` to the next image version restarts no workload in any cluster
// (docs/upgrades.md), and `helm uninstall` leaves exactly what docs/upgrades.md says it leaves (the lower
// token then opens nothing).
// Own release names, namespaces, node names and taint: the sandbox's own fedlets and other files' pods
// are untouched; everything is removed at the end. One install serves every check; independent work
// runs concurrently (both releases at once, workloads started early).
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REAL_NODE_TAINT } from '../../sandbox/real-node.js';
import { repoRoot } from '../../sandbox/sandbox.js';
import { createNamespace } from './framework/namespaces.js';
import { eventually, kubectl, kubectlJson, kubectlRaw, run, sandbox } from './framework/kubectl.js';
import { readyCondition, type NodeJson } from './framework/nodes.js';
import { helmIn } from './framework/helm.js';
import { IMAGE_REPOSITORY, imageMissing, imageVersions } from './framework/image.js';
import { apply, kubectlStream } from './framework/real-nodes.js';
import { extenderRequest, type ExtenderEndpoint } from './framework/extender.js';
import { type ApiPod } from './framework/pods.js';

const s = sandbox();
const missing = imageMissing(s);
const upper = s.upperKubeconfig;
const chart = path.join(repoRoot(), 'charts', 'fedlet');
const releaseNs = 'fedlet-incluster';
const ns = 'incluster-e2e';
/**
 * The workloads on the sandbox's own virtual nodes: the sandbox's fedlet for the second lower cluster maps
 * upper namespaces with the default template, like the chart's fedlet there, and a lower namespace
 * belongs to the fedlet that created it (the other one reports LowerNamespaceNotOwned).
 */
const sandboxNs = 'incluster-e2e-sandbox';
const work = path.join(s.dir, 'incluster');
const helm = helmIn(work);
const { current, next } = imageVersions(s);
/** Keeps every other test's pods off these virtual nodes. */
const taint = { key: 'fedlet.io/incluster-check', value: 'true', effect: 'NoSchedule' };

/** One release per lower cluster: release, node (the chart's default: the release's name) and lower cluster. */
const releases = s.fedlets.slice(0, 2).map((f, i) => ({
  release: `fedlet-incluster-${i + 1}`,
  node: `fedlet-incluster-${i + 1}`,
  cluster: f.cluster,
  lowerAdmin: s.lowerKubeconfigs[i]!,
  lowerServer: s.lowers[i]?.server ?? '',
}));
const [r1, r2] = releases as [(typeof releases)[0], (typeof releases)[0]];
const ourNodes = releases.map((r) => r.node);
/** The extender's Service name, which its serving certificate carries (kube-scheduler dials it). */
const extenderHost = `${r1.release}-extender.${releaseNs}.svc`;
/**
 * The extender's CA, serving certificate and kube-scheduler's client certificate, made by the docs'
 * script (docs/kind/extender-tls.sh) for this release's Service name.
 */
const extenderTlsDir = path.join(work, 'extender-tls');
const extenderTls = {
  caCert: path.join(extenderTlsDir, 'ca.crt'),
  serving: { cert: path.join(extenderTlsDir, 'tls.crt'), key: path.join(extenderTlsDir, 'tls.key') },
  scheduler: { cert: path.join(extenderTlsDir, 'client.crt'), key: path.join(extenderTlsDir, 'client.key') },
};

interface Lease {
  spec?: { holderIdentity?: string };
}
interface PodList {
  items: Array<
    ApiPod & { metadata: { uid: string; labels?: Record<string, string> }; spec: { containers: Array<{ image: string }> } }
  >;
}

const leader = async (node: string) =>
  (await kubectlJson<Lease>(upper, ['get', 'lease', `${node}-leader`, '-n', 'kube-node-lease'])).spec?.holderIdentity ?? '';

/** fedlet's pods of a release (not the extender's), by name. */
async function fedletPods(release: string): Promise<PodList['items']> {
  return (
    await kubectlJson<PodList>(upper, [
      'get',
      'pods',
      '-n',
      releaseNs,
      '-l',
      `app.kubernetes.io/name=fedlet,app.kubernetes.io/instance=${release}`,
    ])
  ).items.filter((p) => !p.metadata.deletionTimestamp);
}

/**
 * The cluster admin's part of the CSR flow (docs: "a CSR that an admin approves"): every kubelet-serving
 * CSR of our virtual nodes is approved as it appears — each replica that becomes leader files one.
 */
function startApprover(): () => void {
  let stopped = false;
  void (async () => {
    for (let i = 0; i < 10_000 && !stopped; i++) {
      const list = await kubectlJson<{ items: Array<{ metadata: { name: string }; status?: { conditions?: unknown[] } }> }>(
        upper,
        ['get', 'csr', '-l', `fedlet.io/node in (${ourNodes.join(',')})`],
      ).catch(() => ({ items: [] }));
      for (const c of list.items.filter((x) => !x.status?.conditions?.length))
        await kubectl(upper, ['certificate', 'approve', c.metadata.name]).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return () => {
    stopped = true;
  };
}

/**
 * A kubeconfig for the lower cluster with a token of the lower half's ServiceAccount, minted with a
 * lifetime (fedlet renews it itself), with the commands the chart's NOTES give.
 */
async function lowerKubeconfig(r: (typeof releases)[0]): Promise<string> {
  const token = (await kubectl(r.lowerAdmin, ['-n', releaseNs, 'create', 'token', r.release, '--duration=24h'])).trim();
  const ca = path.join(work, `${r.cluster}-ca.crt`);
  writeFileSync(
    ca,
    Buffer.from(
      await kubectl(r.lowerAdmin, [
        'config',
        'view',
        '--minify',
        '--raw',
        '--flatten',
        '-o',
        'jsonpath={.clusters[0].cluster.certificate-authority-data}',
      ]),
      'base64',
    ),
  );
  // The address the upper cluster's pods reach the lower API server at: the sandbox's node address.
  const server = `https://${s.nodeIP}:${new URL(r.lowerServer).port}`;
  const out = path.join(work, `${r.release}.kubeconfig`);
  await kubectl(out, [
    'config',
    'set-cluster',
    r.cluster,
    `--server=${server}`,
    `--certificate-authority=${ca}`,
    '--embed-certs',
  ]);
  await kubectl(out, ['config', 'set-credentials', 'fedlet', `--token=${token}`]);
  await kubectl(out, ['config', 'set-context', r.cluster, `--cluster=${r.cluster}`, '--user=fedlet']);
  await kubectl(out, ['config', 'use-context', r.cluster]);
  return out;
}

/**
 * What the sandbox needs beyond README's commands: the image from the sandbox registry, the
 * upper real node's taint tolerated (it is a tainted system node), and this file's own node taint.
 */
function sandboxValues(withExtender: boolean): string {
  const tolerations = [{ key: REAL_NODE_TAINT, operator: 'Exists', effect: 'NoSchedule' }];
  const file = path.join(work, `values-${withExtender ? 'extender' : 'plain'}.yaml`);
  writeFileSync(
    file,
    yaml.dump({
      image: { repository: IMAGE_REPOSITORY, tag: current },
      tolerations,
      virtualNodeTaint: true,
      config: { nodeTaints: [taint] },
      ...(withExtender ? { extender: { enabled: true, tolerations, webhook: { enabled: true } } } : {}),
    }),
  );
  return file;
}

async function install(r: (typeof releases)[0], withExtender: boolean): Promise<void> {
  await helm.ok(
    [
      'install',
      r.release,
      chart,
      '--kubeconfig',
      r.lowerAdmin,
      '-n',
      releaseNs,
      '--create-namespace',
      '--set',
      'target=lower',
      '--wait',
    ],
    180_000,
  );
  const kubeconfig = await lowerKubeconfig(r);
  await helm.ok(
    [
      'install',
      r.release,
      chart,
      '--kubeconfig',
      upper,
      '-n',
      releaseNs,
      '--create-namespace',
      '--set',
      `clusterName=${r.cluster}`,
      '--set-file',
      `lowerKubeconfig.content=${kubeconfig}`,
      '-f',
      sandboxValues(withExtender),
      '--wait',
      '--timeout=5m',
    ],
    330_000,
  );
}

type VirtualNode = NodeJson & {
  status: {
    nodeInfo?: { kubeletVersion?: string };
    addresses?: Array<{ type: string; address: string }>;
    daemonEndpoints?: { kubeletEndpoint?: { Port?: number } };
  };
};

async function nodeReady(node: string): Promise<VirtualNode> {
  return eventually(
    async () => {
      const n = await kubectlJson<VirtualNode>(upper, ['get', 'node', node]);
      if (readyCondition(n)?.status !== 'True') throw new Error(`${node} not Ready: ${JSON.stringify(readyCondition(n))}`);
      return n;
    },
    { timeoutMs: 180_000, what: `virtual node ${node} Ready` },
  );
}

/** A Deployment pinned to one virtual node (kwok nodes run it below: any image name works there). */
function deployment(name: string, node: string, replicas: number, namespace = ns): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': node },
          tolerations: [{ key: taint.key, operator: 'Equal', value: taint.value, effect: taint.effect }],
          containers: [{ name: 'app', image: 'registry.example/hello:1', ports: [{ containerPort: 80 }] }],
        },
      },
    },
  };
}

async function deploymentRunning(name: string, replicas: number, namespace = ns): Promise<PodList['items']> {
  return eventually(
    async () => {
      const pods = (await kubectlJson<PodList>(upper, ['get', 'pods', '-n', namespace, '-l', `app=${name}`])).items;
      const running = pods.filter(
        (p) => p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      if (running.length !== replicas) throw new Error(`${running.length}/${replicas} Running and Ready`);
      return running;
    },
    { timeoutMs: 180_000, what: `Deployment ${name} running` },
  );
}

/** Writes the in-cluster fedlets' logs where the suite's Forbidden check reads them (fedlet-*.log). */
async function collectLogs(tag: string): Promise<void> {
  for (const r of releases)
    for (const p of await fedletPods(r.release).catch(() => []))
      writeFileSync(
        path.join(s.dir, `fedlet-incluster-${tag}-${p.metadata.name}.log`),
        await kubectl(upper, ['logs', p.metadata.name, '-n', releaseNs]).catch(() => ''),
      );
}

/**
 * Follows the logs of every fedlet pod running now (pods an upgrade replaces take their logs with them)
 * and writes them where the suite's Forbidden check reads them; returns what stops and writes.
 */
async function followLogs(tag: string): Promise<() => void> {
  const streams: Array<{ pod: string; stream: ReturnType<typeof kubectlStream> }> = [];
  for (const r of releases)
    for (const p of await fedletPods(r.release))
      streams.push({ pod: p.metadata.name, stream: kubectlStream(upper, ['logs', '-f', p.metadata.name, '-n', releaseNs]) });
  return () => {
    for (const { pod, stream } of streams) {
      stream.stop();
      writeFileSync(path.join(s.dir, `fedlet-incluster-${tag}-${pod}.log`), stream.output());
    }
  };
}

let stopApprover: (() => void) | undefined;
let stopFirstLogs: (() => void) | undefined;

beforeAll(async () => {
  mkdirSync(work, { recursive: true });
  if (missing) return;
  const script = path.join(repoRoot(), 'docs', 'kind', 'extender-tls.sh');
  const r = await run('sh', [script, extenderTlsDir, `DNS:${extenderHost}`]);
  if (r.code !== 0) throw new Error(`${script} failed: ${r.stderr}`);
});

/** Set when the uninstall check has removed everything itself: nothing is left for afterAll. */
let cleanedUp = false;

afterAll(async () => {
  stopApprover?.();
  stopFirstLogs?.();
  if (missing || cleanedUp) return;
  await kubectl(upper, ['delete', 'namespace', ns, sandboxNs, '--ignore-not-found', '--wait=true', '--timeout=90s']).catch(
    () => undefined,
  );
  await Promise.all(
    releases.map(async (r) => {
      await helm.run(['uninstall', r.release, '--kubeconfig', upper, '-n', releaseNs, '--ignore-not-found', '--wait']);
      await helm.run(['uninstall', r.release, '--kubeconfig', r.lowerAdmin, '-n', releaseNs, '--ignore-not-found', '--wait']);
      await kubectl(upper, ['delete', 'node', r.node, '--ignore-not-found']).catch(() => undefined);
      await kubectl(upper, ['delete', 'lease', `${r.node}-leader`, '-n', 'kube-node-lease', '--ignore-not-found']).catch(
        () => undefined,
      );
      await kubectl(upper, ['delete', 'csr', '-l', `fedlet.io/node=${r.node}`]).catch(() => undefined);
      await kubectl(r.lowerAdmin, ['delete', 'pods', '-A', '-l', `fedlet.io/origin=${r.node}`, '--wait=false']).catch(
        () => undefined,
      );
      await kubectl(r.lowerAdmin, ['delete', 'namespace', releaseNs, '--ignore-not-found', '--wait=false']).catch(
        () => undefined,
      );
    }),
  );
  await kubectl(upper, ['delete', 'namespace', releaseNs, '--ignore-not-found', '--wait=false']).catch(() => undefined);
});

describe.skipIf(!!missing)(`fedlet installed by its chart, running as pods${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('helm install of both halves per lower cluster brings the virtual nodes Ready, served from the leader pod', async () => {
    stopApprover = startApprover();
    // docs/install.md: the release namespace and the extender's TLS Secret (serving certificate and the
    // CA of kube-scheduler's client certificate) before the release that runs the extender.
    await kubectl(upper, ['create', 'namespace', releaseNs]);
    await kubectl(upper, [
      '-n',
      releaseNs,
      'create',
      'secret',
      'generic',
      `${r1.release}-extender-tls`,
      `--from-file=tls.crt=${extenderTls.serving.cert}`,
      `--from-file=tls.key=${extenderTls.serving.key}`,
      `--from-file=ca.crt=${extenderTls.caCert}`,
    ]);
    await Promise.all([install(r1, true), install(r2, false)]);
    stopFirstLogs = await followLogs('install');
    for (const r of releases) {
      const n = await nodeReady(r.node);
      const pods = await fedletPods(r.release);
      expect(pods).toHaveLength(2);
      for (const p of pods) expect(p.spec.containers[0]!.image).toBe(`${IMAGE_REPOSITORY}:${current}`);
      const holder = await leader(r.node);
      const leaderPod = pods.find((p) => p.metadata.name === holder);
      expect(leaderPod, `lease holder ${holder} is one of ${pods.map((p) => p.metadata.name).join(', ')}`).toBeDefined();
      // The node's address is the leader pod's: that is what the upper API server dials for the kubelet API.
      expect(n.status?.addresses).toContainEqual({ type: 'InternalIP', address: leaderPod!.status!.podIP });
      expect(n.status.daemonEndpoints).toEqual({
        kubeletEndpoint: { Port: 10250 },
      });
      expect(n.status.nodeInfo?.kubeletVersion).toBe(`v${current}-fedlet`);
      expect(n.metadata.labels?.['fedlet.io/cluster']).toBe(r.cluster);
      expect(n.spec?.taints).toContainEqual(taint);
    }
  });

  it('a Deployment runs below, and kubectl logs, exec and port-forward reach it through the fedlet pod', async () => {
    await Promise.all([createNamespace(upper, ns), createNamespace(upper, sandboxNs)]);
    await apply(upper, deployment('hello-1', r1.node, 2));
    // The upgrade's workloads on the other virtual nodes, started now to run while the checks below do.
    await apply(upper, deployment('hello-2', r2.node, 2));
    for (const [i, f] of s.fedlets.entries()) {
      const d = deployment(`hello-s${i + 1}`, f.nodeName, 1, sandboxNs) as {
        spec: { template: { spec: { tolerations: unknown[] } } };
      };
      d.spec.template.spec.tolerations = [];
      await apply(upper, d);
    }
    const pods = await deploymentRunning('hello-1', 2);
    const lower = await kubectlJson<PodList>(r1.lowerAdmin, ['get', 'pods', '-A', '-l', `fedlet.io/origin=${r1.node}`]);
    expect(lower.items.filter((p) => p.status?.phase === 'Running')).toHaveLength(2);
    const pod = pods[0]!.metadata.name;
    await eventually(async () => expect(await kubectl(upper, ['logs', pod, '-n', ns])).toContain('fedlet test log line'), {
      timeoutMs: 90_000,
      what: 'kubectl logs through the in-cluster fedlet',
    });
    const exec = await kubectlRaw(upper, ['exec', pod, '-n', ns, '--', 'sh', '-c', 'echo out-$((6*7))']);
    expect(`${exec.code} ${exec.stdout.trim()}`, exec.stderr).toBe('0 out-42');

    // port-forward: the lower side's target is an echo server here; bytes go both ways.
    const conns = new Set<net.Socket>();
    const echo = net.createServer((c) => {
      conns.add(c);
      c.on('close', () => conns.delete(c));
      c.on('error', () => c.destroy());
      c.pipe(c);
    });
    await new Promise<void>((r) => echo.listen(s.lowers[0]!.portForwardTarget!, '127.0.0.1', () => r()));
    const pf = kubectlStream(upper, ['port-forward', `pod/${pod}`, '-n', ns, ':80']);
    try {
      const port = Number((await pf.waitFor(/Forwarding from 127\.0\.0\.1:(\d+)/))[1]);
      const data = randomBytes(128 * 1024);
      const got = await new Promise<Buffer>((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        sock.setTimeout(30_000, () => sock.destroy(new Error(`port-forward: ${n} of ${data.length} bytes back after 30 s`)));
        const chunks: Buffer[] = [];
        let n = 0;
        sock.on('data', (c: Buffer) => {
          chunks.push(c);
          n += c.length;
          if (n >= data.length) {
            sock.destroy();
            resolve(Buffer.concat(chunks));
          }
        });
        sock.on('error', reject);
        sock.on('close', () =>
          reject(new Error(`port-forward closed after ${n} of ${data.length} bytes: ${pf.errors().slice(-500)}`)),
        );
        sock.write(data);
      });
      const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
      expect(sha(got)).toBe(sha(data));
    } finally {
      pf.stop();
      // close() waits for open connections: the lower side's (kwok's) stays open until destroyed.
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => echo.close(() => r()));
    }
  });

  it("the chart's extender answers filter calls over mutual TLS only, and the API server calls its webhook", async () => {
    // kube-scheduler's side (extenders[].tlsConfig): its client certificate of the extender's CA, the
    // serving certificate verified against the Service's name. The sandbox's kube-scheduler calls the
    // sandbox's own extender, so this one is called as kube-scheduler would, at each pod's address.
    const pods = (
      await kubectlJson<PodList>(upper, [
        'get',
        'pods',
        '-n',
        releaseNs,
        '-l',
        `app.kubernetes.io/name=fedlet-extender,app.kubernetes.io/instance=${r1.release}`,
      ])
    ).items.filter((p) => p.status?.podIP && !p.metadata.deletionTimestamp);
    expect(pods).toHaveLength(2);
    const at = (p: PodList['items'][0]): ExtenderEndpoint => ({
      host: p.status!.podIP!,
      port: 8888,
      servername: extenderHost,
      caCert: extenderTls.caCert,
      clientCert: extenderTls.scheduler.cert,
      clientKey: extenderTls.scheduler.key,
    });
    const filter = async (p: PodList['items'][0], cpu: string) => {
      const body = JSON.stringify({
        Pod: {
          metadata: { name: 'probe', namespace: ns },
          spec: {
            tolerations: [{ key: taint.key, operator: 'Exists' }],
            containers: [{ name: 'app', image: 'x', resources: { requests: { cpu } } }],
          },
        },
        NodeNames: ourNodes,
      });
      const r = await extenderRequest('POST', '/filter', { body, at: at(p) });
      if (r.status !== 200) throw new Error(`POST /filter at ${p.metadata.name}: ${r.status} ${r.body.slice(0, 300)}`);
      return JSON.parse(r.body) as { NodeNames: string[] | null; FailedNodes: Record<string, string>; Error: string };
    };
    // Without a client certificate, the handshake is refused: plain callers (the API server's service
    // proxy, any pod) get nothing from it.
    await expect(extenderRequest('POST', '/filter', { body: '{}', at: at(pods[0]!), as: 'none' })).rejects.toThrow(
      /certificate required|alert|socket hang up|ECONNRESET/i,
    );
    // Decided from the summaries the in-cluster fedlets publish: a small pod fits, one larger than any
    // lower node (8 CPUs) fits nowhere, with a reason per node.
    for (const p of pods) {
      const small = await eventually(
        async () => {
          const r = await filter(p, '100m');
          if (r.NodeNames?.length !== 2) throw new Error(JSON.stringify(r));
          return r;
        },
        { what: `the chart's extender ${p.metadata.name} passing both virtual nodes` },
      );
      expect(small.NodeNames!.sort()).toEqual([...ourNodes].sort());
      const big = await filter(p, '100');
      expect(big.NodeNames).toEqual([]);
      expect(Object.keys(big.FailedNodes).sort()).toEqual([...ourNodes].sort());
    }

    // The webhook, as the API server calls it for the pods of hello-1 (created after the install): its
    // per-release name in the API server's admission metrics (the sandbox's own webhook adds the same
    // toleration, so the pods' toleration alone would not tell the two apart).
    const webhook = `${r1.release}.virtual-node-toleration.fedlet.io`;
    await eventually(
      async () => {
        const metrics = await kubectl(upper, ['get', '--raw', '/metrics']);
        const line = metrics
          .split('\n')
          .find(
            (l) =>
              l.startsWith('apiserver_admission_webhook_request_total') &&
              l.includes(`name="${webhook}"`) &&
              l.includes('code="200"'),
          );
        if (!line || Number(line.split(' ').pop()) < 1) throw new Error(`no successful call of ${webhook} yet`);
      },
      { what: `the API server calling ${webhook}` },
    );
    const probe = (await deploymentRunning('hello-1', 2))[0]!;
    expect((probe.spec as { tolerations?: Array<{ key?: string }> }).tolerations?.map((t) => t.key)).toContain(
      'fedlet.io/virtual-node',
    );
  });

  it('another replica takes over when the leader pod is deleted; the kubelet API follows it', async () => {
    const holder = await leader(r1.node);
    await kubectl(upper, ['delete', 'pod', holder, '-n', releaseNs, '--wait=false']);
    // The leader releases its lease on SIGTERM; whichever replica asks first leads: the standby, or the
    // pod replacing the deleted one when its image is already on the node (both seen here).
    const next = await eventually(
      async () => {
        const h = await leader(r1.node);
        if (!h || h === holder) throw new Error(`holder ${h || '(none)'}`);
        const pod = (await fedletPods(r1.release)).find((p) => p.metadata.name === h);
        if (!pod?.status?.podIP) throw new Error(`leader ${h} has no pod IP yet`);
        return pod;
      },
      { timeoutMs: 90_000, what: `a replica other than ${holder} leading` },
    );
    await eventually(
      async () => {
        const n = await nodeReady(r1.node);
        expect(n.status?.addresses).toContainEqual({ type: 'InternalIP', address: next.status!.podIP });
      },
      { timeoutMs: 90_000, what: "the node's address following the new leader" },
    );
    const pod = (await deploymentRunning('hello-1', 2))[0]!.metadata.name;
    await eventually(async () => expect(await kubectl(upper, ['logs', pod, '-n', ns])).toContain('fedlet test log line'), {
      timeoutMs: 90_000,
      what: 'kubectl logs through the new leader',
    });
  });

  it('a standby pod stops by itself on SIGTERM (exit 0, not killed when its grace period ends)', async () => {
    // The other release's standby (Ready since its install): no wait for the replica replacing the
    // leader deleted above.
    const holder = await leader(r2.node);
    const standby = await eventually(
      async () => {
        const pods = await fedletPods(r2.release);
        const ready = pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
        const sb = ready.find((p) => p.metadata.name !== holder);
        if (ready.length !== 2 || !sb) throw new Error(`${ready.length}/2 fedlet pods Ready`);
        return sb.metadata.name;
      },
      { timeoutMs: 120_000, what: `a standby of ${r2.release} Ready` },
    );
    const watch = kubectlStream(upper, [
      'get',
      'pod',
      standby,
      '-n',
      releaseNs,
      '--watch',
      '-o',
      'jsonpath={.status.containerStatuses[0].state.terminated.exitCode}{"\\n"}',
    ]);
    try {
      await kubectl(upper, ['delete', 'pod', standby, '-n', releaseNs, '--wait=false']);
      // 143 or 137 would be the runtime's signal; 0 is fedlet's own orderly exit.
      expect((await watch.waitFor(/^(\d+)$/m, 60_000))[1]).toBe('0');
    } finally {
      watch.stop();
    }
    expect(await leader(r2.node)).toBe(holder);
  });
});

/** uid and restarts of every workload pod, upper and lower: what an upgrade must not change. */
async function workloadSnapshot(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const add = (cluster: string, items: PodList['items']) => {
    for (const p of items) {
      const restarts = (p.status?.containerStatuses ?? []).reduce((a, c) => a + (c.restartCount ?? 0), 0);
      out[`${cluster}/${p.metadata.namespace}/${p.metadata.name}`] = `${p.metadata.uid} restarts=${restarts}`;
    }
  };
  for (const namespace of [ns, sandboxNs])
    add('upper', (await kubectlJson<PodList>(upper, ['get', 'pods', '-n', namespace])).items);
  const nodes = [...ourNodes, ...s.fedlets.map((f) => f.nodeName)];
  for (const [i, lower] of s.lowerKubeconfigs.entries())
    add(
      s.fedlets[i]!.cluster,
      (await kubectlJson<PodList>(lower, ['get', 'pods', '-A', '-l', `fedlet.io/origin in (${nodes.join(',')})`])).items,
    );
  return out;
}

describe.skipIf(!!missing)(`helm upgrade to the next image version${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('restarts no workload in any cluster, keeps every virtual node Ready, hands leadership over, and serves the new version', async () => {
    // Workloads on every virtual node (created by the Deployment check above): the two in-cluster ones
    // and the sandbox's own.
    await deploymentRunning('hello-1', 2);
    await deploymentRunning('hello-2', 2);
    for (const i of s.fedlets.keys()) await deploymentRunning(`hello-s${i + 1}`, 1, sandboxNs);
    const before = await workloadSnapshot();
    expect(Object.keys(before).length).toBeGreaterThanOrEqual(12); // 6 upper pods, 6 lower ones
    const leadersBefore = await Promise.all(ourNodes.map(leader));
    const stopLogs = await followLogs('upgrade');

    // Every Ready transition of every node while the upgrade runs.
    const watch = kubectlStream(upper, [
      'get',
      'nodes',
      '--watch',
      '-o',
      'jsonpath={.metadata.name}={.status.conditions[?(@.type=="Ready")].status} since {.status.conditions[?(@.type=="Ready")].lastTransitionTime}{"\\n"}',
    ]);
    try {
      await watch.waitFor(new RegExp(`${r1.node}=True`));
      await Promise.all(
        releases.map((r) =>
          helm.ok(
            [
              'upgrade',
              r.release,
              chart,
              '--kubeconfig',
              upper,
              '-n',
              releaseNs,
              '--reuse-values',
              '--set',
              `image.tag=${next}`,
              '--wait',
              '--timeout=5m',
            ],
            330_000,
          ),
        ),
      );
      for (const r of releases) {
        // The new version serving: the leader writes its version into the node status.
        await eventually(
          async () => {
            const n = await nodeReady(r.node);
            if (n.status.nodeInfo?.kubeletVersion !== `v${next}-fedlet`)
              throw new Error(`still ${n.status.nodeInfo?.kubeletVersion}`);
          },
          { timeoutMs: 120_000, what: `${r.node} reporting v${next}-fedlet` },
        );
        const pods = await eventually(
          async () => {
            const p = await fedletPods(r.release);
            if (p.length !== 2 || p.some((x) => x.spec.containers[0]!.image !== `${IMAGE_REPOSITORY}:${next}`))
              throw new Error(p.map((x) => `${x.metadata.name} ${x.spec.containers[0]!.image}`).join(', '));
            return p;
          },
          { timeoutMs: 120_000, what: `${r.release} pods all on ${next}` },
        );
        // Leadership went from a pod of the old version to one of the new.
        const holder = await leader(r.node);
        expect(pods.map((p) => p.metadata.name)).toContain(holder);
        expect(leadersBefore).not.toContain(holder);
      }
      // Logs still reach the lower cluster, through the new leader.
      const pod = (await deploymentRunning('hello-1', 2))[0]!.metadata.name;
      await eventually(async () => expect(await kubectl(upper, ['logs', pod, '-n', ns])).toContain('fedlet test log line'), {
        timeoutMs: 90_000,
        what: 'kubectl logs after the upgrade',
      });
    } finally {
      watch.stop();
      stopLogs();
    }
    const transitions = watch
      .output()
      .split('\n')
      .filter((l) => ourNodes.some((n) => l.startsWith(`${n}=`)) || s.fedlets.some((f) => l.startsWith(`${f.nodeName}=`)));
    expect(transitions.length).toBeGreaterThan(0);
    expect(
      transitions.filter((l) => !l.split(' ')[0]!.endsWith('=True')),
      transitions.join(' '),
    ).toEqual([]);
    expect(await workloadSnapshot()).toEqual(before);
  });
});

describe.skipIf(!!missing)(`helm uninstall${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('removes the release and leaves exactly what docs/upgrades.md lists, which its cleanup commands remove', async () => {
    // What the fedlets logged up to here; once the release's RBAC goes, they may log refusals until they stop.
    stopFirstLogs?.();
    stopFirstLogs = undefined;
    await collectLogs('final');
    // docs/upgrades.md "Uninstalling": move the workloads off the node first, then uninstall both halves.
    await kubectl(upper, ['delete', 'namespace', ns, sandboxNs, '--wait=true', '--timeout=120s']);
    await Promise.all(
      releases.map(async (r) => {
        await kubectl(upper, ['drain', r.node, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=120s']);
        await helm.ok(['uninstall', r.release, '--kubeconfig', upper, '-n', releaseNs, '--wait'], 180_000);
        await helm.ok(['uninstall', r.release, '--kubeconfig', r.lowerAdmin, '-n', releaseNs, '--wait'], 180_000);
      }),
    );
    // Gone: every object of the releases, in both clusters.
    const names = (kubeconfig: string, what: string, extra: string[] = []) =>
      kubectl(kubeconfig, ['get', what, '-o', 'name', ...extra]).then((o) => o.split('\n').filter(Boolean));
    await eventually(async () => expect(await names(upper, 'pods', ['-n', releaseNs])).toEqual([]), {
      timeoutMs: 120_000,
      what: 'fedlet and extender pods gone',
    });
    expect(
      await names(upper, 'deployments,services,serviceaccounts,secrets,roles,rolebindings', [
        '-n',
        releaseNs,
        '-l',
        'app.kubernetes.io/managed-by=Helm',
      ]),
    ).toEqual([]);
    const [upperClusterRoles, webhooks] = await Promise.all([
      names(upper, 'clusterroles'),
      names(upper, 'mutatingwebhookconfigurations'),
    ]);
    expect(webhooks).not.toContain(
      `mutatingwebhookconfiguration.admissionregistration.k8s.io/${r1.release}-virtual-node-toleration`,
    );
    // Left, as documented: the virtual Node (drained, cordoned), its leader Lease, its scheduling
    // summary, its CSRs, the extender's TLS Secret (made before the install, not by the chart) and the
    // namespaces; no lower pod of the nodes.
    await kubectl(upper, ['get', 'secret', `${r1.release}-extender-tls`, '-n', releaseNs]);
    await kubectl(upper, ['get', 'namespace', releaseNs]);
    await Promise.all(
      releases.map(async (r) => {
        expect(upperClusterRoles).not.toContain(`clusterrole.rbac.authorization.k8s.io/${r.release}:upper`);
        const lowerClusterRoles = await names(r.lowerAdmin, 'clusterroles');
        for (const role of [`${r.release}:lower`, `${r.release}:lower-namespace`])
          expect(lowerClusterRoles).not.toContain(`clusterrole.rbac.authorization.k8s.io/${role}`);
        expect(await names(r.lowerAdmin, 'validatingadmissionpolicies')).not.toContain(
          `validatingadmissionpolicy.admissionregistration.k8s.io/${r.release}-lower-scope`,
        );
        expect(
          await names(r.lowerAdmin, 'serviceaccounts,secrets,roles,rolebindings', [
            '-n',
            releaseNs,
            '-l',
            'app.kubernetes.io/managed-by=Helm',
          ]),
        ).toEqual([]);
        const n = await kubectlJson<NodeJson>(upper, ['get', 'node', r.node]);
        expect(n.spec?.unschedulable).toBe(true);
        await kubectl(upper, ['get', 'lease', `${r.node}-leader`, '-n', 'kube-node-lease']);
        await kubectl(upper, ['get', 'configmap', `fedlet-summary-${r.node}`, '-n', releaseNs]);
        expect((await names(upper, 'csr', ['-l', `fedlet.io/node=${r.node}`])).length).toBeGreaterThan(0);
        expect(await names(r.lowerAdmin, 'pods', ['-A', '-l', `fedlet.io/origin=${r.node}`])).toEqual([]);
      }),
    );
    // The documented cleanup removes the rest.
    await Promise.all(
      releases.map(async (r) => {
        await kubectl(upper, ['delete', 'node', r.node]);
        await kubectl(upper, ['delete', 'lease', `${r.node}-leader`, '-n', 'kube-node-lease']);
        await kubectl(upper, ['delete', 'csr', '-l', `fedlet.io/node=${r.node}`]);
        await kubectl(r.lowerAdmin, ['delete', 'namespace', releaseNs, '--wait=false']);
        await eventually(
          async () =>
            expect(
              await names(upper, 'leases', ['-n', 'kube-node-lease', '--field-selector', `metadata.name=${r.node}`]),
            ).toEqual([]),
          { what: `node Lease of ${r.node} collected with its Node` },
        );
        // The token minted for the lower ServiceAccount (and those fedlet renewed) died with the account:
        // the kubeconfig is refused as unauthenticated (once the API server's cache of accepted tokens,
        // about 10 s, has let it go).
        await eventually(
          async () => {
            const stale = await kubectlRaw(path.join(work, `${r.release}.kubeconfig`), ['get', 'namespaces']);
            // A 401: kubectl says "Unauthorized" or client-go's "asked for the client to provide credentials".
            expect(`${stale.code} ${stale.stderr}`).toMatch(
              /^1 [\s\S]*(Unauthorized|asked for the client to provide credentials)/,
            );
          },
          { timeoutMs: 30_000, what: `the lower token of ${r.release} refused` },
        );
      }),
    );
    await kubectl(upper, ['delete', 'namespace', releaseNs, '--wait=false']);
    cleanedUp = true;
  });
});
