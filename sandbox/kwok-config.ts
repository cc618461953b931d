// kwok configuration for a lower cluster: lifecycle stages (the kwok binary ships none) and the
// logs/exec/attach/port-forward behaviour that makes streams through a simulated node carry real bytes.
import { ANNOTATION_SANDBOX_USAGE_CPU, ANNOTATION_SANDBOX_USAGE_MEMORY } from '../src/labels.js';

export interface KwokStreamsConfig {
  /** CRI-format log file served for every container ("<RFC3339Nano> stdout F <text>" lines). */
  logsFile: string;
  /** Working directory for commands run by exec (they run on this host, as kwok's user). */
  execWorkDir: string;
  /** Port-forward target on loopback for every pod port. */
  portForwardTarget: number;
}

/** One kwok configuration document: the header every kind shares, then its spec (YAML indented by two). */
function kwokDoc(kind: string, name: string, spec: string): string {
  return `apiVersion: kwok.x-k8s.io/v1alpha1
kind: ${kind}
metadata:
  name: ${name}
spec:
${spec}`;
}

/** A Stage for core objects of `kind` matching `matchExpressions`; `next` is the stage's next: block. */
function stage(name: string, kind: string, matchExpressions: string, next: string): string {
  return kwokDoc(
    'Stage',
    name,
    `  resourceRef:
    apiGroup: v1
    kind: ${kind}
  selector:
    matchExpressions:
${matchExpressions}  next:
${next}`,
  );
}

// Node: when not yet Ready, report kwok's standard healthy conditions and the kubelet port.
const nodeReady = stage(
  'fedlet-test-node-ready',
  'Node',
  `    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: 'NotIn'
      values: ['True']
`,
  `    statusTemplate: |
      {{ $at := Now }}
      phase: Running
      conditions:
      {{ range NodeConditions }}
      - type: {{ .type | Quote }}
        status: {{ .status | Quote }}
        reason: {{ .reason | Quote }}
        message: {{ .message | Quote }}
        lastHeartbeatTime: {{ $at | Quote }}
        lastTransitionTime: {{ $at | Quote }}
      {{ end }}
      {{ with NodePort }}
      daemonEndpoints:
        kubeletEndpoint:
          Port: {{ . }}
      {{ end }}
`,
);

// Pod: once bound and without an IP, it starts: every container running, pod Ready, IP from the node's podCIDR.
const podRunning = stage(
  'fedlet-test-pod-running',
  'Pod',
  `    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.podIP'
      operator: 'DoesNotExist'
`,
  `    statusTemplate: |
      {{ $at := Now }}
      phase: Running
      startTime: {{ $at | Quote }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
      conditions:
      - {type: Initialized, status: "True", lastTransitionTime: {{ $at | Quote }}}
      - {type: ContainersReady, status: "True", lastTransitionTime: {{ $at | Quote }}}
      - {type: Ready, status: "True", lastTransitionTime: {{ $at | Quote }}}
      {{ range .spec.readinessGates }}
      - {type: {{ .conditionType | Quote }}, status: "True", lastTransitionTime: {{ $at | Quote }}}
      {{ end }}
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        imageID: {{ printf "kwok://%s" .image | Quote }}
        containerID: {{ printf "kwok://%s" .name | Quote }}
        ready: true
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $at | Quote }}
      {{ end }}
      initContainerStatuses:
      {{ range .spec.initContainers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: true
        restartCount: 0
        state:
          terminated:
            exitCode: 0
            reason: Completed
            startedAt: {{ $at | Quote }}
            finishedAt: {{ $at | Quote }}
      {{ end }}
`,
);

// Pod deletion: play the kubelet's part and finish graceful deletion.
const podDeleted = stage(
  'fedlet-test-pod-deleted',
  'Pod',
  `    - key: '.metadata.deletionTimestamp'
      operator: 'Exists'
`,
  `    finalizers:
      empty: true
    delete: true
`,
);

/** Where kwok serves a simulated node's kubelet-style resource metrics (kwok metric paths start with /metrics). */
export const kwokResourceMetricsPath = (node: string): string => `/metrics/nodes/${node}/metrics/resource`;

// Simulated usage: a pod may ask for its own numbers with these annotations (default 5m CPU, 8Mi).
const usage = kwokDoc(
  'ClusterResourceUsage',
  'fedlet-test-usage',
  `  usages:
  - usage:
      cpu:
        expression: '"${ANNOTATION_SANDBOX_USAGE_CPU}" in pod.metadata.annotations ? Quantity(pod.metadata.annotations["${ANNOTATION_SANDBOX_USAGE_CPU}"]) : Quantity("5m")'
      memory:
        expression: '"${ANNOTATION_SANDBOX_USAGE_MEMORY}" in pod.metadata.annotations ? Quantity(pod.metadata.annotations["${ANNOTATION_SANDBOX_USAGE_MEMORY}"]) : Quantity("8Mi")'
`,
);

// The kubelet's /metrics/resource families that metrics-server and fedlet read, per simulated node.
// (No container_start_time_seconds: kwok's CEL offers only the age of a pod, not its start time.)
const resourceMetrics = kwokDoc(
  'Metric',
  'fedlet-test-resource-metrics',
  `  path: "${kwokResourceMetricsPath('{nodeName}')}"
  metrics:
  - name: scrape_error
    help: 1 if there was an error while getting container metrics, 0 otherwise
    kind: gauge
    dimension: node
    value: '0'
  - name: node_cpu_usage_seconds_total
    help: Cumulative cpu time consumed by the node in core-seconds
    kind: counter
    dimension: node
    value: 'node.CumulativeUsage("cpu")'
  - name: node_memory_working_set_bytes
    help: Current working set of the node in bytes
    kind: gauge
    dimension: node
    value: 'node.Usage("memory")'
  - name: container_cpu_usage_seconds_total
    help: Cumulative cpu time consumed by the container in core-seconds
    kind: counter
    dimension: container
    labels:
    - {name: container, value: 'container.name'}
    - {name: namespace, value: 'pod.metadata.namespace'}
    - {name: pod, value: 'pod.metadata.name'}
    value: 'pod.CumulativeUsage("cpu", container.name)'
  - name: container_memory_working_set_bytes
    help: Current working set of the container in bytes
    kind: gauge
    dimension: container
    labels:
    - {name: container, value: 'container.name'}
    - {name: namespace, value: 'pod.metadata.namespace'}
    - {name: pod, value: 'pod.metadata.name'}
    value: 'pod.Usage("memory", container.name)'
`,
);

export function kwokConfigYaml(streams: KwokStreamsConfig): string {
  const logs = kwokDoc(
    'ClusterLogs',
    'fedlet-test-logs',
    `  logs:
  - logsFile: ${streams.logsFile}
    previousLogsFile: ${streams.logsFile}
`,
  );
  const exec = kwokDoc(
    'ClusterExec',
    'fedlet-test-exec',
    `  execs:
  - local:
      workDir: ${streams.execWorkDir}
`,
  );
  const attach = kwokDoc(
    'ClusterAttach',
    'fedlet-test-attach',
    `  attaches:
  - logsFile: ${streams.logsFile}
`,
  );
  const pf = kwokDoc(
    'ClusterPortForward',
    'fedlet-test-port-forward',
    `  forwards:
  - target:
      address: 127.0.0.1
      port: ${streams.portForwardTarget}
`,
  );
  return [nodeReady, podRunning, podDeleted, logs, exec, attach, pf, usage, resourceMetrics].join('---\n');
}
