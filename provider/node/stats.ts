// /stats/summary and /metrics/resource for the virtual node, taken from the lower cluster without an
// agent there: each lower node's kubelet summary (through the lower API server's node proxy) or, where a
// node serves no summary (kwok, hardened kubelets), its resource metrics (/metrics/resource, or the path
// in the node's metrics.k8s.io/resource-metrics-path annotation, as metrics-server reads them), filtered
// to this fedlet's pods and renamed to their upper identities. Counters are kept monotonic across pods
// coming and going (metrics-server rejects decreasing counters).
import type { KubeClient } from '../../src/kube/client.js';
import type { Pod } from '../../src/kube/types.js';
import { upperKeyOf } from '../workload/pods.js';
import { parsePromText } from './prom-text.js';

interface Usage {
  time?: string;
  usageCoreNanoSeconds?: number;
  usageNanoCores?: number;
  workingSetBytes?: number;
  usageBytes?: number;
}
interface PodStats {
  podRef: { name: string; namespace: string; uid: string };
  startTime?: string;
  containers?: Array<{ name: string; startTime?: string; cpu?: Usage; memory?: Usage }>;
  cpu?: Usage;
  memory?: Usage;
}
export interface Summary {
  node: { nodeName: string; startTime: string; cpu?: Usage; memory?: Usage };
  pods: PodStats[];
}

export class LowerStats {
  private readonly startTime = new Date().toISOString();
  private readonly lastPodCpu = new Map<string, number>();
  private nodeCpuTotal = 0;

  /** Which source last worked per lower node, so a node without a summary costs one request, not two. */
  private readonly sourceOf = new Map<string, 'summary' | 'metrics'>();
  private readonly unavailable = new Set<string>();

  constructor(
    private readonly o: {
      lower: KubeClient;
      nodeName: string;
      lowerPods: () => Pod[];
      upperUid: (upperKey: string) => string | undefined;
      /** The lower node's resource-metrics path annotation, if any. */
      metricsPathOf?: (lowerNode: string) => string | undefined;
      log?: { warn: (obj: object, msg: string) => void };
    },
  ) {}

  /** Pod stats of one lower node: the kubelet summary, else its resource metrics, else none. */
  private async nodePodStats(node: string, byLower: Map<string, Pod>): Promise<PodStats[]> {
    const viaSummary = () =>
      this.o.lower
        .get<{ pods?: PodStats[] }>(`/api/v1/nodes/${encodeURIComponent(node)}/proxy/stats/summary`, { timeoutMs: 5000 })
        .then((s) => s.pods ?? []);
    const viaMetrics = async () => {
      const p = this.o.metricsPathOf?.(node) ?? '/metrics/resource';
      const text = await this.o.lower.getText(
        `/api/v1/nodes/${encodeURIComponent(node)}/proxy${p.startsWith('/') ? p : `/${p}`}`,
        { timeoutMs: 5000 },
      );
      return podStatsFromResourceMetrics(text, byLower);
    };
    const order =
      this.sourceOf.get(node) === 'metrics'
        ? ([
            ['metrics', viaMetrics],
            ['summary', viaSummary],
          ] as const)
        : ([
            ['summary', viaSummary],
            ['metrics', viaMetrics],
          ] as const);
    const errors: string[] = [];
    for (const [source, fetch] of order) {
      try {
        const pods = await fetch();
        this.sourceOf.set(node, source);
        this.unavailable.delete(node);
        return pods;
      } catch (e) {
        errors.push(`${source}: ${(e as Error).message}`);
      }
    }
    // A node with neither source contributes pods without usage; said once per node, not per scrape.
    this.sourceOf.delete(node);
    if (!this.unavailable.has(node)) {
      this.unavailable.add(node);
      this.o.log?.warn(
        { lowerNode: node, errors },
        'lower node offers neither /stats/summary nor resource metrics; its pods are reported without usage',
      );
    }
    return [];
  }

  async summary(): Promise<Summary> {
    const ours = this.o.lowerPods();
    const byLower = new Map(ours.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
    const nodes = [...new Set(ours.map((p) => p.spec.nodeName).filter((n): n is string => !!n))];
    for (const n of this.sourceOf.keys()) if (!nodes.includes(n)) this.sourceOf.delete(n);
    for (const n of this.unavailable) if (!nodes.includes(n)) this.unavailable.delete(n);
    const perNode = await Promise.all(nodes.map((n) => this.nodePodStats(n, byLower)));
    const seen = new Set<string>();
    const pods: PodStats[] = [];
    for (const list of perNode)
      for (const ps of list) {
        const p = byLower.get(`${ps.podRef.namespace}/${ps.podRef.name}`);
        const upperKey = p && upperKeyOf(p);
        if (!p || !upperKey) continue;
        seen.add(upperKey);
        const [ns, name] = upperKey.split('/') as [string, string];
        pods.push({ ...ps, podRef: { namespace: ns, name, uid: this.o.upperUid(upperKey) ?? '' } });
      }
    // Pods whose lower kubelet offers no stats still appear, without usage.
    for (const p of ours) {
      const upperKey = upperKeyOf(p);
      if (!upperKey || seen.has(upperKey) || p.status?.phase !== 'Running') continue;
      const [ns, name] = upperKey.split('/') as [string, string];
      pods.push({
        podRef: { namespace: ns, name, uid: this.o.upperUid(upperKey) ?? '' },
        startTime: p.status?.startTime,
        containers: p.spec.containers.map((c) => ({ name: c.name, startTime: p.status?.startTime })),
      });
    }
    const now = new Date().toISOString();
    let nanoCores = 0;
    let workingSet = 0;
    let haveUsage = false;
    for (const ps of pods) {
      const cpu = ps.cpu?.usageCoreNanoSeconds;
      if (cpu !== undefined) {
        haveUsage = true;
        const prev = this.lastPodCpu.get(ps.podRef.uid) ?? 0;
        if (cpu > prev) this.nodeCpuTotal += cpu - prev;
        this.lastPodCpu.set(ps.podRef.uid, Math.max(prev, cpu));
      }
      nanoCores += ps.cpu?.usageNanoCores ?? 0;
      workingSet += ps.memory?.workingSetBytes ?? 0;
    }
    const live = new Set(pods.map((p) => p.podRef.uid));
    for (const uid of this.lastPodCpu.keys()) if (!live.has(uid)) this.lastPodCpu.delete(uid);
    return {
      node: {
        nodeName: this.o.nodeName,
        startTime: this.startTime,
        ...(haveUsage
          ? {
              cpu: { time: now, usageCoreNanoSeconds: this.nodeCpuTotal, usageNanoCores: nanoCores },
              memory: { time: now, workingSetBytes: workingSet },
            }
          : {}),
      },
      pods,
    };
  }

  /** Prometheus text in the format metrics-server scrapes from /metrics/resource. */
  async resourceMetrics(): Promise<string> {
    const s = await this.summary();
    const out: string[] = [];
    const ts = (u?: Usage) => (u?.time ? ` ${Date.parse(u.time)}` : '');
    const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
    out.push(
      '# HELP scrape_error 1 if there was an error while getting container metrics, 0 otherwise',
      '# TYPE scrape_error gauge',
      'scrape_error 0',
    );
    if (s.node.cpu?.usageCoreNanoSeconds !== undefined) {
      out.push(
        '# HELP node_cpu_usage_seconds_total Cumulative cpu time consumed by the node in core-seconds',
        '# TYPE node_cpu_usage_seconds_total counter',
      );
      out.push(`node_cpu_usage_seconds_total ${s.node.cpu.usageCoreNanoSeconds / 1e9}${ts(s.node.cpu)}`);
      out.push(
        '# HELP node_memory_working_set_bytes Current working set of the node in bytes',
        '# TYPE node_memory_working_set_bytes gauge',
      );
      out.push(`node_memory_working_set_bytes ${s.node.memory?.workingSetBytes ?? 0}${ts(s.node.memory)}`);
    }
    const cpuLines: string[] = [];
    const memLines: string[] = [];
    const startLines: string[] = [];
    const podCpuLines: string[] = [];
    const podMemLines: string[] = [];
    for (const p of s.pods) {
      // Pod series as the kubelet serves them (label order: namespace, pod): the pod's own figures, else
      // the sum over its containers.
      const podLabels = `namespace="${esc(p.podRef.namespace)}",pod="${esc(p.podRef.name)}"`;
      const cs = p.containers ?? [];
      const cpu = p.cpu?.usageCoreNanoSeconds ?? cs.reduce((a, c) => a + (c.cpu?.usageCoreNanoSeconds ?? 0), 0);
      const mem = p.memory?.workingSetBytes ?? cs.reduce((a, c) => a + (c.memory?.workingSetBytes ?? 0), 0);
      const cpuAt = p.cpu ?? cs.find((c) => c.cpu)?.cpu;
      const memAt = p.memory ?? cs.find((c) => c.memory)?.memory;
      if (cpu) podCpuLines.push(`pod_cpu_usage_seconds_total{${podLabels}} ${cpu / 1e9}${ts(cpuAt)}`);
      if (mem) podMemLines.push(`pod_memory_working_set_bytes{${podLabels}} ${mem}${ts(memAt)}`);
      for (const c of cs) {
        const labels = `container="${esc(c.name)}",namespace="${esc(p.podRef.namespace)}",pod="${esc(p.podRef.name)}"`;
        if (c.cpu?.usageCoreNanoSeconds)
          cpuLines.push(`container_cpu_usage_seconds_total{${labels}} ${c.cpu.usageCoreNanoSeconds / 1e9}${ts(c.cpu)}`);
        if (c.memory?.workingSetBytes)
          memLines.push(`container_memory_working_set_bytes{${labels}} ${c.memory.workingSetBytes}${ts(c.memory)}`);
        if (c.startTime) startLines.push(`container_start_time_seconds{${labels}} ${Date.parse(c.startTime) / 1000}`);
      }
    }
    out.push(
      '# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed by the container in core-seconds',
      '# TYPE container_cpu_usage_seconds_total counter',
      ...cpuLines,
    );
    out.push(
      '# HELP container_memory_working_set_bytes Current working set of the container in bytes',
      '# TYPE container_memory_working_set_bytes gauge',
      ...memLines,
    );
    out.push(
      '# HELP container_start_time_seconds Start time of the container since unix epoch in seconds',
      '# TYPE container_start_time_seconds gauge',
      ...startLines,
    );
    out.push(
      '# HELP pod_cpu_usage_seconds_total Cumulative cpu time consumed by the pod in core-seconds',
      '# TYPE pod_cpu_usage_seconds_total counter',
      ...podCpuLines,
    );
    out.push(
      '# HELP pod_memory_working_set_bytes Current working set of the pod in bytes',
      '# TYPE pod_memory_working_set_bytes gauge',
      ...podMemLines,
    );
    return `${out.join('\n')}\n`;
  }
}

/** When a lower container started: its running state, else the pod's start time. */
function containerStart(p: Pod, container: string): string | undefined {
  const statuses = (p.status?.containerStatuses ?? []) as Array<{ name?: string; state?: { running?: { startedAt?: string } } }>;
  return statuses.find((c) => c.name === container)?.state?.running?.startedAt ?? p.status?.startTime;
}

/**
 * Pod stats from a kubelet's /metrics/resource exposition (container_cpu_usage_seconds_total,
 * container_memory_working_set_bytes), for the pods in `byLower` (lower namespace/name → pod).
 */
export function podStatsFromResourceMetrics(text: string, byLower: Map<string, Pod>): PodStats[] {
  const pods = new Map<string, PodStats>();
  const now = new Date().toISOString();
  for (const s of parsePromText(text)) {
    if (s.name !== 'container_cpu_usage_seconds_total' && s.name !== 'container_memory_working_set_bytes') continue;
    const { namespace, pod, container } = s.labels;
    if (!namespace || !pod || !container || !Number.isFinite(s.value)) continue;
    const key = `${namespace}/${pod}`;
    const lowerPod = byLower.get(key);
    if (!lowerPod) continue;
    let ps = pods.get(key);
    if (!ps) {
      ps = {
        podRef: { namespace, name: pod, uid: lowerPod.metadata.uid ?? '' },
        startTime: lowerPod.status?.startTime,
        containers: [],
      };
      pods.set(key, ps);
    }
    let c = ps.containers!.find((x) => x.name === container);
    if (!c) {
      c = { name: container, startTime: containerStart(lowerPod, container) };
      ps.containers!.push(c);
    }
    const time = s.timestampMs ? new Date(s.timestampMs).toISOString() : now;
    if (s.name === 'container_cpu_usage_seconds_total') c.cpu = { time, usageCoreNanoSeconds: Math.round(s.value * 1e9) };
    else c.memory = { time, workingSetBytes: Math.round(s.value) };
  }
  for (const ps of pods.values()) {
    const cs = ps.containers ?? [];
    const withCpu = cs.filter((c) => c.cpu?.usageCoreNanoSeconds !== undefined);
    const withMem = cs.filter((c) => c.memory?.workingSetBytes !== undefined);
    if (withCpu.length)
      ps.cpu = {
        time: withCpu[0]!.cpu!.time,
        usageCoreNanoSeconds: withCpu.reduce((a, c) => a + c.cpu!.usageCoreNanoSeconds!, 0),
      };
    if (withMem.length)
      ps.memory = {
        time: withMem[0]!.memory!.time,
        workingSetBytes: withMem.reduce((a, c) => a + c.memory!.workingSetBytes!, 0),
      };
  }
  return [...pods.values()];
}
