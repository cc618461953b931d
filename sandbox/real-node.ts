// Real nodes for lower sandbox clusters: containerd + runc + CNI bridge + kubelet (and kube-proxy and
// CoreDNS on a cluster's first real node), each node in network and mount namespaces of its own
// (sandbox/real-node.sh). Wiring, per node slot g (1, 2, ...):
//   - a veth pair: "flnode<g>" (198.19.g.1/24) here, "eth0" (198.19.g.2/24, the node's InternalIP) inside;
//   - pods on a CNI bridge in the node namespace, pod CIDR 10.100.g.0/24: distinct per node and routed
//     from here ("10.100.g.0/24 via 198.19.g.2"), so pods of different lower clusters reach each other
//     (kwok nodes keep their deliberately overlapping 10.244.0.0/16);
//   - node components reach their API server at 198.19.g.1 (the API server listens on every address of
//     this namespace, see ClusterSpec.bindAddress) and verify it under the name "localhost";
//   - every process of the node lives in the cgroup tree /fedlet-<g>-<id> (cgroup v1, cgroupfs driver), so
//     teardown finds containers and shims that outlive containerd, kills them and removes the tree.
// Real nodes need root and a private network namespace (sandbox/netns-run.sh): they add routes,
// interfaces and sysctls that must not touch the machine's own network.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findBinary, findOptionalBinary, imagesDir } from './binaries.js';
import { adminRequest, type ClusterState } from './cluster.js';
import { clientExt, kubeconfigYaml, serverExt, signCert } from './pki.js';
import { isOurs, startProcess, stopProcess, type ProcessRecord } from './processes.js';

export interface RealNodeRecord {
  cluster: string;
  name: string;
  slot: number;
  dir: string;
  nodeIP: string;
  podCIDR: string;
  cgroupRoot: string;
  /** Mount points this node created on the host (removed again when empty). */
  hostPaths: string[];
  /** The node script (sandbox/real-node.sh); its namespaces live as long as it and its children. */
  process: ProcessRecord;
  /** containerd, kubelet, kube-proxy, coredns as started by the script. */
  components: ProcessRecord[];
}

export interface RealNodeSpec {
  cluster: ClusterState;
  name: string;
  slot: number;
  labels: Record<string, string>;
  /** Run kube-proxy and CoreDNS on this node (one per cluster). */
  clusterServices: boolean;
  /**
   * A plain-HTTP registry containerd pulls `name/...` images from (sandbox/registry.ts): `endpoint` is
   * its host:port as the node reaches it.
   */
  registry?: { name: string; endpoint: string };
}

/** Taint on every real node: pods land there only when they tolerate it (tests, benchmarks). */
export const REAL_NODE_TAINT = 'fedlet.io/real-node';
export const REAL_NODE_LABEL = 'fedlet.io/real-node';
export const CLUSTER_DNS_IP = '10.96.0.10';
export const realNodeIP = (slot: number) => `198.19.${slot}.2`;
export const realNodeGateway = (slot: number) => `198.19.${slot}.1`;
export const realNodePodCIDR = (slot: number) => `10.100.${slot}.0/24`;
const vethName = (slot: number) => `flnode${slot}`;

/** Paths the kubelet, containerd and CNI plugins write whatever their configuration says. */
const HOST_PATHS = ['/var/lib/kubelet', '/var/log/pods', '/var/log/containers', '/var/lib/cni', '/run/containerd', '/run/netns'];
/**
 * Kernel settings the kubelet sets machine-wide at start (kernel.panic, vm.overcommit_memory, ...) unless
 * they already hold these values. The node's mount namespace shows it files with exactly these values
 * instead, so a sandbox never changes how the machine panics or overcommits.
 */
const KUBELET_SYSCTLS: Record<string, string> = {
  'vm/overcommit_memory': '1',
  'vm/panic_on_oom': '0',
  'kernel/panic': '10',
  'kernel/panic_on_oops': '1',
  'kernel/keys/root_maxkeys': '1000000',
  'kernel/keys/root_maxbytes': '25000000',
};
const CGROUP_BASE = '/sys/fs/cgroup';

export class RealNodeUnavailable extends Error {}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`);
  }
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir, cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Why real nodes cannot run here, or undefined when they can. Tests skip by this reason; `sandbox up
 * --real-nodes` fails with it.
 */
export function realNodeUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'real nodes need Linux';
  if (process.getuid?.() !== 0) return 'real nodes need root (containerd, runc, cgroups, network namespaces)';
  if (!inPrivateNetns()) return "real nodes need the sandbox's private network namespace: run under sandbox/netns-run.sh";
  for (const c of ['containerd', 'containerd-shim-runc-v2', 'ctr', 'runc', 'unshare', 'nsenter', 'ip', 'iptables'])
    if (!which(c)) return `${c} is not installed (npm run setup installs Debian's containerd, runc, iptables as root)`;
  if (!existsSync('/usr/lib/cni/bridge')) return 'CNI plugins are missing in /usr/lib/cni (Debian: containernetworking-plugins)';
  if (!existsSync(path.join(CGROUP_BASE, 'memory', 'memory.limit_in_bytes')))
    return 'real nodes here expect cgroup v1 hierarchies under /sys/fs/cgroup (the kubelet runs with failCgroupV1: false)';
  try {
    findBinary('kubelet');
  } catch (e) {
    return (e as Error).message;
  }
  for (const img of ['pause', 'busybox', 'testapp'])
    if (!existsSync(path.join(imagesDir(), `${img}.tar`)))
      return `image ${img} is missing in ${imagesDir()}: run 'npm run setup' (sandbox/images/build-images.sh)`;
  return undefined;
}

/**
 * Whether this process runs in a network namespace of its own (sandbox/netns-run.sh) rather than the
 * machine's: compared with PID 1's when readable, else judged by its links (only loopback and real-node
 * veths; the machine has a NIC).
 */
function inPrivateNetns(): boolean {
  try {
    return readlinkSync('/proc/self/ns/net') !== readlinkSync('/proc/1/ns/net');
  } catch {
    const names = [...sh('ip', ['-o', 'link', 'show']).matchAll(/^\d+: ([^:@]+)[@:]/gm)].map((m) => m[1]!);
    return names.every((n) => n === 'lo' || /^flnode\d+$/.test(n));
  }
}

/** The first `n` free node slots in this network namespace (a slot is free when its veth does not exist). */
export function freeSlots(n: number): number[] {
  const links = sh('ip', ['-o', 'link', 'show']);
  const used = new Set([...links.matchAll(/\d+: flnode(\d+)[@:]/g)].map((m) => Number(m[1])));
  const out: number[] = [];
  for (let g = 1; g < 255 && out.length < n; g++) if (!used.has(g)) out.push(g);
  if (out.length < n) throw new Error('no free real-node slots left (at most 254 per network namespace)');
  return out;
}

/** The cgroup v1 hierarchies (one directory each under /sys/fs/cgroup); the kubelet uses all of them. */
function hierarchies(): string[] {
  return readdirSync(CGROUP_BASE)
    .map((h) => path.join(CGROUP_BASE, h))
    .filter((h) => existsSync(path.join(h, 'cgroup.procs')));
}

function prepareCgroups(root: string): void {
  for (const h of hierarchies()) {
    for (const sub of [root, `${root}/runtime`]) {
      const dir = path.join(h, sub);
      mkdirSync(dir, { recursive: true });
      // A new cpuset cgroup has no CPUs or memory nodes: nothing could run in it until they are copied.
      if (path.basename(h) === 'cpuset')
        for (const f of ['cpuset.cpus', 'cpuset.mems'])
          writeFileSync(path.join(dir, f), readFileSync(path.join(path.dirname(dir), f), 'utf8').trim() || '0');
    }
  }
}

function joinCgroups(root: string, pid: number): void {
  for (const h of hierarchies()) writeFileSync(path.join(h, root, 'runtime', 'cgroup.procs'), String(pid));
}

/** Every cgroup directory of the tree, deepest first. */
function cgroupDirs(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(dir, e.name));
    out.push(dir);
  };
  for (const h of hierarchies()) {
    const dir = path.join(h, root);
    if (existsSync(dir)) walk(dir);
  }
  return out;
}

function pidsIn(dirs: string[]): number[] {
  const pids = new Set<number>();
  for (const d of dirs)
    try {
      for (const l of readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l.trim()) pids.add(Number(l));
    } catch {
      /* removed meanwhile */
    }
  return [...pids];
}

/** Kills every process left in the node's cgroup tree (shims, containers) and removes the tree. */
async function sweepCgroups(root: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const pids = pidsIn(cgroupDirs(root));
    if (!pids.length) break;
    if (Date.now() > deadline) throw new Error(`processes ${pids.join(', ')} in cgroup ${root} survive SIGKILL`);
    for (const pid of pids)
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    await new Promise((r) => setTimeout(r, 100));
  }
  for (let attempt = 0; ; attempt++) {
    const left = cgroupDirs(root).filter((d) => {
      try {
        rmdirSync(d);
        return false;
      } catch {
        return existsSync(d);
      }
    });
    if (!left.length) return;
    if (attempt > 50) throw new Error(`cannot remove cgroups ${left.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function nodeKubeconfig(cluster: ClusterState, slot: number, cert: { cert: string; key: string }, file: string): string {
  const port = new URL(cluster.server).port;
  // The API server's certificate names localhost, not the gateway address the node dials.
  const yaml = kubeconfigYaml({
    name: cluster.name,
    server: `https://${realNodeGateway(slot)}:${port}`,
    caCert: cluster.caCert,
    ...cert,
  });
  writeFileSync(file, yaml.replace(/^(\s+)server: (.*)$/m, '$1server: $2\n$1tls-server-name: localhost'), { mode: 0o600 });
  return file;
}

/** Writes every file a real node's processes read (certificates, CNI, containerd, kubelet, kube-proxy, DNS); returns node.env. */
function writeConfigs(spec: RealNodeSpec, dir: string, cgroupRoot: string): Record<string, string> {
  const { cluster, name, slot } = spec;
  const pkiDir = path.join(cluster.dir, 'pki');
  const ca = { cert: path.join(pkiDir, 'ca.crt'), key: path.join(pkiDir, 'ca.key') };
  const nodeIP = realNodeIP(slot);
  const client = signCert(pkiDir, ca, `${name}-kubelet-client`, `/O=system:nodes/CN=system:node:${name}`, clientExt());
  const serving = signCert(
    pkiDir,
    ca,
    `${name}-kubelet-serving`,
    `/O=system:nodes/CN=system:node:${name}`,
    serverExt([`IP:${nodeIP}`, `DNS:${name}`]),
  );
  const socket = path.join(dir, 'containerd.sock');
  const cniDir = path.join(dir, 'net.d');
  mkdirSync(cniDir, { recursive: true });
  writeFileSync(path.join(cniDir, '10-fedlet.conflist'), cniConfig(dir, slot));
  writeFileSync(path.join(dir, 'containerd.toml'), containerdConfig(dir, socket, cniDir, writeRegistryHosts(dir, spec.registry)));
  writeFileSync(path.join(dir, 'resolv.conf'), `nameserver ${CLUSTER_DNS_IP}\n`);
  writeFileSync(
    path.join(dir, 'kubelet.yaml'),
    kubeletConfig({ dir, nodeIP, cgroupRoot, serving, clientCA: cluster.caCert, socket }),
  );
  nodeKubeconfig(cluster, slot, client, path.join(dir, 'kubelet.kubeconfig'));
  if (spec.clusterServices) {
    const proxy = signCert(pkiDir, ca, 'kube-proxy', '/CN=system:kube-proxy', clientExt());
    nodeKubeconfig(cluster, slot, proxy, path.join(dir, 'kube-proxy.kubeconfig'));
    writeFileSync(path.join(dir, 'kube-proxy.yaml'), kubeProxyConfig(dir, name));
    const dns = signCert(pkiDir, ca, 'coredns', '/CN=fedlet:coredns', clientExt());
    nodeKubeconfig(cluster, slot, dns, path.join(dir, 'coredns.kubeconfig'));
    writeFileSync(path.join(dir, 'Corefile'), corefile(dir, nodeIP, cluster.name));
  }
  const env = nodeEnv(spec, { nodeIP, socket, sysctlMounts: writeSysctls(dir) });
  writeFileSync(
    path.join(dir, 'node.env'),
    Object.entries(env)
      .map(([k, v]) => `${k}='${v}'`)
      .join('\n') + '\n',
  );
  return env;
}

/** The CNI bridge network of a node: its own pod CIDR, routed (no masquerading). Pure. */
function cniConfig(dir: string, slot: number): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'fedlet',
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          // Pod addresses stay visible across clusters (a flat, routed network); no masquerading.
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: realNodePodCIDR(slot) }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: path.join(dir, 'ipam'),
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

/** containerd's configuration for one node: its own root, state and socket; CRI with the node's CNI. Pure. */
function containerdConfig(dir: string, socket: string, cniDir: string, registryHosts: string): string {
  return [
    'version = 2',
    `root = "${path.join(dir, 'containerd', 'root')}"`,
    `state = "${path.join(dir, 'containerd', 'state')}"`,
    'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]',
    '[grpc]',
    `  address = "${socket}"`,
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = "${path.join(dir, 'containerd', 'opt')}"`,
    '[plugins."io.containerd.grpc.v1.cri"]',
    '  sandbox_image = "fedlet.local/pause:1"',
    // Root here lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below the parent's.
    '  restrict_oom_score_adj = true',
    '  netns_mounts_under_state_dir = true',
    '  stream_server_address = "127.0.0.1"',
    '  [plugins."io.containerd.grpc.v1.cri".cni]',
    '    bin_dir = "/usr/lib/cni"',
    `    conf_dir = "${cniDir}"`,
    '  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
    '    runtime_type = "io.containerd.runc.v2"',
    '    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
    '      SystemdCgroup = false',
    // Registry hosts (one hosts.toml per registry name): the sandbox's registry, plain HTTP.
    '  [plugins."io.containerd.grpc.v1.cri".registry]',
    `    config_path = "${registryHosts}"`,
    '',
  ].join('\n');
}

/** The kubelet's configuration: webhook authn/authz, the sandbox's taint, no eviction of sandbox pods. Pure. */
function kubeletConfig(o: {
  dir: string;
  nodeIP: string;
  cgroupRoot: string;
  serving: { cert: string; key: string };
  clientCA: string;
  socket: string;
}): string {
  const { dir, nodeIP, cgroupRoot, serving, socket } = o;
  return [
    'apiVersion: kubelet.config.k8s.io/v1beta1',
    'kind: KubeletConfiguration',
    // The machine has cgroup v1 only; 1.36 refuses it unless told.
    'failCgroupV1: false',
    'cgroupDriver: cgroupfs',
    `cgroupRoot: ${cgroupRoot}`,
    'failSwapOn: false',
    `address: ${nodeIP}`,
    'port: 10250',
    'readOnlyPort: 0',
    'healthzBindAddress: 127.0.0.1',
    'healthzPort: 10248',
    `tlsCertFile: ${serving.cert}`,
    `tlsPrivateKeyFile: ${serving.key}`,
    'authentication:',
    '  anonymous: {enabled: false}',
    '  webhook: {enabled: true}',
    `  x509: {clientCAFile: ${o.clientCA}}`,
    'authorization: {mode: Webhook}',
    `containerRuntimeEndpoint: unix://${socket}`,
    'clusterDomain: cluster.local',
    `clusterDNS: [${CLUSTER_DNS_IP}]`,
    `resolvConf: ${path.join(dir, 'resolv.conf')}`,
    'registerWithTaints:',
    `- {key: ${REAL_NODE_TAINT}, value: "true", effect: NoSchedule}`,
    // A busy shared disk must not evict sandbox pods or garbage-collect the images (the imported ones have
    // no registry to come back from).
    'evictionHard: {memory.available: 50Mi, nodefs.available: 1%, nodefs.inodesFree: 1%, imagefs.available: 1%}',
    'imageGCHighThresholdPercent: 100',
    'imageGCLowThresholdPercent: 99',
    'maxPods: 110',
    'serializeImagePulls: false',
    'containerLogMaxSize: 50Mi',
    // The kubelet shows a container in crash-loop backoff as Waiting/CrashLoopBackOff from the pod's next
    // sync on, and syncs it again when the backoff ends or after syncFrequency, whichever is sooner. With
    // the default 1m that is only once the doubling backoff outlasts a minute (the 4th restart, about
    // 2.5 min in); with 10s it shows from the second restart on.
    'syncFrequency: 10s',
    '',
  ].join('\n');
}

/** kube-proxy in iptables mode, leaving the machine-wide conntrack settings alone. Pure. */
function kubeProxyConfig(dir: string, name: string): string {
  return [
    'apiVersion: kubeproxy.config.k8s.io/v1alpha1',
    'kind: KubeProxyConfiguration',
    `clientConnection: {kubeconfig: ${path.join(dir, 'kube-proxy.kubeconfig')}}`,
    'mode: iptables',
    `hostnameOverride: ${name}`,
    'clusterCIDR: 10.100.0.0/16',
    'healthzBindAddress: 127.0.0.1:10256',
    'metricsBindAddress: 127.0.0.1:10249',
    // A network namespace cannot change the machine-wide conntrack table size; leave it alone.
    'conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}',
    'iptables: {localhostNodePorts: false}',
    '',
  ].join('\n');
}

/** CoreDNS serving the cluster's names on the node's address. Pure. */
function corefile(dir: string, nodeIP: string, clusterName: string): string {
  return [
    '.:53 {',
    `  bind ${nodeIP}`,
    '  errors',
    '  health 127.0.0.1:18080',
    '  ready 127.0.0.1:18181',
    '  kubernetes cluster.local in-addr.arpa ip6.arpa {',
    `    kubeconfig ${path.join(dir, 'coredns.kubeconfig')} ${clusterName}`,
    '    pods insecure',
    '    fallthrough in-addr.arpa ip6.arpa',
    '  }',
    '  cache 5',
    '  loadbalance',
    '}',
    '',
  ].join('\n');
}

/** Files bind-mounted over /proc/sys for the kubelet's sysctl checks; returns the mounts. */
function writeSysctls(dir: string): string[] {
  const sysctlDir = path.join(dir, 'sysctl');
  mkdirSync(sysctlDir, { recursive: true });
  return Object.entries(KUBELET_SYSCTLS).map(([k, v]) => {
    const f = path.join(sysctlDir, k.replace(/\//g, '.'));
    writeFileSync(f, `${v}\n`);
    return `${f}:/proc/sys/${k}`;
  });
}

/** What node.sh is told (node.env): binaries, addresses, labels, mounts, images. */
function nodeEnv(spec: RealNodeSpec, o: { nodeIP: string; socket: string; sysctlMounts: string[] }): Record<string, string> {
  const images = ['pause', 'busybox', 'testapp'].map((i) => path.join(imagesDir(), `${i}.tar`));
  return {
    NODE_NAME: spec.name,
    NODE_IP: o.nodeIP,
    NODE_LABELS: Object.entries(spec.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    CONTAINERD: which('containerd')!,
    CONTAINERD_SOCKET: o.socket,
    KUBELET: findBinary('kubelet'),
    KUBE_PROXY: spec.clusterServices ? (findOptionalBinary('kube-proxy') ?? '') : '',
    COREDNS: spec.clusterServices ? (findOptionalBinary('coredns') ?? '') : '',
    HOST_PATHS: HOST_PATHS.join(' '),
    SYSCTL_MOUNTS: o.sysctlMounts.join(' '),
    IMAGE_TARS: images.join(' '),
  };
}

/**
 * containerd's registry host configuration (config_path): for the sandbox's registry, a hosts.toml that
 * sends pulls of `<name>/...` to its plain-HTTP endpoint. Without a registry the directory stays empty
 * (containerd then uses each image's own host, which nothing here can reach).
 */
function writeRegistryHosts(dir: string, registry: RealNodeSpec['registry']): string {
  const hostsDir = path.join(dir, 'certs.d');
  rmSync(hostsDir, { recursive: true, force: true });
  mkdirSync(hostsDir, { recursive: true });
  if (registry) {
    mkdirSync(path.join(hostsDir, registry.name));
    const url = `http://${registry.endpoint}`;
    writeFileSync(
      path.join(hostsDir, registry.name, 'hosts.toml'),
      [`server = "${url}"`, '', `[host."${url}"]`, '  capabilities = ["pull", "resolve"]', ''].join('\n'),
    );
  }
  return hostsDir;
}

/** RBAC for CoreDNS and the kube-dns Service (selector-less: CoreDNS runs on the node, not in a pod). */
function clusterDnsManifest(nodeIP: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'fedlet:coredns' },
        rules: [
          { apiGroups: [''], resources: ['services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
          { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'fedlet:coredns' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'fedlet:coredns' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'fedlet:coredns' }],
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
        spec: {
          clusterIP: CLUSTER_DNS_IP,
          ports: [
            { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
            { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
          ],
        },
      },
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'kube-dns-node', namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'kube-dns' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: [nodeIP], conditions: { ready: true } }],
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, protocol: 'TCP' },
        ],
      },
    ],
  });
}

/** Asynchronous: nodes start in parallel, and a blocked event loop would stall the others' waits. */
function kubectl(cluster: ClusterState, args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(findBinary('kubectl'), ['--kubeconfig', cluster.kubeconfig, ...args], (err, _out, stderr) =>
      err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr || err.message}`)) : resolve(),
    );
    child.stdin?.end(input ?? '');
  });
}

function wireNetwork(slot: number, pid: number): void {
  const veth = vethName(slot);
  const inNode = (args: string[]) => sh('nsenter', ['-t', String(pid), '-n', 'ip', ...args]);
  sh('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(pid)]);
  sh('ip', ['addr', 'add', `${realNodeGateway(slot)}/24`, 'dev', veth]);
  sh('ip', ['link', 'set', veth, 'up']);
  inNode(['link', 'set', 'lo', 'up']);
  inNode(['addr', 'add', `${realNodeIP(slot)}/24`, 'dev', 'eth0']);
  inNode(['link', 'set', 'eth0', 'up']);
  inNode(['route', 'add', 'default', 'via', realNodeGateway(slot)]);
  sh('ip', ['route', 'add', realNodePodCIDR(slot), 'via', realNodeIP(slot)]);
  // This (private) namespace routes between nodes: pod traffic of one lower cluster to another's.
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
}

/**
 * Every kubelet, containerd (CRI config watcher) and kube-proxy takes inotify instances, and the kernel's
 * default of 128 per user runs out on a machine that already runs several sandboxes: containerd's CRI
 * plugin then fails to load ("too many open files"). Raised machine-wide, never lowered.
 */
export function ensureInotifyInstances(min = 8192): void {
  const f = '/proc/sys/fs/inotify/max_user_instances';
  if (Number(readFileSync(f, 'utf8').trim()) < min) writeFileSync(f, String(min));
}

/** Starts one real node and waits until its Node is Ready in the cluster. */
export async function startRealNode(spec: RealNodeSpec, timeoutMs = 120_000): Promise<RealNodeRecord> {
  const why = realNodeUnavailableReason();
  if (why) throw new RealNodeUnavailable(why);
  ensureInotifyInstances();
  const dir = path.join(spec.cluster.dir, `node-${spec.name}`);
  for (const stale of ['go', 'started', 'pids']) rmSync(path.join(dir, stale), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const cgroupRoot = `/fedlet-${spec.slot}-${randomBytes(3).toString('hex')}`;
  writeConfigs(spec, dir, cgroupRoot);
  if (spec.clusterServices) await kubectl(spec.cluster, ['apply', '-f', '-'], clusterDnsManifest(realNodeIP(spec.slot)));
  const hostPaths = HOST_PATHS.filter((p) => !existsSync(p));
  prepareCgroups(cgroupRoot);
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'real-node.sh');
  const started = startProcess(
    `real-node-${spec.name}`,
    which('unshare')!,
    ['--net', '--mount', '--propagation', 'private', '/bin/bash', scriptPath(script), dir],
    path.join(dir, 'node.log'),
  );
  // unshare execs the script in place: that is the command line teardown checks before it signals.
  const rec: RealNodeRecord = {
    cluster: spec.cluster.name,
    name: spec.name,
    slot: spec.slot,
    dir,
    nodeIP: realNodeIP(spec.slot),
    podCIDR: realNodePodCIDR(spec.slot),
    cgroupRoot,
    hostPaths,
    process: { ...started, command: '/bin/bash' },
    components: [],
  };
  try {
    await waitFor(
      () => readlinkSync(`/proc/${started.pid}/ns/net`) !== readlinkSync('/proc/self/ns/net'),
      30_000,
      'node namespaces',
    );
    joinCgroups(cgroupRoot, started.pid);
    wireNetwork(spec.slot, started.pid);
    writeFileSync(path.join(dir, 'go'), '');
    await waitFor(() => existsSync(path.join(dir, 'started')) || !isOurs(rec.process), timeoutMs, 'node components');
    if (!isOurs(rec.process)) throw new Error(`the node script exited:\n${readFileSync(path.join(dir, 'node.log'), 'utf8')}`);
    rec.components = readComponents(dir);
    await waitForNodeReady(spec.cluster, spec.name, dir, timeoutMs);
    // Lower clusters allocate no pod CIDRs (kwok nodes bring their own); publish this node's.
    await kubectl(spec.cluster, [
      'patch',
      'node',
      spec.name,
      '-p',
      JSON.stringify({ spec: { podCIDR: rec.podCIDR, podCIDRs: [rec.podCIDR] } }),
    ]);
    return rec;
  } catch (e) {
    await stopRealNode(rec).catch(() => undefined);
    throw new Error(`real node ${spec.name} of ${spec.cluster.name} failed to start: ${(e as Error).message}`);
  }
}

function scriptPath(p: string): string {
  // dist/sandbox/real-node.js runs next to no copy of the script; use the source tree's.
  if (existsSync(p)) return p;
  const src = p.replace(`${path.sep}dist${path.sep}`, path.sep);
  if (existsSync(src)) return src;
  throw new Error(`cannot find real-node.sh (looked at ${p} and ${src})`);
}

function readComponents(dir: string): ProcessRecord[] {
  const pidDir = path.join(dir, 'pids');
  const env = Object.fromEntries(
    readFileSync(path.join(dir, 'node.env'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const i = l.indexOf('=');
        return [l.slice(0, i), l.slice(i + 2, -1)];
      }),
  );
  const commands: Record<string, string | undefined> = {
    containerd: env.CONTAINERD,
    kubelet: env.KUBELET,
    'kube-proxy': env.KUBE_PROXY,
    coredns: env.COREDNS,
  };
  return readdirSync(pidDir).map((name) => ({
    name,
    pid: Number(readFileSync(path.join(pidDir, name), 'utf8').trim()),
    command: commands[name] ?? name,
    args: [],
    log: path.join(dir, `${name}.log`),
  }));
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Checks once more after the deadline: a busy event loop (other nodes starting) may have slept past it.
  for (;;) {
    const last = Date.now() >= deadline;
    try {
      if (check()) return;
    } catch {
      /* not yet */
    }
    if (last) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms`);
}

async function waitForNodeReady(cluster: ClusterState, name: string, dir: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const r = await adminRequest(cluster, 'GET', `/api/v1/nodes/${name}`).catch((e: Error) => ({ status: 0, body: e.message }));
    if (r.status === 200) {
      const n = JSON.parse(r.body) as { status?: { conditions?: Array<{ type: string; status: string; message?: string }> } };
      const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
      if (ready?.status === 'True') return;
      last = ready?.message ?? 'no Ready condition';
    } else last = `${r.status} ${r.body.slice(0, 200)}`;
    await new Promise((res) => setTimeout(res, 250));
  }
  let kubeletLog = '';
  try {
    kubeletLog = readFileSync(path.join(dir, 'kubelet.log'), 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    /* none */
  }
  throw new Error(`node ${name} not Ready after ${timeoutMs} ms (${last})\n--- kubelet ---\n${kubeletLog}`);
}

/** Stops a real node and removes everything it left: processes, cgroups, host mount points. */
export async function stopRealNode(rec: RealNodeRecord): Promise<void> {
  if (isOurs(rec.process)) await stopProcess(rec.process, 'SIGTERM', 10_000);
  for (const c of rec.components) await stopProcess(c, 'SIGKILL', 1000);
  await sweepCgroups(rec.cgroupRoot);
  // The namespaces are gone with their last process; so are the veth pair, routes and mounts.
  removeUnusedHostPaths(rec.hostPaths);
}

/**
 * Removes the (empty) host mount points real nodes created, unless a real node still runs on this
 * machine (in any sandbox): removing a directory detaches the mounts on it in every other mount
 * namespace, and that node's kubelet would then write to the host.
 */
export function removeUnusedHostPaths(paths: string[]): void {
  if (readdirSync(path.join(CGROUP_BASE, 'memory')).some((d) => /^fedlet-\d+-[0-9a-f]+$/.test(d))) return;
  for (const p of [...new Set(paths)].sort().reverse())
    try {
      if (statSync(p).isDirectory() && readdirSync(p).length === 0) rmdirSync(p);
    } catch {
      /* gone already */
    }
}
