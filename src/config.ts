// fedlet configuration: one table of options drives the YAML file keys, the command-line flags, the
// environment variables and the reference in docs/configuration.md. Precedence: flag > env var > YAML file > default.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import type { Taint } from './kube/types.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface FedletConfig {
  upperKubeconfig?: string;
  lowerKubeconfig: string;
  lowerKubeconfigSecret?: string;
  clusterName: string;
  nodeName: string;
  nodeIP: string;
  kubeletPort: number;
  nodeLabels: Record<string, string>;
  nodeTaints: Taint[];
  region?: string;
  zone?: string;
  leaseDurationSeconds: number;
  leaseRenewIntervalSeconds: number;
  statusUpdateIntervalSeconds: number;
  lowerHealthIntervalSeconds: number;
  lowerHealthFailureThreshold: number;
  capacityDebounceMs: number;
  writeQps: number;
  writeBurst: number;
  heapGrowthPercent: number;
  namespaceTemplate: string;
  grantedLowerNamespaces?: string;
  podSecurityFloor: 'privileged' | 'baseline' | 'restricted';
  tolerationPolicy: 'drop' | 'refuse' | 'keep';
  deniedTolerationKeys: string[];
  lowerNodeSelector?: string;
  maxReferencesPerPod: number;
  podIPRemap?: string;
  allowDaemonSetPods: boolean;
  upperAPIServerAddress?: string;
  lowerIdentityNamespaces?: string;
  lowerNamespaceRole: string;
  tokenCredentials: 'node' | 'fedlet';
  nodeCredentials: 'node' | 'fedlet';
  serviceTypes: 'clusterip' | 'preserve';
  serviceEndpoints: 'local' | 'global';
  storageClassMap: Record<string, string>;
  runtimeClassMap: Record<string, string>;
  priorityClassMap: Record<string, string>;
  poolGroupBy: string[];
  pools: Array<{ name: string; selector: string }>;
  virtualNodeTaint: boolean;
  podWorkers: number;
  unreachableDeleteAfterSeconds: number;
  bounceAfterSeconds: number;
  avoidAfterBounceSeconds: number;
  lowerNamespaceGraceSeconds: number;
  summaryNamespace: string;
  publishSummary: boolean;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionLeaseSeconds: number;
  leaderElectionIdentity?: string;
  servingCert: 'files' | 'csr' | 'self-signed';
  tlsCertFile?: string;
  tlsPrivateKeyFile?: string;
  certDir?: string;
  clientCAFile?: string;
  anonymousAuth: boolean;
  kubeletBindAddress: string;
  healthPort: number;
  healthBindAddress: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  logFormat: 'json' | 'pretty';
}

/**
 * Lower namespaces are qualified by the cluster, as Liqo names them, so that an upper namespace does not
 * land on a lower team's namespace of the same name (fedlet refuses such a namespace anyway).
 */
export const DEFAULT_NAMESPACE_TEMPLATE = '{{namespace}}-{{cluster}}';

type Kind = 'string' | 'int' | 'bool' | 'map' | 'taints' | 'enum' | 'list' | 'pools';
interface OptionSpec {
  key: keyof FedletConfig;
  flag: string;
  env: string;
  kind: Kind;
  help: string;
  /** The default value, applied when no source sets the option (written once: docs derive from it). */
  value?: string | number | boolean | Record<string, string> | unknown[];
  /** Words after the value in the docs, e.g. what an empty map means. */
  valueNote?: string;
  /** Docs only, for options without a fixed default value: what applies when unset (computed or absent). */
  default?: string;
  values?: string[];
  min?: number;
}

export const options: OptionSpec[] = [
  {
    key: 'upperKubeconfig',
    flag: 'upper-kubeconfig',
    env: 'FEDLET_UPPER_KUBECONFIG',
    kind: 'string',
    default: 'in-cluster config, else $KUBECONFIG / ~/.kube/config',
    help: 'kubeconfig of the upper cluster, where the virtual node is registered',
  },
  {
    key: 'lowerKubeconfig',
    flag: 'lower-kubeconfig',
    env: 'FEDLET_LOWER_KUBECONFIG',
    kind: 'string',
    default: '(required)',
    help: 'kubeconfig of the lower (member) cluster whose capacity this node offers',
  },
  {
    key: 'lowerKubeconfigSecret',
    flag: 'lower-kubeconfig-secret',
    env: 'FEDLET_LOWER_KUBECONFIG_SECRET',
    kind: 'string',
    default: '(none: a renewed lower token lives in certDir and in memory only)',
    help: 'NAMESPACE/NAME[:KEY] of the upper Secret the lower kubeconfig is mounted from (key default kubeconfig): each renewed lower ServiceAccount token is written back into it, so a replica that starts after the first token expired still connects (the chart sets it)',
  },
  {
    key: 'clusterName',
    flag: 'cluster-name',
    env: 'FEDLET_CLUSTER_NAME',
    kind: 'string',
    default: '(required)',
    help: 'name of the lower cluster; a DNS label; value of the fedlet.io/cluster label',
  },
  {
    key: 'nodeName',
    flag: 'node-name',
    env: 'FEDLET_NODE_NAME',
    kind: 'string',
    default: 'fedlet-<cluster-name>',
    help: 'name of the virtual Node in the upper cluster',
  },
  {
    key: 'nodeIP',
    flag: 'node-ip',
    env: 'FEDLET_NODE_IP',
    kind: 'string',
    default: '$POD_IP, else the first non-loopback IPv4 address, else 127.0.0.1',
    help: 'InternalIP published on the Node; the upper API server dials it for logs/exec',
  },
  {
    key: 'kubeletPort',
    flag: 'kubelet-port',
    env: 'FEDLET_KUBELET_PORT',
    kind: 'int',
    value: 10250,
    min: 1,
    help: 'port of the kubelet API, published in status.daemonEndpoints; distinct per fedlet on one host',
  },
  {
    key: 'nodeLabels',
    flag: 'node-label',
    env: 'FEDLET_NODE_LABELS',
    kind: 'map',
    value: {},
    help: 'extra Node labels, key=value (flag repeatable; env comma-separated)',
  },
  {
    key: 'nodeTaints',
    flag: 'node-taint',
    env: 'FEDLET_NODE_TAINTS',
    kind: 'taints',
    value: [],
    valueNote: '(no taints)',
    help: 'Node taints, key[=value]:Effect (flag repeatable; env comma-separated)',
  },
  {
    key: 'region',
    flag: 'region',
    env: 'FEDLET_REGION',
    kind: 'string',
    default: 'the value all Ready lower nodes agree on',
    help: 'topology.kubernetes.io/region label of the Node',
  },
  {
    key: 'zone',
    flag: 'zone',
    env: 'FEDLET_ZONE',
    kind: 'string',
    default: 'the value all Ready lower nodes agree on',
    help: 'topology.kubernetes.io/zone label of the Node',
  },
  {
    key: 'leaseDurationSeconds',
    flag: 'lease-duration',
    env: 'FEDLET_LEASE_DURATION',
    kind: 'int',
    value: 40,
    min: 1,
    help: 'seconds, spec.leaseDurationSeconds of the node Lease in kube-node-lease',
  },
  {
    key: 'leaseRenewIntervalSeconds',
    flag: 'lease-renew-interval',
    env: 'FEDLET_LEASE_RENEW_INTERVAL',
    kind: 'int',
    value: 10,
    min: 1,
    help: 'seconds between node Lease renewals',
  },
  {
    key: 'statusUpdateIntervalSeconds',
    flag: 'status-update-interval',
    env: 'FEDLET_STATUS_UPDATE_INTERVAL',
    kind: 'int',
    value: 60,
    min: 1,
    help: 'seconds; Node status is posted on every change and at least this often',
  },
  {
    key: 'lowerHealthIntervalSeconds',
    flag: 'lower-health-interval',
    env: 'FEDLET_LOWER_HEALTH_INTERVAL',
    kind: 'int',
    value: 5,
    min: 1,
    help: 'seconds between probes of the lower API server /readyz',
  },
  {
    key: 'lowerHealthFailureThreshold',
    flag: 'lower-health-failure-threshold',
    env: 'FEDLET_LOWER_HEALTH_FAILURE_THRESHOLD',
    kind: 'int',
    value: 2,
    min: 1,
    help: 'consecutive failed probes before the Node turns Ready=False',
  },
  {
    key: 'capacityDebounceMs',
    flag: 'capacity-debounce',
    env: 'FEDLET_CAPACITY_DEBOUNCE',
    kind: 'int',
    value: 1000,
    min: 0,
    help: 'milliseconds to coalesce lower node/pod changes before recomputing capacity',
  },
  {
    key: 'writeQps',
    flag: 'write-qps',
    env: 'FEDLET_WRITE_QPS',
    kind: 'int',
    value: 100,
    min: 1,
    help: 'sustained writes per second to each API server',
  },
  {
    key: 'writeBurst',
    flag: 'write-burst',
    env: 'FEDLET_WRITE_BURST',
    kind: 'int',
    value: 200,
    min: 1,
    help: 'write burst to each API server',
  },
  {
    key: 'heapGrowthPercent',
    flag: 'heap-growth-percent',
    env: 'FEDLET_HEAP_GROWTH_PERCENT',
    kind: 'int',
    value: 20,
    min: 0,
    help: "how far V8 lets the old generation grow past what the last full collection kept, in percent, before it collects again; 0 leaves V8's own factor (up to 4x after a fast collection). 20 keeps less garbage resident after bursts and relists (10,000 pods after a restart: 172 instead of 220 MiB RSS, with the image's young-generation size) for more full collections (that relist: about 3 s more CPU); docs/operations.md, memory",
  },
  {
    key: 'namespaceTemplate',
    flag: 'namespace-template',
    env: 'FEDLET_NAMESPACE_TEMPLATE',
    kind: 'string',
    value: DEFAULT_NAMESPACE_TEMPLATE,
    help: 'lower namespace for an upper namespace; {{namespace}} and {{cluster}} are replaced; results over 63 characters are shortened with a stable hash. fedlet uses a lower namespace only if it created it or a lower admin granted it (docs/security.md); `{{namespace}}` keeps the upper names (Service DNS names then resolve below too)',
  },
  {
    key: 'grantedLowerNamespaces',
    flag: 'granted-lower-namespaces',
    env: 'FEDLET_GRANTED_LOWER_NAMESPACES',
    kind: 'string',
    default: '(none: only namespaces fedlet created, or labelled fedlet.io/grant=<node or cluster> by a lower admin)',
    help: 'comma-separated lower namespaces fedlet may use although it did not create them (as if labelled fedlet.io/grant); needed for default, kube-* and fedlet-system',
  },
  {
    key: 'podSecurityFloor',
    flag: 'pod-security-floor',
    env: 'FEDLET_POD_SECURITY_FLOOR',
    kind: 'enum',
    values: ['privileged', 'baseline', 'restricted'],
    value: 'baseline',
    help: "lowest Pod Security level (pod-security.kubernetes.io/enforce) of the lower namespaces fedlet creates; the upper namespace's level applies when stricter",
  },
  {
    key: 'tolerationPolicy',
    flag: 'toleration-policy',
    env: 'FEDLET_TOLERATION_POLICY',
    kind: 'enum',
    values: ['drop', 'refuse', 'keep'],
    value: 'drop',
    help: 'what happens to tolerations that would let a pod onto lower system nodes (a keyless Exists, keys in deniedTolerationKeys): drop (the lower pod goes without them, with a TolerationDropped event), refuse (the pod is not run, reason TolerationNotAllowed), keep (copied as they are)',
  },
  {
    key: 'deniedTolerationKeys',
    flag: 'denied-toleration-key',
    env: 'FEDLET_DENIED_TOLERATION_KEYS',
    kind: 'list',
    value: ['node-role.kubernetes.io/', 'node.kubernetes.io/'],
    help: 'taint keys tenants may not tolerate below (an entry ending in / is a prefix); time-bounded NoExecute tolerations of node.kubernetes.io/not-ready and unreachable are always kept (flag repeatable; env comma-separated)',
  },
  {
    key: 'lowerNodeSelector',
    flag: 'lower-node-selector',
    env: 'FEDLET_LOWER_NODE_SELECTOR',
    kind: 'string',
    default: '(none: every lower node)',
    help: 'label selector (k=v, k!=v, k, !k, k in (a,b), comma-separated) the lower nodes fedlet offers must match; every lower pod is constrained to them, e.g. !node-role.kubernetes.io/control-plane',
  },
  {
    key: 'maxReferencesPerPod',
    flag: 'max-references-per-pod',
    env: 'FEDLET_MAX_REFERENCES_PER_POD',
    kind: 'int',
    value: 64,
    min: 1,
    help: 'most distinct ConfigMaps and Secrets one pod may reference; a pod with more is not run (reason TooManyReferences)',
  },
  {
    key: 'podIPRemap',
    flag: 'pod-ip-remap',
    env: 'FEDLET_POD_IP_REMAP',
    kind: 'string',
    default: '(none: IPs pass unchanged)',
    help: 'lowerCIDR=upperCIDR pairs, comma-separated (equal prefix lengths; IPv4 and IPv6), applied to status.podIP(s)',
  },
  {
    key: 'allowDaemonSetPods',
    flag: 'allow-daemonset-pods',
    env: 'FEDLET_ALLOW_DAEMONSET_PODS',
    kind: 'bool',
    value: false,
    help: 'run DaemonSet pods bound to the virtual node (one copy in the lower cluster) instead of refusing them',
  },
  {
    key: 'upperAPIServerAddress',
    flag: 'upper-api-server-address',
    env: 'FEDLET_UPPER_API_SERVER_ADDRESS',
    kind: 'string',
    default: '(none: pods get empty KUBERNETES_SERVICE_HOST/PORT and a warning event)',
    help: 'host:port of the upper API server as lower pods reach it; set as KUBERNETES_SERVICE_HOST/PORT in pods running with upper service-account tokens (its serving certificate must be valid for this host)',
  },
  {
    key: 'lowerIdentityNamespaces',
    flag: 'lower-identity-namespaces',
    env: 'FEDLET_LOWER_IDENTITY_NAMESPACES',
    kind: 'string',
    default: '(none)',
    help: 'comma-separated upper namespaces whose pods run as the same-named service account of the lower cluster (as with annotation fedlet.io/service-account: lower); elsewhere that annotation is honoured only in lower namespaces labelled fedlet.io/lower-identity=<node or cluster> by a lower admin',
  },
  {
    key: 'lowerNamespaceRole',
    flag: 'lower-namespace-role',
    env: 'FEDLET_LOWER_NAMESPACE_ROLE',
    kind: 'string',
    value: 'fedlet:lower-namespace',
    help: 'lower ClusterRole fedlet binds to its own lower identity in each lower namespace it creates or is granted (its only rights on pods, their streams, Secrets and ConfigMaps there); the lower RBAC lets it bind only this role (docs/rbac.md)',
  },
  {
    key: 'tokenCredentials',
    flag: 'token-credentials',
    env: 'FEDLET_TOKEN_CREDENTIALS',
    kind: 'enum',
    values: ['node', 'fedlet'],
    value: 'node',
    help: "who requests pods' upper service-account tokens: node (the virtual node's own system:node:<node> client certificate from a kubernetes.io/kube-apiserver-client-kubelet CSR, so the Node authorizer allows tokens only for service accounts of pods on this node; fedlet's account needs create on certificatesigningrequests/nodeclient) or fedlet (fedlet's upper credentials; they need create on serviceaccounts/token, which the manifests do not grant)",
  },
  {
    key: 'nodeCredentials',
    flag: 'node-credentials',
    env: 'FEDLET_NODE_CREDENTIALS',
    kind: 'enum',
    values: ['node', 'fedlet'],
    value: 'node',
    help: "who writes what a kubelet writes: the virtual node's status and Lease and its pods' status and final deletion. node: the virtual node's own system:node:<node> client certificate (as for tokenCredentials), so the Node authorizer and NodeRestriction limit those writes to this node and its pods, and fedlet's account holds no such right; fedlet: fedlet's upper credentials (they then need nodes/status, pods/status, pods delete and node Leases, which the manifests do not grant; docs/rbac.md)",
  },
  {
    key: 'serviceTypes',
    flag: 'service-types',
    env: 'FEDLET_SERVICE_TYPES',
    kind: 'enum',
    values: ['clusterip', 'preserve'],
    value: 'clusterip',
    help: 'type of the lower copies of upper NodePort/LoadBalancer Services: clusterip (ClusterIP below) or preserve (same type; the lower cluster allocates its own node ports and load balancer); ExternalName is copied as is',
  },
  {
    key: 'serviceEndpoints',
    flag: 'service-endpoints',
    env: 'FEDLET_SERVICE_ENDPOINTS',
    kind: 'enum',
    values: ['local', 'global'],
    value: 'local',
    help: 'endpoints of reflected Services: local (only pods in this lower cluster) or global (also the ready endpoints in other clusters, from the upper EndpointSlices, at their upper addresses: needs a network that routes them)',
  },
  {
    key: 'storageClassMap',
    flag: 'storage-class-map',
    env: 'FEDLET_STORAGE_CLASS_MAP',
    kind: 'map',
    value: {},
    valueNote: '(every fedlet class uses the lower default class)',
    help: 'upperClass=lowerClass: the lower StorageClass for claims of an upper fedlet class (flag repeatable; env comma-separated)',
  },
  {
    key: 'runtimeClassMap',
    flag: 'runtime-class-map',
    env: 'FEDLET_RUNTIME_CLASS_MAP',
    kind: 'map',
    value: {},
    valueNote: '(the same name below)',
    help: 'upperClass=lowerClass: the lower RuntimeClass for pods naming an upper one; a pod whose (mapped) class the lower cluster lacks runs without runtimeClassName and overhead, with a RuntimeClassNotFound event (flag repeatable; env comma-separated)',
  },
  {
    key: 'priorityClassMap',
    flag: 'priority-class-map',
    env: 'FEDLET_PRIORITY_CLASS_MAP',
    kind: 'map',
    value: {},
    valueNote: '(the same name below)',
    help: "upperClass=lowerClass: the lower PriorityClass for pods naming an upper one; priority and preemptionPolicy always come from the lower class (or the lower cluster's default); a pod whose (mapped) class the lower cluster lacks runs without it, with a PriorityClassNotFound event (flag repeatable; env comma-separated)",
  },
  {
    key: 'poolGroupBy',
    flag: 'pool-group-by',
    env: 'FEDLET_POOL_GROUP_BY',
    kind: 'list',
    value: [],
    valueNote: '(no pools: one virtual node)',
    help: 'node pools: lower-node label keys; one virtual node `<node name>-<values>` per distinct tuple of their values (nodes lacking a key are not offered), e.g. nvidia.com/gpu.product (flag repeatable; env comma-separated)',
  },
  {
    key: 'pools',
    flag: 'pool',
    env: 'FEDLET_POOLS',
    kind: 'pools',
    value: [],
    valueNote: '(no pools: one virtual node)',
    help: 'node pools by label selector: name=selector, one virtual node `<node name>-<name>` per pool while some lower node matches (flag repeatable; env `;`-separated; YAML a list of {name, selector})',
  },
  {
    key: 'virtualNodeTaint',
    flag: 'virtual-node-taint',
    env: 'FEDLET_VIRTUAL_NODE_TAINT',
    kind: 'bool',
    value: true,
    help: 'taint the virtual node fedlet.io/virtual-node=true:NoSchedule (not with allowDaemonSetPods) so DaemonSets skip it; needs the admission webhook of `fedlet extender`, which adds the toleration to every pod not owned by a DaemonSet',
  },
  {
    key: 'podWorkers',
    flag: 'pod-workers',
    env: 'FEDLET_POD_WORKERS',
    kind: 'int',
    value: 16,
    min: 1,
    help: 'pods synced in parallel',
  },
  {
    key: 'unreachableDeleteAfterSeconds',
    flag: 'unreachable-delete-after',
    env: 'FEDLET_UNREACHABLE_DELETE_AFTER',
    kind: 'int',
    value: 10,
    min: 0,
    help: "seconds past a pod's deletion deadline after which fedlet completes the upper deletion while the lower cluster is unreachable (the lower pod is removed when it returns)",
  },
  {
    key: 'bounceAfterSeconds',
    flag: 'bounce-after',
    env: 'FEDLET_BOUNCE_AFTER',
    kind: 'int',
    value: 60,
    min: 1,
    help: 'seconds a pod may stay unschedulable in the lower cluster before fedlet fails it (reason LowerUnschedulable) so its controller places a replacement elsewhere',
  },
  {
    key: 'avoidAfterBounceSeconds',
    flag: 'avoid-after-bounce',
    env: 'FEDLET_AVOID_AFTER_BOUNCE',
    kind: 'int',
    value: 300,
    min: 0,
    help: 'seconds the scheduler extender keeps pods of a bounced controller away from this cluster',
  },
  {
    key: 'lowerNamespaceGraceSeconds',
    flag: 'lower-namespace-grace',
    env: 'FEDLET_LOWER_NAMESPACE_GRACE',
    kind: 'int',
    value: 300,
    min: 0,
    help: 'a lower namespace fedlet created stays this long after no pod needs it, so pods that return soon (a rollout, the next burst) find it ready instead of terminating; 0 removes it at once',
  },
  {
    key: 'summaryNamespace',
    flag: 'summary-namespace',
    env: 'FEDLET_SUMMARY_NAMESPACE',
    kind: 'string',
    value: 'fedlet-system',
    help: 'upper namespace of ConfigMap fedlet-summary-<node>, the lower cluster summary the scheduler extender reads',
  },
  {
    key: 'publishSummary',
    flag: 'publish-summary',
    env: 'FEDLET_PUBLISH_SUMMARY',
    kind: 'bool',
    value: true,
    help: 'publish the scheduling summary for the extender',
  },
  {
    key: 'leaderElect',
    flag: 'leader-elect',
    env: 'FEDLET_LEADER_ELECT',
    kind: 'bool',
    value: true,
    help: 'run several replicas per lower cluster; only the holder of the leader Lease works, the others stand by',
  },
  {
    key: 'leaderElectionNamespace',
    flag: 'leader-election-namespace',
    env: 'FEDLET_LEADER_ELECTION_NAMESPACE',
    kind: 'string',
    value: 'kube-node-lease',
    help: 'namespace of the leader Lease fedlet-<node>-leader in the upper cluster',
  },
  {
    key: 'leaderElectionLeaseSeconds',
    flag: 'leader-election-lease-duration',
    env: 'FEDLET_LEADER_ELECTION_LEASE_DURATION',
    kind: 'int',
    value: 15,
    min: 3,
    help: 'seconds a standby waits for an unrenewed leader lease before taking over (renew deadline 2/3 of it, retry every 2 s)',
  },
  {
    key: 'leaderElectionIdentity',
    flag: 'leader-election-identity',
    env: 'FEDLET_LEADER_ELECTION_IDENTITY',
    kind: 'string',
    default: '$POD_NAME, else <hostname>_<pid>',
    help: "this replica's name in the leader Lease",
  },
  {
    key: 'servingCert',
    flag: 'serving-cert',
    env: 'FEDLET_SERVING_CERT',
    kind: 'enum',
    values: ['files', 'csr', 'self-signed'],
    default: 'files when tlsCertFile is set, else csr',
    help: 'where the kubelet API certificate comes from: files; a CSR with signer kubernetes.io/kubelet-serving (an admin or approver must approve it); self-signed (development only)',
  },
  {
    key: 'tlsCertFile',
    flag: 'tls-cert-file',
    env: 'FEDLET_TLS_CERT_FILE',
    kind: 'string',
    default: '(none)',
    help: 'kubelet API serving certificate (PEM)',
  },
  {
    key: 'tlsPrivateKeyFile',
    flag: 'tls-private-key-file',
    env: 'FEDLET_TLS_PRIVATE_KEY_FILE',
    kind: 'string',
    default: '(none)',
    help: 'key of tlsCertFile (PEM)',
  },
  {
    key: 'certDir',
    flag: 'cert-dir',
    env: 'FEDLET_CERT_DIR',
    kind: 'string',
    default: '(none: a new CSR on every start)',
    help: 'directory that keeps CSR-issued keys and certificates across restarts (kubelet serving, and the virtual node client certificate of tokenCredentials: node)',
  },
  {
    key: 'clientCAFile',
    flag: 'client-ca-file',
    env: 'FEDLET_CLIENT_CA_FILE',
    kind: 'string',
    default: 'client-ca-file of ConfigMap kube-system/extension-apiserver-authentication in the upper cluster',
    help: 'CA that signs client certificates accepted by the kubelet API',
  },
  {
    key: 'anonymousAuth',
    flag: 'anonymous-auth',
    env: 'FEDLET_ANONYMOUS_AUTH',
    kind: 'bool',
    value: false,
    help: 'let requests without credentials through as system:anonymous (still subject to authorization)',
  },
  {
    key: 'kubeletBindAddress',
    flag: 'kubelet-bind-address',
    env: 'FEDLET_KUBELET_BIND_ADDRESS',
    kind: 'string',
    value: '0.0.0.0',
    help: 'address the kubelet API listens on',
  },
  {
    key: 'healthPort',
    flag: 'health-port',
    env: 'FEDLET_HEALTH_PORT',
    kind: 'int',
    value: 10248,
    min: 0,
    help: 'plain-HTTP /healthz and /readyz for probes (0 disables)',
  },
  {
    key: 'healthBindAddress',
    flag: 'health-bind-address',
    env: 'FEDLET_HEALTH_BIND_ADDRESS',
    kind: 'string',
    value: '127.0.0.1',
    help: 'address of the unauthenticated health endpoints: localhost by default; in a pod, its IP (the kubelet probes it there, the manifests set it from status.podIP)',
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: 'FEDLET_LOG_LEVEL',
    kind: 'enum',
    values: ['trace', 'debug', 'info', 'warn', 'error'],
    value: 'info',
    help: 'log level',
  },
  {
    key: 'logFormat',
    flag: 'log-format',
    env: 'FEDLET_LOG_FORMAT',
    kind: 'enum',
    values: ['json', 'pretty'],
    value: 'json',
    help: 'json (pino) or pretty (human-readable)',
  },
];

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const labelName =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const labelValue = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
const effects = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

function parseMapEntries(where: string, entries: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries) {
    const i = e.indexOf('=');
    if (i <= 0) throw new ConfigError(`${where}: "${e}" is not key=value`);
    out[e.slice(0, i).trim()] = e.slice(i + 1).trim();
  }
  return out;
}

function parseTaint(where: string, s: string): Taint {
  const m = /^([^=:]+)(?:=([^:]*))?:(\w+)$/.exec(s.trim());
  if (!m) throw new ConfigError(`${where}: taint "${s}" must look like key[=value]:Effect`);
  const effect = m[3]!;
  if (!effects.includes(effect))
    throw new ConfigError(`${where}: taint "${s}" has effect "${effect}"; use one of ${effects.join(', ')}`);
  return { key: m[1]!, ...(m[2] !== undefined ? { value: m[2] } : {}), effect: effect as Taint['effect'] };
}

function coerce(spec: OptionSpec, where: string, raw: unknown): unknown {
  switch (spec.kind) {
    case 'string':
      if (typeof raw !== 'string' || raw === '') throw new ConfigError(`${where}: expected a non-empty string`);
      return raw;
    case 'enum':
      if (typeof raw !== 'string' || !spec.values!.includes(raw))
        throw new ConfigError(`${where}: "${String(raw)}" is not one of ${spec.values!.join(', ')}`);
      return raw;
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new ConfigError(`${where}: "${String(raw)}" is not true or false`);
    case 'int': {
      const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
      if (!Number.isInteger(n)) throw new ConfigError(`${where}: "${String(raw)}" is not a whole number`);
      if (spec.min !== undefined && n < spec.min) throw new ConfigError(`${where}: ${n} is below the minimum ${spec.min}`);
      return n;
    }
    case 'map':
      if (Array.isArray(raw)) return parseMapEntries(where, raw.map(String));
      if (typeof raw === 'string')
        return parseMapEntries(
          where,
          raw.split(',').filter((s) => s.trim()),
        );
      if (raw && typeof raw === 'object') return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)]));
      throw new ConfigError(`${where}: expected a map of key: value`);
    case 'list': {
      const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(',');
      return items.map((x) => x.trim()).filter(Boolean);
    }
    case 'pools': {
      const entries: unknown[] = Array.isArray(raw) ? raw : String(raw).split(';');
      return entries
        .filter((e) => typeof e !== 'string' || e.trim())
        .map((e, i) => {
          if (typeof e === 'string') {
            const eq = e.indexOf('=');
            if (eq <= 0) throw new ConfigError(`${where}[${i}]: "${e}" is not name=selector`);
            return { name: e.slice(0, eq).trim(), selector: e.slice(eq + 1).trim() };
          }
          const o = e as { name?: unknown; selector?: unknown };
          if (typeof o?.name !== 'string' || typeof o.selector !== 'string')
            throw new ConfigError(`${where}[${i}]: a pool needs name and selector (strings)`);
          return { name: o.name, selector: o.selector };
        });
    }
    case 'taints':
      if (typeof raw === 'string')
        return raw
          .split(',')
          .filter((s) => s.trim())
          .map((s) => parseTaint(where, s));
      if (Array.isArray(raw))
        return raw.map((t, i) => {
          if (typeof t === 'string') return parseTaint(`${where}[${i}]`, t);
          const o = t as Partial<Taint>;
          if (!o.key || !o.effect) throw new ConfigError(`${where}[${i}]: a taint needs key and effect`);
          return parseTaint(`${where}[${i}]`, `${o.key}${o.value !== undefined ? `=${o.value}` : ''}:${o.effect}`);
        });
      throw new ConfigError(`${where}: expected a list of taints`);
  }
}

export interface ParsedArgs {
  configFile?: string;
  values: Partial<Record<keyof FedletConfig, unknown>>;
}

/** Parses `--flag value`, `--flag=value` and repeatable map/taint flags. Unknown flags are errors. */
function parseFlags(argv: string[]): ParsedArgs {
  const out: ParsedArgs = { values: {} };
  const byFlag = new Map(options.map((o) => [o.flag, o]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}"; options look like --name value`);
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (name !== 'config' && !byFlag.has(name)) throw new ConfigError(`unknown option --${name}; see 'fedlet run --help'`);
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new ConfigError(`option --${name} needs a value`);
    }
    if (name === 'config') {
      out.configFile = value;
      continue;
    }
    const spec = byFlag.get(name)!;
    if (spec.kind === 'map' || spec.kind === 'taints' || spec.kind === 'list' || spec.kind === 'pools') {
      const prev = (out.values[spec.key] as string[] | undefined) ?? [];
      out.values[spec.key] = [...prev, value];
    } else out.values[spec.key] = value;
  }
  return out;
}

export interface ConfigSources {
  argv?: string[];
  env?: NodeJS.ProcessEnv;
  /** Used instead of reading --config from disk (tests). */
  fileText?: string;
  defaultNodeIP?: () => string;
}

export function loadConfig(src: ConfigSources): FedletConfig {
  const flags = parseFlags(src.argv ?? []);
  const env = src.env ?? {};
  const file = flags.configFile ?? env.FEDLET_CONFIG;
  let fromFile: Record<string, unknown> = {};
  if (src.fileText !== undefined || file) {
    let text: string;
    if (src.fileText !== undefined) text = src.fileText;
    else {
      try {
        text = readFileSync(file!, 'utf8');
      } catch (e) {
        throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
      }
    }
    let parsed: unknown;
    try {
      parsed = yaml.load(text);
    } catch (e) {
      throw new ConfigError(`config file ${file ?? ''} is not valid YAML: ${(e as Error).message}`);
    }
    if (parsed != null && (typeof parsed !== 'object' || Array.isArray(parsed)))
      throw new ConfigError(`config file ${file ?? ''}: expected a mapping of options at the top level`);
    fromFile = (parsed as Record<string, unknown>) ?? {};
    const known = new Set(options.map((o) => o.key as string));
    for (const k of Object.keys(fromFile))
      if (!known.has(k)) throw new ConfigError(`config file ${file ?? ''}: unknown key "${k}"`);
  }
  const merged: Record<string, unknown> = {};
  for (const spec of options) {
    let v: unknown;
    let where = '';
    if (flags.values[spec.key] !== undefined) {
      v = flags.values[spec.key];
      where = `--${spec.flag}`;
    } else if (env[spec.env] !== undefined && env[spec.env] !== '') {
      v = env[spec.env];
      where = `env ${spec.env}`;
    } else if (fromFile[spec.key] !== undefined) {
      v = fromFile[spec.key];
      where = `config key ${spec.key}`;
    }
    if (v !== undefined) merged[spec.key] = coerce(spec, where, v);
  }
  return validate(applyDefaults(merged, src));
}

function applyDefaults(m: Record<string, unknown>, src: ConfigSources): FedletConfig {
  const cfg = { ...defaultValues(), ...m } as unknown as FedletConfig;
  if (!cfg.clusterName) throw new ConfigError('cluster name is required: set --cluster-name, FEDLET_CLUSTER_NAME or clusterName');
  if (!cfg.lowerKubeconfig)
    throw new ConfigError(
      'lower cluster kubeconfig is required: set --lower-kubeconfig, FEDLET_LOWER_KUBECONFIG or lowerKubeconfig',
    );
  cfg.nodeName ??= `fedlet-${cfg.clusterName}`;
  cfg.servingCert ??= cfg.tlsCertFile ? 'files' : 'csr';
  cfg.nodeIP ??= src.env?.POD_IP || (src.defaultNodeIP ? src.defaultNodeIP() : '127.0.0.1');
  return cfg;
}

function validate(cfg: FedletConfig): FedletConfig {
  if (!dnsLabel.test(cfg.clusterName) || cfg.clusterName.length > 63)
    throw new ConfigError(
      `cluster name "${cfg.clusterName}" must be a DNS label: lowercase letters, digits and '-', at most 63 characters`,
    );
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(cfg.nodeName) || cfg.nodeName.length > 253)
    throw new ConfigError(`node name "${cfg.nodeName}" is not a valid Node name (lowercase DNS subdomain)`);
  if (cfg.kubeletPort > 65535) throw new ConfigError(`kubelet port ${cfg.kubeletPort} is above 65535`);
  if (!isIP(cfg.nodeIP)) throw new ConfigError(`node IP "${cfg.nodeIP}" is not an IPv4 or IPv6 address`);
  for (const [k, v] of Object.entries(cfg.nodeLabels)) {
    if (!labelName.test(k)) throw new ConfigError(`node label key "${k}" is not a valid label name`);
    if (!labelValue.test(v) || v.length > 63)
      throw new ConfigError(`node label ${k}="${v}": value is not a valid label value (at most 63 characters of [A-Za-z0-9-_.])`);
  }
  for (const l of [cfg.region, cfg.zone])
    if (l !== undefined && (!labelValue.test(l) || l.length > 63))
      throw new ConfigError(`region/zone "${l}" is not a valid label value`);
  if (cfg.servingCert === 'files' && (!cfg.tlsCertFile || !cfg.tlsPrivateKeyFile))
    throw new ConfigError('serving certificate mode "files" needs both --tls-cert-file and --tls-private-key-file');
  if (!isIP(cfg.kubeletBindAddress))
    throw new ConfigError(`kubelet bind address "${cfg.kubeletBindAddress}" is not an IP address`);
  if (!isIP(cfg.healthBindAddress))
    throw new ConfigError(`health bind address "${cfg.healthBindAddress}" is not an IP address (e.g. 127.0.0.1 or the pod IP)`);
  if (cfg.upperAPIServerAddress !== undefined) {
    try {
      parseHostPort(cfg.upperAPIServerAddress);
    } catch (e) {
      throw new ConfigError(`upper API server address: ${(e as Error).message}`);
    }
  }
  if (cfg.lowerKubeconfigSecret !== undefined) {
    try {
      parseSecretRef(cfg.lowerKubeconfigSecret);
    } catch (e) {
      throw new ConfigError(`lowerKubeconfigSecret: ${(e as Error).message}`);
    }
  }
  for (const ns of parseNamespaceList(cfg.lowerIdentityNamespaces))
    if (!dnsLabel.test(ns)) throw new ConfigError(`lowerIdentityNamespaces: "${ns}" is not a namespace name`);
  for (const ns of parseNamespaceList(cfg.grantedLowerNamespaces))
    if (!dnsLabel.test(ns)) throw new ConfigError(`grantedLowerNamespaces: "${ns}" is not a namespace name`);
  for (const k of cfg.deniedTolerationKeys)
    if (!labelName.test(k.replace(/\/$/, '/x')))
      throw new ConfigError(`deniedTolerationKeys: "${k}" is not a taint key or a key prefix ending in /`);
  if (!/^[^/%]+$/.test(cfg.lowerNamespaceRole) || ['.', '..'].includes(cfg.lowerNamespaceRole))
    throw new ConfigError(`lower namespace role "${cfg.lowerNamespaceRole}" is not a ClusterRole name`);
  if (cfg.leaseRenewIntervalSeconds >= cfg.leaseDurationSeconds)
    throw new ConfigError(
      `lease renew interval (${cfg.leaseRenewIntervalSeconds}s) must be shorter than the lease duration (${cfg.leaseDurationSeconds}s)`,
    );
  return cfg;
}

/** Parses `host:port` (IPv6 in brackets), e.g. the upper API server address. */
export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535)
    throw new Error(`"${s}" is not host:port (e.g. 10.0.0.1:6443, api.example.com:443 or [fd00::1]:6443)`);
  return { host: m[1] ?? m[2]!, port };
}

export function parseNamespaceList(s: string | undefined): string[] {
  return (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}

function isIP(s: string): boolean {
  return /^(\d{1,3})(\.\d{1,3}){3}$/.test(s)
    ? s.split('.').every((p) => Number(p) <= 255)
    : /^[0-9a-fA-F:]+$/.test(s) && s.includes(':');
}

/** The default as the docs and `--help` show it: the value (and its note), else the words for an unset option. */
export function defaultText(o: OptionSpec): string {
  if (o.value === undefined) return o.default ?? '(none)';
  const v = formatValue(o.value);
  return o.valueNote ? `${v} ${o.valueNote}` : v;
}

/** A default value as the docs print it: a list as its items, a map as JSON, else as it is. */
export function formatValue(v: unknown): string {
  if (Array.isArray(v)) return v.length ? v.join(', ') : '[]';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** Every option's default value (fresh objects each call: a config never shares a map with the table). */
export function defaultValues(): Partial<FedletConfig> {
  return Object.fromEntries(
    options.filter((o) => o.value !== undefined).map((o) => [o.key, structuredClone(o.value)]),
  ) as Partial<FedletConfig>;
}

/** Markdown table of every option, for docs/configuration.md (fedlet config-reference). */
export function optionsMarkdown(): string {
  const rows = options.map((o) => `| \`${o.key}\` | \`--${o.flag}\` | \`${o.env}\` | ${defaultText(o)} | ${o.help} |`);
  return ['| YAML key | flag | env var | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

/** A Secret key reference `NAMESPACE/NAME[:KEY]` (key default `kubeconfig`). */
export function parseSecretRef(ref: string): { namespace: string; name: string; key: string } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)(?::([-._a-zA-Z0-9]+))?$/.exec(ref);
  if (!m || m[1]!.length > 63 || m[3]!.length > 253)
    throw new Error(`"${ref}" is not NAMESPACE/NAME[:KEY] of a Secret (e.g. fedlet-system/fedlet-lower-kubeconfig:kubeconfig)`);
  return { namespace: m[1]!, name: m[3]!, key: m[5] ?? 'kubeconfig' };
}
