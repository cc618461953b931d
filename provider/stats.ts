// /stats/summary and /metrics/resource for the virtual node, taken from the lower cluster without an
// agent there: each lower node's kubelet summary (through the lower API server's node proxy), filtered
// to this fedlet's pods and renamed to their upper identities. Counters are kept monotonic across pods
// coming and going (metrics-server rejects decreasing counters).
import type { KubeClient } from '../src/kube/client.js';
import type { Pod } from '../src/kube/types.js';
import { upperKeyOf } from './pods.js';

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

  constructor(private readonly o: { lower: KubeClient; nodeName: string; lowerPods: () => Pod[]; upperUid: (upperKey: string) => string | undefined }) {}

  async summary(): Promise<Summary> {
    const ours = this.o.lowerPods();
    const byLower = new Map(ours.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
    const nodes = [...new Set(ours.map((p) => p.spec.nodeName).filter((n): n is string => !!n))];
    const lowerSummaries = await Promise.all(
      nodes.map((n) => this.o.lower.get<{ pods?: PodStats[] }>(`/api/v1/nodes/${n}/proxy/stats/summary`, { timeoutMs: 5000 }).catch(() => ({ pods: [] as PodStats[] }))),
    );
    const seen = new Set<string>();
    const pods: PodStats[] = [];
    for (const s of lowerSummaries)
      for (const ps of s.pods ?? []) {
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
      pods.push({ podRef: { namespace: ns, name, uid: this.o.upperUid(upperKey) ?? '' }, startTime: p.status?.startTime, containers: p.spec.containers.map((c) => ({ name: c.name, startTime: p.status?.startTime })) });
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
        ...(haveUsage ? { cpu: { time: now, usageCoreNanoSeconds: this.nodeCpuTotal, usageNanoCores: nanoCores }, memory: { time: now, workingSetBytes: workingSet } } : {}),
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
    out.push('# HELP scrape_error 1 if there was an error while getting container metrics, 0 otherwise', '# TYPE scrape_error gauge', 'scrape_error 0');
    if (s.node.cpu?.usageCoreNanoSeconds !== undefined) {
      out.push('# HELP node_cpu_usage_seconds_total Cumulative cpu time consumed by the node in core-seconds', '# TYPE node_cpu_usage_seconds_total counter');
      out.push(`node_cpu_usage_seconds_total ${s.node.cpu.usageCoreNanoSeconds / 1e9}${ts(s.node.cpu)}`);
      out.push('# HELP node_memory_working_set_bytes Current working set of the node in bytes', '# TYPE node_memory_working_set_bytes gauge');
      out.push(`node_memory_working_set_bytes ${s.node.memory?.workingSetBytes ?? 0}${ts(s.node.memory)}`);
    }
    const cpuLines: string[] = [];
    const memLines: string[] = [];
    const startLines: string[] = [];
    for (const p of s.pods)
      for (const c of p.containers ?? []) {
        const labels = `container="${esc(c.name)}",namespace="${esc(p.podRef.namespace)}",pod="${esc(p.podRef.name)}"`;
        if (c.cpu?.usageCoreNanoSeconds) cpuLines.push(`container_cpu_usage_seconds_total{${labels}} ${c.cpu.usageCoreNanoSeconds / 1e9}${ts(c.cpu)}`);
        if (c.memory?.workingSetBytes) memLines.push(`container_memory_working_set_bytes{${labels}} ${c.memory.workingSetBytes}${ts(c.memory)}`);
        if (c.startTime) startLines.push(`container_start_time_seconds{${labels}} ${Date.parse(c.startTime) / 1000}`);
      }
    out.push('# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed by the container in core-seconds', '# TYPE container_cpu_usage_seconds_total counter', ...cpuLines);
    out.push('# HELP container_memory_working_set_bytes Current working set of the container in bytes', '# TYPE container_memory_working_set_bytes gauge', ...memLines);
    out.push('# HELP container_start_time_seconds Start time of the container since unix epoch in seconds', '# TYPE container_start_time_seconds gauge', ...startLines);
    return `${out.join('\n')}\n`;
  }
}
