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
