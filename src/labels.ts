// The one place that knows fedlet's public label and annotation keys (documented in README.md).
export const LABEL_CLUSTER = 'fedlet.io/cluster';
/** On every lower object fedlet creates: the name of the virtual node that owns it. */
export const LABEL_ORIGIN = 'fedlet.io/origin';
export const LABEL_UPPER_NAMESPACE = 'fedlet.io/upper-namespace';
export const LABEL_UPPER_NAME = 'fedlet.io/upper-name';
export const LABEL_UPPER_UID = 'fedlet.io/upper-uid';

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

// Storage (provider/claims.ts). The provisioner name of fedlet's upper StorageClass(es).
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
