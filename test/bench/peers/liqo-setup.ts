// Runs Liqo (v1.2.0) as the bench's peer for BENCH_PEERS=liqo: its virtual kubelet for the upper cluster
// and its controller manager against lower-2, as host processes of the sandbox without Liqo's network
// fabric. Liqo's own control plane (peering, authentication, CRD replication) is not run; instead this file
// makes by hand the objects it would have made — tenant namespace, kubeconfig Secret, ForeignCluster,
// VirtualNode, NamespaceMap with its accepted status — as ../shared/peers/liqo.md records (verified there).
// The binaries and CRDs come from test/bench/peers/build-liqo.sh (built from Liqo's Go module, cached).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { KubeClient, isAlreadyExists, loadKubeConfig } from '../../../src/kube/client.js';
import { findBinary } from '../../../sandbox/binaries.js';
import { freePorts, startProcess, stopProcess, tail, type ProcessRecord } from '../../../sandbox/processes.js';
import { repoRoot, waitForNodesReady, type SandboxState } from '../../../sandbox/sandbox.js';

/** Liqo's cluster IDs here: the consumer (upper) and the provider (lower-2). */
export const LIQO_HOME = 'upper';
export const LIQO_FOREIGN = 'lower-2';
/** The node taint every Liqo virtual node carries and the label that selects it. */
export const LIQO_TOLERATION = { key: 'virtual-node.liqo.io/not-allowed', operator: 'Exists', effect: 'NoExecute' };
export const LIQO_NODE_SELECTOR = { 'liqo.io/type': 'virtual-node' };

export interface LiqoPeer {
  nodeName: string;
  /** The offloaded upper namespace and its copy in lower-2. */
  upperNs: string;
  lowerNs: string;
  vk: ProcessRecord;
  cm: ProcessRecord;
}

type Names = Pick<LiqoPeer, 'nodeName' | 'upperNs' | 'lowerNs'>;

/** Builds Liqo (or finds it cached) and returns the directory with its binaries and crds/. */
export function buildLiqo(): string {
  const script = path.join(repoRoot(), 'test', 'bench', 'peers', 'build-liqo.sh');
  const r = spawnSync('bash', [script], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script} failed (see above)`);
  return r.stdout.trim().split('\n').pop()!;
}

function kubectl(kubeconfig: string, args: string[]): string {
  const r = spawnSync(findBinary('kubectl'), ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function createIgnoringExisting(c: KubeClient, url: string, body: unknown): Promise<void> {
  await c.create(url, body).catch((e: unknown) => {
    if (!isAlreadyExists(e)) throw e;
  });
}

/** Creates a namespace and waits for its default ServiceAccount (pods are refused until it exists). */
export async function ensureNamespace(c: KubeClient, name: string, labels: Record<string, string> = {}): Promise<void> {
  await createIgnoringExisting(c, '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
  for (let i = 0; i < 150; i++) {
    const ok = await c.get(`/api/v1/namespaces/${name}/serviceaccounts/default`).then(
      () => true,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`namespace ${name}: no default ServiceAccount after 30 s`);
}

/**
 * The objects Liqo's peering would have made. The two large CRDs need server-side apply; a missing CRD
 * leaves the virtual kubelet waiting for its caches without a word, so all of them go to both clusters.
 */
async function liqoObjects(s: SandboxState, crds: string, tenant: string, secret: string, peer: Names): Promise<void> {
  const upperKc = s.upperKubeconfig;
  const lowerKc = s.lowerKubeconfigs[1]!;
  for (const kc of [upperKc, lowerKc]) {
    kubectl(kc, ['apply', '--server-side', '-f', crds]);
    kubectl(kc, ['wait', '--for=condition=Established', 'crd', '--all', '--timeout=120s']);
  }
  const upper = new KubeClient(loadKubeConfig(upperKc));
  const lower = new KubeClient(loadKubeConfig(lowerKc));
  await ensureNamespace(upper, tenant);
  await ensureNamespace(upper, peer.upperNs);
  await ensureNamespace(lower, peer.lowerNs);
  const labels = (id: string) => ({ 'liqo.io/remote-cluster-id': id });
  // B's admin kubeconfig with the certificates embedded: the virtual kubelet reads it from the Secret.
  const kubeconfig = kubectl(lowerKc, ['config', 'view', '--raw', '--flatten', '--minify']);
  await createIgnoringExisting(upper, `/api/v1/namespaces/${tenant}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: secret },
    stringData: { kubeconfig },
  });
  const fc = (id: string) => ({
    apiVersion: 'core.liqo.io/v1beta1',
    kind: 'ForeignCluster',
    metadata: { name: id, labels: labels(id) },
    spec: { clusterID: id },
  });
  await createIgnoringExisting(upper, '/apis/core.liqo.io/v1beta1/foreignclusters', fc(LIQO_FOREIGN));
  // On B too: Liqo reflects EndpointSlices below and looks up the consumer's ForeignCluster for that.
  await createIgnoringExisting(lower, '/apis/core.liqo.io/v1beta1/foreignclusters', fc(LIQO_HOME));
  const off = `/apis/offloading.liqo.io/v1beta1/namespaces/${tenant}`;
  await createIgnoringExisting(upper, `${off}/virtualnodes`, {
    apiVersion: 'offloading.liqo.io/v1beta1',
    kind: 'VirtualNode',
    metadata: { name: peer.nodeName, labels: labels(LIQO_FOREIGN) },
    spec: {
      clusterID: LIQO_FOREIGN,
      createNode: true,
      disableNetworkCheck: true,
      kubeconfigSecretRef: { name: secret },
      // Becomes the node's capacity; the same room fedlet's node reports, so neither refuses a pod.
      resourceQuota: { hard: { cpu: '1000', memory: '4Ti', pods: '5000' } },
    },
  });
  await createIgnoringExisting(upper, `${off}/namespacemaps`, {
    apiVersion: 'offloading.liqo.io/v1beta1',
    kind: 'NamespaceMap',
    metadata: { name: LIQO_FOREIGN, labels: labels(LIQO_FOREIGN) },
    spec: { desiredMapping: { [peer.upperNs]: peer.lowerNs } },
  });
  // B's controllers would accept the mapping through the CRD replicator; here the bench does.
  await upper.patch(
    `${off}/namespacemaps/${LIQO_FOREIGN}/status`,
    { status: { currentMapping: { [peer.upperNs]: { remoteNamespace: peer.lowerNs, phase: 'Accepted' } } } },
    'merge',
  );
}

/** Starts Liqo's two processes against the sandbox and waits for its virtual node to be Ready. */
export async function startLiqo(s: SandboxState, binDir: string, upperNs: string): Promise<LiqoPeer> {
  const tenant = `liqo-tenant-${LIQO_FOREIGN}`;
  const secret = `kubeconfig-${LIQO_FOREIGN}`;
  const nodeName = `liqo-${LIQO_FOREIGN}`;
  const partial: Names = { nodeName, upperNs, lowerNs: `${upperNs}-${LIQO_HOME}` };
  await liqoObjects(s, path.join(binDir, 'crds'), tenant, secret, partial);
  const cm = startProcess(
    'liqo-controller-manager',
    path.join(binDir, 'liqo-controller-manager'),
    [
      `--cluster-id=${LIQO_FOREIGN}`,
      '--networking-enabled=false',
      '--authentication-enabled=false',
      '--offloading-enabled=true',
      '--metrics-address=0',
      '--health-probe-address=0',
    ],
    path.join(s.dir, 'liqo-controller-manager.log'),
    { KUBECONFIG: s.lowerKubeconfigs[1]! },
  );
  const [port] = await freePorts(1);
  const home = new URL(loadKubeConfig(s.upperKubeconfig).server);
  const vk = startProcess(
    'liqo-virtual-kubelet',
    path.join(binDir, 'virtual-kubelet'),
    [
      `--home-kubeconfig=${s.upperKubeconfig}`,
      `--home-cluster-id=${LIQO_HOME}`,
      `--foreign-cluster-id=${LIQO_FOREIGN}`,
      `--foreign-kubeconfig-secret-name=${secret}`,
      `--tenant-namespace=${tenant}`,
      `--nodename=${nodeName}`,
      `--node-ip=${s.nodeIP ?? '127.0.0.1'}`,
      `--listen-port=${port}`,
      '--certificate-type=self-signed',
      '--node-check-network=false',
      // The chart's default: a ServiceAccount token per offloaded pod, as fedlet gives each pod one.
      '--enable-apiserver-support=true',
      `--home-api-server-host=${home.hostname}`,
      `--home-api-server-port=${home.port || '443'}`,
    ],
    path.join(s.dir, 'liqo-virtual-kubelet.log'),
    { POD_NAME: nodeName, POD_NAMESPACE: tenant, VIRTUALNODE_NAME: nodeName },
  );
  try {
    await waitForNodesReady(s, [nodeName], 180_000);
  } catch (e) {
    const logs = `--- liqo virtual kubelet ---\n${tail(vk.log)}\n--- liqo controller manager ---\n${tail(cm.log)}`;
    throw new Error(`${(e as Error).message.split('\n')[0]}\n${logs}`);
  }
  return { ...partial, vk, cm };
}

/** Stops Liqo's processes and removes its Node (its virtual kubelet never deletes the Node itself). */
export async function stopLiqo(s: SandboxState, peer: LiqoPeer): Promise<void> {
  await stopProcess(peer.vk);
  await stopProcess(peer.cm);
  await new KubeClient(loadKubeConfig(s.upperKubeconfig)).delete(`/api/v1/nodes/${peer.nodeName}`).catch(() => undefined);
}
