// fedlet's own Prometheus metrics (served on the kubelet port at /metrics, authorized like the kubelet).
// Events (syncs, relayed sessions and bytes, kubelet requests) are counted where they happen; levels
// (queue depth, pods by phase, lower health, API requests) are read at scrape time from the objects that
// own them, through the sources handed to collectFrom(), so no copy of them can go stale.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** An API client's request counts by verb, and writes by "VERB resource" (src/kube/client.ts). */
export interface ClientCounts {
  requestCounts: Map<string, number>;
  writeCounts?: Map<string, number>;
}

/** Where the scrape-time metrics come from. */
export interface MetricSources {
  queueDepth: () => number;
  podsByPhase: () => Map<string, number>;
  lowerHealthy: () => boolean;
  /** API request counts per client (upper, lower). */
  clients: Record<string, ClientCounts>;
}

export class FedletMetrics {
  private sources?: MetricSources;
  readonly registry = new Registry();
  readonly syncDuration = new Histogram({
    name: 'fedlet_pod_sync_duration_seconds',
    help: 'Duration of pod syncs',
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly relaySessions = new Counter({
    name: 'fedlet_relay_sessions_total',
    help: 'Streaming sessions relayed to the lower cluster',
    labelNames: ['kind', 'outcome'],
    registers: [this.registry],
  });
  readonly relayActive = new Gauge({
    name: 'fedlet_relay_sessions_active',
    help: 'Streaming sessions open now',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly relayBytes = new Counter({
    name: 'fedlet_relay_bytes_total',
    help: 'Bytes relayed',
    labelNames: ['kind', 'direction'],
    registers: [this.registry],
  });
  readonly kubeletRequests = new Counter({
    name: 'fedlet_kubelet_requests_total',
    help: 'Kubelet API requests by path kind and status code',
    labelNames: ['path', 'code'],
    registers: [this.registry],
  });

  constructor() {
    // The event-loop lag histogram samples every 100 ms, not prom-client's 10: at 10 ms its timer was half
    // of an idle fedlet's CPU (about 4 of 8 ms per second); stalls worth alerting on last longer than that.
    collectDefaultMetrics({ register: this.registry, prefix: 'fedlet_process_', eventLoopMonitoringPrecision: 100 });
    const src = () => this.sources;
    new Gauge({
      name: 'fedlet_pod_queue_depth',
      help: 'Pod keys waiting to be synced',
      registers: [this.registry],
      collect() {
        const s = src();
        if (s) this.set(s.queueDepth());
      },
    });
    new Gauge({
      name: 'fedlet_pods',
      help: 'Upper pods on this virtual node by phase',
      labelNames: ['phase'],
      registers: [this.registry],
      collect() {
        const s = src();
        if (!s) return;
        this.reset();
        for (const [phase, n] of s.podsByPhase()) this.set({ phase }, n);
      },
    });
    new Gauge({
      name: 'fedlet_lower_api_healthy',
      help: '1 when the lower API server answers /readyz',
      registers: [this.registry],
      collect() {
        const s = src();
        if (s) this.set(s.lowerHealthy() ? 1 : 0);
      },
    });
    /** A counter read at scrape time from each API client's own counts (label rows per client). */
    const clientCounter = (
      name: string,
      help: string,
      labelNames: string[],
      rows: (c: ClientCounts) => Iterable<[Record<string, string>, number]>,
    ) =>
      new Counter({
        name,
        help,
        labelNames: ['cluster', ...labelNames],
        registers: [this.registry],
        collect() {
          const s = src();
          if (!s) return;
          this.reset();
          for (const [cluster, c] of Object.entries(s.clients))
            for (const [labels, n] of rows(c)) this.inc({ cluster, ...labels }, n);
        },
      });
    clientCounter(
      'fedlet_api_requests_total',
      'Requests fedlet made to the upper and lower API servers, by verb',
      ['verb'],
      (c) => [...c.requestCounts].map(([verb, n]) => [{ verb }, n]),
    );
    clientCounter(
      'fedlet_api_writes_total',
      'Writes fedlet made to the upper and lower API servers, by verb and resource (resource/subresource)',
      ['verb', 'resource'],
      (c) =>
        [...(c.writeCounts ?? [])].map(([key, n]) => {
          const [verb = '', resource = ''] = key.split(' ');
          return [{ verb, resource }, n];
        }),
    );
  }

  /** Connects the scrape-time metrics to the objects that own the numbers. */
  collectFrom(sources: MetricSources): void {
    this.sources = sources;
  }
}
