// One local Kubernetes cluster from real binaries: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and (for lower clusters) kwok with simulated nodes. Every listener binds 127.0.0.1.
import { mkdirSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { findBinary } from './binaries.js';
import { createPki, frontProxyPki, kubeconfigYaml, type Pki } from './pki.js';
import { freePorts, startProcess, stopProcess, tail, type ProcessRecord } from './processes.js';
import { kwokConfigYaml, kwokResourceMetricsPath } from './kwok-config.js';
import { ANNOTATION_KWOK_NODE, ANNOTATION_RESOURCE_METRICS_PATH, LABEL_ARCH, LABEL_HOSTNAME, LABEL_OS } from '../src/labels.js';
import { hostPort, isProxyableAddress, sandboxNodeIP } from './node-address.js';
import { startMetricsServer } from './metrics-server.js';

export interface KwokNodeSpec {
  name: string;
  cpu: string;
  memory: string;
  pods: number;
  ephemeralStorage?: string;
  extended?: Record<string, string>;
  labels?: Record<string, string>;
  taints?: Array<{ key: string; value?: string; effect: string }>;
  /** Pod CIDR of the node; lower clusters reuse the same CIDRs on purpose (overlapping pod IPs). */
  podCIDR: string;
}

export interface ClusterSpec {
  name: string;
  role: 'upper' | 'lower';
  dir: string;
  nodes?: KwokNodeSpec[];
  /** kube-controller-manager --node-monitor-grace-period (upper: short, so a stopped fedlet shows fast). */
  nodeMonitorGracePeriod?: string;
  /** Optional KubeSchedulerConfiguration file for kube-scheduler. */
  schedulerConfig?: string;
  /** kube-controller-manager --cluster-signing-duration: lifetime of CSR-issued certificates (default 1 year). */
  clusterSigningDuration?: string;
  /**
   * Address the API server listens on (default 127.0.0.1). Real nodes (sandbox/real-node.ts) live in
   * network namespaces of their own and reach it through their gateway address: 0.0.0.0 then.
   */
  bindAddress?: string;
  /** More names and addresses the API server certificate is valid for ('IP:…', 'DNS:…'). */
  serverSANs?: string[];
  /**
   * The address the API server publishes as the endpoint of the `kubernetes` Service (default 127.0.0.1).
   * With real nodes it must be one their pods reach (a gateway address): in-cluster clients dial the
   * Service's ClusterIP and kube-proxy sends them there.
   */
  advertiseAddress?: string;
  /**
   * Keep an audit log of every write (create, update, patch, delete; metadata only) in the cluster's
   * directory, `audit.log`: the bench counts who wrote what for a pod (scheduler, kubelet, fedlet).
   */
  auditWrites?: boolean;
  /** kube-scheduler's client QPS (burst twice that) when it runs without a configuration file; default its own (50). */
  schedulerQps?: number;
}

/** Audit policy of auditWrites: writes at Metadata level (who, verb, object), nothing else. */
const AUDIT_WRITES_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
`;

export interface ClusterState {
  name: string;
  role: 'upper' | 'lower';
  dir: string;
  kubeconfig: string;
  server: string;
  caCert: string;
  /** Client certificate the upper API server presents to kubelets (fedlet's kubelet API). */
  kubeletClientCert?: string;
  kwokPort?: number;
  portForwardTarget?: number;
  logsFile?: string;
  processes: ProcessRecord[];
  /** When components were restarted by tests (ms since epoch): their first seconds are special. */
  restarts?: number[];
}

export function defaultLowerNodes(count: number, perNode: Partial<KwokNodeSpec> = {}): KwokNodeSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `kwok-node-${i}`,
    cpu: '8',
    memory: '32Gi',
    pods: 500,
    ephemeralStorage: '100Gi',
    podCIDR: `10.244.${i * 4}.0/22`,
    ...perNode,
  }));
}

export async function startCluster(spec: ClusterSpec): Promise<ClusterState> {
  const dir = path.resolve(spec.dir);
  mkdirSync(dir, { recursive: true });
  const pki = createPki(path.join(dir, 'pki'), spec.serverSANs);
  const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort, kwokPort, pfTarget, frontPort, metricsPort] = await freePorts(9);
  const nodeIP = sandboxNodeIP();
  const server = `https://127.0.0.1:${apiPort}`;
  const admin = pki.client('admin');
  const kubeconfig = path.join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigYaml({ name: spec.name, server, caCert: pki.caCert, cert: admin.cert, key: admin.key }));
  const componentKubeconfig = (name: string) => {
    const c = pki.client(name);
    const file = path.join(dir, `${name}.kubeconfig`);
    writeFileSync(file, kubeconfigYaml({ name: spec.name, server, caCert: pki.caCert, cert: c.cert, key: c.key }));
    return file;
  };
  const state: ClusterState = { name: spec.name, role: spec.role, dir, kubeconfig, server, caCert: pki.caCert, processes: [] };
  const log = (n: string) => path.join(dir, `${n}.log`);
  try {
    state.processes.push(startProcess('etcd', findBinary('etcd'), etcdArgs(spec.name, dir, etcdClient!, etcdPeer!), log('etcd')));
    const apiArgs = apiServerArgs(spec, dir, pki, { etcdClient: etcdClient!, apiPort: apiPort! });
    // Lower API servers present it to real kubelets (which authenticate every caller), upper ones to fedlet.
    const kc = pki.client('apiserver-kubelet-client');
    apiArgs.push(`--kubelet-client-certificate=${kc.cert}`, `--kubelet-client-key=${kc.key}`);
    state.kubeletClientCert = kc.cert;
    state.processes.push(startProcess('kube-apiserver', findBinary('kube-apiserver'), apiArgs, log('kube-apiserver')));
    await waitForApiserver(state, 90_000);
    if (spec.role === 'upper' && isProxyableAddress(nodeIP))
      state.processes.push(startMetricsServer({ dir, server, adminKubeconfig: kubeconfig, pki, nodeIP, port: metricsPort! }));

    const kcm = componentKubeconfig('kube-controller-manager');
    state.processes.push(
      startProcess(
        'kube-controller-manager',
        findBinary('kube-controller-manager'),
        kcmArgs(spec, dir, pki, kcm, kcmPort!),
        log('kube-controller-manager'),
      ),
    );
    const sched = componentKubeconfig('kube-scheduler');
    state.processes.push(
      startProcess(
        'kube-scheduler',
        findBinary('kube-scheduler'),
        schedulerArgs(spec, dir, sched, schedPort!),
        log('kube-scheduler'),
      ),
    );

    if (spec.role === 'lower')
      await startKwok(state, spec, {
        nodeIP,
        kwokPort: kwokPort!,
        pfTarget: pfTarget!,
        frontPort: frontPort!,
        kubeconfig: componentKubeconfig('kwok'),
      });
    return state;
  } catch (e) {
    const logs = state.processes.map((p) => `--- ${spec.name}/${p.name} (${p.log}) ---\n${tail(p.log)}`).join('\n');
    await stopCluster(state);
    throw new Error(`cluster ${spec.name} failed to start: ${(e as Error).message}\n${logs}`);
  }
}

/** etcd for one cluster, on loopback, without fsync (test data). */
function etcdArgs(name: string, dir: string, client: number, peer: number): string[] {
  return [
    `--name=${name}`,
    `--data-dir=${path.join(dir, 'etcd-data')}`,
    `--listen-client-urls=http://127.0.0.1:${client}`,
    `--advertise-client-urls=http://127.0.0.1:${client}`,
    `--listen-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-cluster=${name}=http://127.0.0.1:${peer}`,
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

/** kube-apiserver's flags: Node and RBAC authorization, NodeRestriction; upstairs the aggregation layer. */
function apiServerArgs(spec: ClusterSpec, dir: string, pki: Pki, o: { etcdClient: number; apiPort: number }): string[] {
  const args = [
    `--etcd-servers=http://127.0.0.1:${o.etcdClient}`,
    `--bind-address=${spec.bindAddress ?? '127.0.0.1'}`,
    `--advertise-address=${spec.advertiseAddress ?? '127.0.0.1'}`,
    `--secure-port=${o.apiPort}`,
    `--tls-cert-file=${pki.serverCert}`,
    `--tls-private-key-file=${pki.serverKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    '--service-cluster-ip-range=10.96.0.0/16',
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    '--allow-privileged=true',
    '--kubelet-preferred-address-types=InternalIP,Hostname',
    '--profiling=false',
    `--cert-dir=${path.join(dir, 'apiserver-certs')}`,
  ];
  if (spec.auditWrites) {
    const policy = path.join(dir, 'audit-policy.yaml');
    writeFileSync(policy, AUDIT_WRITES_POLICY);
    args.push(`--audit-policy-file=${policy}`, `--audit-log-path=${path.join(dir, 'audit.log')}`, '--audit-log-format=json');
  }
  if (spec.role === 'upper') {
    // The aggregation layer, for metrics.k8s.io (kubectl top): requests reach extension API servers
    // with the front-proxy client certificate; endpoints are dialled directly (there is no kube-proxy).
    const fp = frontProxyPki(pki.dir);
    args.push(
      `--requestheader-client-ca-file=${fp.caCert}`,
      '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-username-headers=X-Remote-User',
      `--proxy-client-cert-file=${fp.client.cert}`,
      `--proxy-client-key-file=${fp.client.key}`,
      '--enable-aggregator-routing=true',
    );
  }
  return args;
}

/** kube-controller-manager: each controller with its own service account; the sandbox CA signs CSRs. */
function kcmArgs(spec: ClusterSpec, dir: string, pki: Pki, kubeconfig: string, port: number): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${path.join(dir, 'kcm-certs')}`,
    '--leader-elect=false',
    // Each controller acts with its own service account and RBAC role, as in a real cluster.
    '--use-service-account-credentials=true',
    `--service-account-private-key-file=${pki.saKey}`,
    `--root-ca-file=${pki.caCert}`,
    `--cluster-signing-cert-file=${pki.caCert}`,
    `--cluster-signing-key-file=${pki.caKey}`,
    `--node-monitor-grace-period=${spec.nodeMonitorGracePeriod ?? '40s'}`,
    `--cluster-signing-duration=${spec.clusterSigningDuration ?? '8760h'}`,
    '--profiling=false',
  ];
}

/** kube-scheduler, with the sandbox's scheduler configuration (the extender) where the spec gives one. */
function schedulerArgs(spec: ClusterSpec, dir: string, kubeconfig: string, port: number): string[] {
  const args = [
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${path.join(dir, 'scheduler-certs')}`,
    '--profiling=false',
  ];
  if (spec.schedulerConfig) args.push(`--config=${spec.schedulerConfig}`);
  else args.push(`--kubeconfig=${kubeconfig}`, '--leader-elect=false');
  // Deprecated flags, but the only way without a configuration file; the upper one sets it in its file.
  if (spec.schedulerQps && !spec.schedulerConfig)
    args.push(`--kube-api-qps=${spec.schedulerQps}`, `--kube-api-burst=${2 * spec.schedulerQps}`);
  return args;
}

/**
 * A lower cluster's simulated nodes: kwok, and in front of it the kubelet front that serves exec with the
 * kubelet's own streaming library (kwok reports exec failures without their exit code); nodes advertise
 * the front's port.
 */
async function startKwok(
  state: ClusterState,
  spec: ClusterSpec,
  o: { nodeIP: string; kwokPort: number; pfTarget: number; frontPort: number; kubeconfig: string },
): Promise<void> {
  const dir = state.dir;
  const log = (n: string) => path.join(dir, `${n}.log`);
  const streamsDir = path.join(dir, 'streams');
  mkdirSync(path.join(streamsDir, 'exec'), { recursive: true });
  const logsFile = path.join(streamsDir, 'container.log');
  writeFileSync(logsFile, criLines(['fedlet test log line 1', 'fedlet test log line 2', 'fedlet test log line 3']), {
    flag: 'a',
  });
  const kwokConfig = path.join(dir, 'kwok.yaml');
  writeFileSync(
    kwokConfig,
    kwokConfigYaml({ logsFile, execWorkDir: path.join(streamsDir, 'exec'), portForwardTarget: o.pfTarget }),
  );
  state.kwokPort = o.kwokPort;
  state.portForwardTarget = o.pfTarget;
  state.logsFile = logsFile;
  // kwok reports exec failures without their exit code; the kubelet front (sandbox/kubelet-front)
  // serves exec with the kubelet's streaming library and passes everything else through to kwok.
  // Nodes advertise the front's port.
  state.processes.push(
    startProcess(
      'kubelet-front',
      findBinary('kubelet-front'),
      [
        `--listen=${hostPort(o.nodeIP, o.frontPort)}`,
        `--backend=https://${hostPort(o.nodeIP, o.kwokPort)}`,
        `--exec-workdir=${path.join(streamsDir, 'exec')}`,
      ],
      log('kubelet-front'),
    ),
  );
  state.processes.push(
    startProcess(
      'kwok',
      findBinary('kwok'),
      [
        `--kubeconfig=${o.kubeconfig}`,
        `--config=${kwokConfig}`,
        `--manage-nodes-with-annotation-selector=${ANNOTATION_KWOK_NODE}=fake`,
        `--node-ip=${o.nodeIP}`,
        `--node-port=${o.frontPort}`,
        `--server-address=${hostPort(o.nodeIP, o.kwokPort)}`,
        '--node-lease-duration-seconds=40',
        '--cidr=10.0.0.0/16',
      ],
      log('kwok'),
    ),
  );
  for (const n of spec.nodes ?? []) await createKwokNode(state, n);
}

export function criLines(lines: string[]): string {
  return lines.map((l) => `${new Date().toISOString().replace('Z', '000000Z')} stdout F ${l}\n`).join('');
}

export async function stopCluster(state: ClusterState): Promise<void> {
  // Reverse start order: clients first, etcd last.
  for (const p of [...state.processes].reverse()) await stopProcess(p);
}

/** Issues a request to the cluster's API server as admin. */
export function adminRequest(
  state: ClusterState,
  method: string,
  urlPath: string,
  body?: unknown,
  timeoutMs = 5000,
): Promise<{ status: number; body: string }> {
  const kc = readFileSync(path.join(state.dir, 'pki', 'admin.crt'));
  const key = readFileSync(path.join(state.dir, 'pki', 'admin.key'));
  const ca = readFileSync(state.caCert);
  const url = new URL(urlPath, state.server);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method, cert: kc, key, ca, headers: payload ? { 'Content-Type': 'application/json' } : {}, timeout: timeoutMs },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    if (payload) req.write(payload);
    req.end();
  });
}

export async function waitForApiserver(state: ClusterState, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const r = await adminRequest(state, 'GET', '/readyz', undefined, 2000);
      if (r.status === 200) return;
      last = `${r.status} ${r.body.slice(0, 300)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`kube-apiserver of ${state.name} not ready after ${timeoutMs} ms: ${last}`);
}

export function kwokNodeObject(n: KwokNodeSpec): unknown {
  const resources: Record<string, string> = {
    cpu: n.cpu,
    memory: n.memory,
    pods: String(n.pods),
    'ephemeral-storage': n.ephemeralStorage ?? '100Gi',
    ...n.extended,
  };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: n.name,
      annotations: { [ANNOTATION_KWOK_NODE]: 'fake', [ANNOTATION_RESOURCE_METRICS_PATH]: kwokResourceMetricsPath(n.name) },
      labels: {
        [LABEL_HOSTNAME]: n.name,
        [LABEL_OS]: 'linux',
        [LABEL_ARCH]: 'amd64',
        type: 'kwok',
        ...n.labels,
      },
    },
    spec: { podCIDR: n.podCIDR, podCIDRs: [n.podCIDR], ...(n.taints ? { taints: n.taints } : {}) },
    status: {
      allocatable: resources,
      capacity: resources,
      addresses: [{ type: 'InternalIP', address: sandboxNodeIP() }],
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        kubeletVersion: 'kwok',
        containerRuntimeVersion: 'kwok',
        kernelVersion: '',
        osImage: 'kwok',
        machineID: n.name,
        systemUUID: n.name,
        bootID: '',
        kubeProxyVersion: '',
      },
    },
  };
}

export async function createKwokNode(state: ClusterState, n: KwokNodeSpec): Promise<void> {
  const r = await adminRequest(state, 'POST', '/api/v1/nodes', kwokNodeObject(n));
  if (r.status !== 201 && r.status !== 409) throw new Error(`creating node ${n.name} in ${state.name}: ${r.status} ${r.body}`);
}
