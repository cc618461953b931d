// The one place that knows fedlet's public label and annotation keys (documented in docs/labels.md).
export const LABEL_CLUSTER = 'fedlet.io/cluster';
/**
 * Node pools (provider/pools/pools.ts): on a pool's virtual Node, the pool's name; on the lower pods placed
 * through it, the same name, so that one process serving several pool nodes knows which node owns a pod.
 */
export const LABEL_POOL = 'fedlet.io/pool';
/** On every lower object fedlet creates: the name of the virtual node that owns it. */
export const LABEL_ORIGIN = 'fedlet.io/origin';
export const LABEL_UPPER_NAMESPACE = 'fedlet.io/upper-namespace';
export const LABEL_UPPER_NAME = 'fedlet.io/upper-name';
export const LABEL_UPPER_UID = 'fedlet.io/upper-uid';
/**
 * On a lower namespace, set by a lower admin: value = a virtual node's name or its cluster name. That
 * fedlet may put pods (and their ConfigMaps, Secrets, claims) into the namespace although it did not
 * create it (provider/namespaces/namespace-access.ts).
 */
export const LABEL_GRANT = 'fedlet.io/grant';
/**
 * On a lower namespace, set by a lower admin: value = a virtual node's name or its cluster name. Pods of
 * that fedlet may run there as the namespace's own service accounts (fedlet.io/service-account: lower).
 */
export const LABEL_LOWER_IDENTITY = 'fedlet.io/lower-identity';
/** Kubernetes' Pod Security admission: the level a namespace enforces, audits, warns about (and versions). */
export const LABEL_POD_SECURITY_PREFIX = 'pod-security.kubernetes.io/';

export const LABEL_TYPE = 'type';
export const TYPE_VIRTUAL_KUBELET = 'virtual-kubelet';
export const LABEL_ROLE = 'kubernetes.io/role';
export const ROLE_AGENT = 'agent';
export const LABEL_OS = 'kubernetes.io/os';
export const LABEL_ARCH = 'kubernetes.io/arch';
export const LABEL_REGION = 'topology.kubernetes.io/region';
export const LABEL_ZONE = 'topology.kubernetes.io/zone';
export const LABEL_HOSTNAME = 'kubernetes.io/hostname';
/** Annotation on the virtual Node listing the labels/taints fedlet owns, so it removes only its own. */
export const ANNOTATION_MANAGED_LABELS = 'fedlet.io/managed-labels';
export const ANNOTATION_MANAGED_TAINTS = 'fedlet.io/managed-taints';

/** On lower ConfigMap/Secret copies: the upper object's resourceVersion they were copied from. */
export const ANNOTATION_UPPER_RESOURCE_VERSION = 'fedlet.io/upper-resource-version';
/** Upper pod condition type carrying the lower scheduler's verdict (the upper PodScheduled stays). */
export const CONDITION_LOWER_SCHEDULED = 'fedlet.io/LowerScheduled';
/** On objects fedlet creates in the upper cluster for one virtual node (summary ConfigMap, serving-cert CSR). */
export const LABEL_NODE = 'fedlet.io/node';
/** On the CSRs of the virtual node's client certificate (system:node:<node>), apart from serving-cert CSRs. */
export const LABEL_NODE_CLIENT = 'fedlet.io/node-client';
/** Marks the scheduling-summary ConfigMaps the scheduler extender reads. */
export const LABEL_SUMMARY = 'fedlet.io/summary';
/** On the virtual Node: a hash of the last published scheduling summary (its change wakes kube-scheduler). */
export const ANNOTATION_SUMMARY_VERSION = 'fedlet.io/summary-version';

/** Pod annotation choosing the identity of the lower pod: "upper" (default) or "lower" service account. */
export const ANNOTATION_SERVICE_ACCOUNT = 'fedlet.io/service-account';
/** On the lower Secrets that hold upper service-account tokens for a pod (owned by the token module). */
export const LABEL_SERVICE_ACCOUNT_TOKEN = 'fedlet.io/service-account-token';
/** On those Secrets: hash of what the tokens were issued for (pod, account, audiences, lifetimes, CA). */
export const ANNOTATION_TOKEN_SPEC = 'fedlet.io/token-spec';
/** On those Secrets: JSON {key: {issuedAt, expiresAt}} (ms since the epoch) of each token. */
export const ANNOTATION_TOKEN_TIMES = 'fedlet.io/token-times';

// Keys owned by others that fedlet reads or strips.
/** Node annotation (kwok, some managed kubelets) naming a resource-metrics path other than /metrics/resource. */
export const ANNOTATION_RESOURCE_METRICS_PATH = 'metrics.k8s.io/resource-metrics-path';
/** kubectl apply's copy of the whole object: large, never read, never copied to lower pods. */
export const ANNOTATION_LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
/** Annotation on reflected lower objects (Services, NetworkPolicies): the annotations fedlet copied, so it removes only its own. */
export const ANNOTATION_MANAGED_ANNOTATIONS = 'fedlet.io/managed-annotations';
/** Kubernetes' own: the Service an EndpointSlice belongs to, and who manages the slice. */
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_ENDPOINTSLICE_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
/** managed-by value on fedlet's EndpointSlices (serviceEndpoints: global); the lower controller ignores them. */
export const ENDPOINTSLICE_MANAGED_BY_FEDLET = 'fedlet.io';
/** Kubernetes' own: every namespace carries its name under this label. */
export const LABEL_NAMESPACE_NAME = 'kubernetes.io/metadata.name';

// Keys of the sandbox's simulated (kwok) lower nodes and pods.
/** Marks the nodes a sandbox's kwok controller manages. */
export const ANNOTATION_KWOK_NODE = 'kwok.x-k8s.io/node';
/** On a sandbox pod: the CPU and memory usage kwok reports for it (defaults 5m / 8Mi). */
export const ANNOTATION_SANDBOX_USAGE_CPU = 'fedlet.test/usage-cpu';
export const ANNOTATION_SANDBOX_USAGE_MEMORY = 'fedlet.test/usage-memory';
// Storage (provider/storage/claims.ts). The provisioner name of fedlet's upper StorageClass(es).
export const STORAGE_PROVISIONER = 'fedlet.io/lower-cluster';
/** Set by the upper kube-scheduler on a WaitForFirstConsumer claim: the node chosen for its first pod. */
export const ANNOTATION_SELECTED_NODE = 'volume.kubernetes.io/selected-node';
export const ANNOTATION_PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by';
export const ANNOTATION_DEFAULT_CLASS = 'storageclass.kubernetes.io/is-default-class';
/** On an upper PV fedlet provisioned: where the real claim lives, `<cluster>/<lower namespace>/<name>`. */
export const ANNOTATION_LOWER_CLAIM = 'fedlet.io/lower-claim';
/** On an upper PV: the lower claim's phase and bound capacity, mirrored. */
export const ANNOTATION_LOWER_PHASE = 'fedlet.io/lower-phase';
export const ANNOTATION_LOWER_CAPACITY = 'fedlet.io/lower-capacity';
/** On a lower claim: the upper PV it backs. */
export const ANNOTATION_UPPER_PV = 'fedlet.io/upper-pv';
/** On a lower claim kept after its upper PV was released under the Retain policy: never collected. */
export const ANNOTATION_RETAINED = 'fedlet.io/retained';
/**
 * On lower pods: JSON {labels: [...], annotations: [...]} of the keys fedlet set, so a key removed from
 * the upper pod is removed below and keys the lower cluster adds are left alone.
 */
export const ANNOTATION_MANAGED_METADATA = 'fedlet.io/managed-metadata';
/**
 * Taint on virtual nodes (value "true", NoSchedule) unless DaemonSet pods are allowed: DaemonSets skip
 * the node; fedlet's admission webhook adds the toleration to every pod not owned by a DaemonSet.
 */
export const TAINT_VIRTUAL_NODE = 'fedlet.io/virtual-node';
/** Probe pods of `fedlet doctor`, valued with the run id (so a later run can remove leftovers). */
export const LABEL_DOCTOR = 'fedlet.io/doctor';
/** On a doctor probe pod, valued with its own name: the selector of the probe's Service (one per pod). */
export const LABEL_DOCTOR_PROBE = 'fedlet.io/doctor-probe';
