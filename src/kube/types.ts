// Minimal, JSON-shaped Kubernetes types for what fedlet reads and writes (timestamps stay strings).
// The one place each Kubernetes type is declared; modules narrow them, never redeclare them.

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  creationTimestamp?: string;
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
  finalizers?: string[];
  managedFields?: unknown[];
}
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}
export interface Volume {
  name: string;
  configMap?: { name?: string; optional?: boolean; items?: KeyToPath[] };
  secret?: { secretName?: string; optional?: boolean; items?: KeyToPath[] };
  projected?: {
    defaultMode?: number;
    sources?: Array<{
      configMap?: { name?: string; optional?: boolean; items?: KeyToPath[] };
      secret?: { name?: string; optional?: boolean; items?: KeyToPath[] };
      serviceAccountToken?: unknown;
      downwardAPI?: unknown;
      clusterTrustBundle?: unknown;
    }>;
  };
  hostPath?: { path: string };
  persistentVolumeClaim?: { claimName: string };
  downwardAPI?: unknown;
  [other: string]: unknown;
}
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string; apiVersion?: string };
    configMapKeyRef?: { name?: string; key: string; optional?: boolean };
    secretKeyRef?: { name?: string; key: string; optional?: boolean };
    resourceFieldRef?: unknown;
  };
}
export interface Container {
  name: string;
  image?: string;
  env?: EnvVar[];
  envFrom?: Array<{
    configMapRef?: { name?: string; optional?: boolean };
    secretRef?: { name?: string; optional?: boolean };
    prefix?: string;
  }>;
  ports?: Array<{ containerPort: number; hostPort?: number; protocol?: string; name?: string }>;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean; subPath?: string }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  restartPolicy?: string;
  [other: string]: unknown;
}
export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
export interface Taint {
  key: string;
  value?: string;
  effect: TaintEffect;
  timeAdded?: string;
}
export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  ephemeralContainers?: Container[];
  volumes?: Volume[];
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  affinity?: unknown;
  tolerations?: Toleration[];
  topologySpreadConstraints?: unknown[];
  schedulerName?: string;
  priority?: number;
  priorityClassName?: string;
  preemptionPolicy?: string;
  runtimeClassName?: string;
  serviceAccountName?: string;
  serviceAccount?: string;
  automountServiceAccountToken?: boolean;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  hostname?: string;
  subdomain?: string;
  imagePullSecrets?: Array<{ name: string }>;
  readinessGates?: Array<{ conditionType: string }>;
  activeDeadlineSeconds?: number;
  terminationGracePeriodSeconds?: number;
  restartPolicy?: string;
  overhead?: Record<string, string>;
  [other: string]: unknown;
}
export interface PodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastProbeTime?: string | null;
  observedGeneration?: number;
}
export interface PodStatus {
  phase?: string;
  reason?: string;
  message?: string;
  conditions?: PodCondition[];
  hostIP?: string;
  hostIPs?: Array<{ ip: string }>;
  podIP?: string;
  podIPs?: Array<{ ip: string }>;
  startTime?: string;
  qosClass?: string;
  containerStatuses?: ContainerStatus[];
  initContainerStatuses?: ContainerStatus[];
  ephemeralContainerStatuses?: ContainerStatus[];
  [other: string]: unknown;
}
/** A container's state as the kubelet reports it (one of the three is set). */
export interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: { exitCode: number; signal?: number; reason?: string; message?: string; startedAt?: string; finishedAt?: string };
}
export interface ContainerStatus {
  name: string;
  ready?: boolean;
  restartCount?: number;
  started?: boolean;
  image?: string;
  imageID?: string;
  containerID?: string;
  state?: ContainerState;
  lastState?: ContainerState;
  [other: string]: unknown;
}
export interface Pod extends KubeObject {
  metadata: ObjectMeta;
  spec: PodSpec;
  status?: PodStatus;
}
export interface DataObject extends KubeObject {
  metadata: ObjectMeta;
  type?: string;
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  stringData?: Record<string, string>;
  immutable?: boolean;
}

export interface NodeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
}
export interface NodeAddress {
  type: string;
  address: string;
}
export interface NodeStatus {
  capacity?: Record<string, string>;
  allocatable?: Record<string, string>;
  conditions?: NodeCondition[];
  addresses?: NodeAddress[];
  daemonEndpoints?: { kubeletEndpoint?: { Port?: number } };
  nodeInfo?: Record<string, string>;
}
export interface Node extends KubeObject {
  metadata: ObjectMeta & { name: string };
  spec?: { taints?: Taint[]; unschedulable?: boolean; podCIDR?: string; podCIDRs?: string[] };
  status?: NodeStatus;
}

/** coordination.k8s.io/v1 Lease: node heartbeats and leader election. Times are MicroTime strings. */
export interface Lease extends KubeObject {
  metadata: ObjectMeta & { name: string; namespace: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

// Storage: classes, claims and volumes (provider/storage/, the extender's storage check, the sandbox's provisioner).
export interface StorageClassObj extends KubeObject {
  provisioner?: string;
  reclaimPolicy?: string;
  allowVolumeExpansion?: boolean;
}
export interface ClaimObj extends KubeObject {
  spec?: {
    storageClassName?: string;
    accessModes?: string[];
    volumeMode?: string;
    volumeName?: string;
    resources?: { requests?: Record<string, string> };
    dataSource?: ClaimDataSource;
    dataSourceRef?: ClaimDataSource;
  };
  status?: { phase?: string; capacity?: Record<string, string>; conditions?: ClaimCondition[] };
}
export interface ClaimDataSource {
  apiGroup?: string;
  kind?: string;
  name?: string;
}
export interface ClaimCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastProbeTime?: string | null;
  lastTransitionTime?: string | null;
}
export interface VolumeObj extends KubeObject {
  spec?: {
    claimRef?: { namespace?: string; name?: string; uid?: string };
    persistentVolumeReclaimPolicy?: string;
    capacity?: Record<string, string>;
    local?: { path?: string };
  };
  status?: { phase?: string };
}

// Services and their endpoints (provider/exposition/).
export interface ServicePort {
  name?: string;
  protocol?: string;
  port: number;
  targetPort?: number | string;
  nodePort?: number;
  appProtocol?: string;
}
export interface ServiceSpec {
  type?: string;
  selector?: Record<string, string>;
  ports?: ServicePort[];
  clusterIP?: string;
  clusterIPs?: string[];
  externalName?: string;
  publishNotReadyAddresses?: boolean;
  sessionAffinity?: string;
  sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
  ipFamilies?: string[];
  ipFamilyPolicy?: string;
  internalTrafficPolicy?: string;
  externalTrafficPolicy?: string;
  healthCheckNodePort?: number;
  trafficDistribution?: string;
  loadBalancerClass?: string;
  loadBalancerSourceRanges?: string[];
  allocateLoadBalancerNodePorts?: boolean;
  externalIPs?: string[];
  [other: string]: unknown;
}
export interface Service extends KubeObject {
  metadata: ObjectMeta;
  spec?: ServiceSpec;
}
export interface SlicePort {
  name?: string;
  protocol?: string;
  port?: number;
  appProtocol?: string;
}
export interface SliceEndpoint {
  addresses: string[];
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  hostname?: string;
  nodeName?: string;
  zone?: string;
  targetRef?: unknown;
  hints?: unknown;
}
export interface EndpointSlice extends KubeObject {
  metadata: ObjectMeta;
  addressType: string;
  endpoints?: SliceEndpoint[] | null;
  ports?: SlicePort[] | null;
}

// NetworkPolicies (provider/exposition/network-policies.ts).
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}
export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}
export interface NetworkPolicyRule {
  ports?: unknown[];
  from?: NetworkPolicyPeer[];
  to?: NetworkPolicyPeer[];
}
export interface NetworkPolicySpec {
  podSelector?: LabelSelector;
  policyTypes?: string[];
  ingress?: NetworkPolicyRule[];
  egress?: NetworkPolicyRule[];
  [other: string]: unknown;
}

// Node affinity as pods state it (only the required part is read: the extender, translation, admission).
export interface NodeSelectorTerm {
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
  matchFields?: Array<{ key: string; operator: string; values?: string[] }>;
}
export interface Affinity {
  nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: NodeSelectorTerm[] } };
}

/** A core/v1 Event about an object (what src/events.ts writes, and what kubectl prints). */
export interface CoreEvent extends KubeObject {
  type: string;
  reason: string;
  message: string;
  involvedObject: { apiVersion?: string; kind?: string; namespace?: string; name: string; uid?: string };
  source?: { component?: string; host?: string };
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
}
