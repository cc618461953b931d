// The scheduler extender — an HTTP service, not a scheduling-framework plugin, whatever the folder is
// called: kube-scheduler (unmodified, configured with `extenders:`) calls /filter and /prioritize with
// node names (nodeCacheCapable). Virtual nodes pass only if a single lower node fits the pod; other
// nodes always pass. Summaries come from fedlet (src/scheduling/summary.ts) and are trusted only while
// the node's Lease is fresh.
import express from 'express';
import type { Logger } from 'pino';
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { KubeApi } from '../src/kube/client.js';
import { Informer } from '../src/kube/informer.js';
import type { ClaimObj, KubeObject, Lease, Node, Pod } from '../src/kube/types.js';
import { LABEL_SUMMARY, LABEL_TYPE, TYPE_VIRTUAL_KUBELET } from '../src/labels.js';
import { parseSummary, summaryConfigMapName, SUMMARY_DATA_KEY, type ClusterSummary } from '../src/scheduling/summary.js';
import { avoidReason } from '../src/scheduling/avoid.js';
import { fitInCluster, scores } from './fit.js';
import { storageRefusal, unboundClaimClasses } from './storage.js';

interface SummaryCm extends KubeObject {
  data?: Record<string, string>;
}

/**
 * kube-scheduler's extender/v1 types carry no JSON tags, so the wire names are the Go field names
 * ("Pod", "NodeNames", "FailedNodes", "Host", "Score"). Go decodes case-insensitively; we accept both.
 */
export interface ExtenderArgs {
  Pod?: Pod;
  pod?: Pod;
  NodeNames?: string[] | null;
  nodenames?: string[] | null;
  Nodes?: { items: Array<{ metadata: { name: string } }> } | null;
  nodes?: { items: Array<{ metadata: { name: string } }> } | null;
}
export interface ExtenderFilterResult {
  NodeNames: string[];
  FailedNodes: Record<string, string>;
  Error: string;
}
export interface HostPriority {
  Host: string;
  Score: number;
}

export class ExtenderInputError extends Error {}

function parseArgs(a: ExtenderArgs): { pod: Pod; names: string[] } {
  const pod = a.Pod ?? a.pod;
  if (!pod?.metadata || !pod.spec) throw new ExtenderInputError('request has no Pod');
  const names = a.NodeNames ?? a.nodenames ?? (a.Nodes ?? a.nodes)?.items.map((n) => n.metadata.name) ?? [];
  return { pod, names };
}

export class Extender {
  readonly nodes: Informer<Node>;
  readonly summaries: Informer<SummaryCm, KubeObject & { parsed?: ClusterSummary }>;
  readonly leases: Informer<Lease>;
  readonly claims: Informer<ClaimObj>;
  private server?: Server;

  constructor(
    private readonly o: {
      upper: KubeApi;
      namespace: string;
      log: Logger;
      now?: () => number;
      /** Served on /metrics when given (the extender's own counters, e.g. the toleration repair's). */
      metrics?: Registry;
    },
  ) {
    this.nodes = new Informer<Node>({
      client: o.upper,
      path: '/api/v1/nodes',
      labelSelector: `${LABEL_TYPE}=${TYPE_VIRTUAL_KUBELET}`,
      log: o.log,
      transform: (n) => ({
        metadata: { name: n.metadata.name, labels: n.metadata.labels, resourceVersion: n.metadata.resourceVersion },
      }),
    });
    this.summaries = new Informer<SummaryCm, KubeObject & { parsed?: ClusterSummary }>({
      client: o.upper,
      path: `/api/v1/namespaces/${o.namespace}/configmaps`,
      labelSelector: `${LABEL_SUMMARY}=true`,
      log: o.log,
      transform: (cm) => {
        let parsed: ClusterSummary | undefined;
        try {
          parsed = parseSummary(cm.data?.[SUMMARY_DATA_KEY] ?? '');
        } catch (e) {
          o.log.warn({ configmap: cm.metadata?.name, err: (e as Error).message }, 'unreadable fedlet summary; ignoring it');
        }
        return {
          metadata: { name: cm.metadata?.name, namespace: cm.metadata?.namespace, resourceVersion: cm.metadata?.resourceVersion },
          parsed,
        };
      },
    });
    this.claims = new Informer<ClaimObj>({
      client: o.upper,
      path: '/api/v1/persistentvolumeclaims',
      log: o.log,
      transform: (c) => ({
        metadata: { name: c.metadata?.name, namespace: c.metadata?.namespace, resourceVersion: c.metadata?.resourceVersion },
        spec: { storageClassName: c.spec?.storageClassName, volumeName: c.spec?.volumeName },
      }),
    });
    this.leases = new Informer<Lease>({
      client: o.upper,
      path: '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases',
      log: o.log,
    });
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** A summary is trusted only while its fedlet renews the node Lease. */
  freshSummary(node: string): ClusterSummary | undefined {
    const s = this.summaries.get(`${this.o.namespace}/${summaryConfigMapName(node)}`)?.parsed;
    if (!s) return undefined;
    const lease = this.leases.get(`kube-node-lease/${node}`);
    const renew = lease?.spec?.renewTime ? Date.parse(lease.spec.renewTime) : 0;
    const duration = (lease?.spec?.leaseDurationSeconds ?? 40) * 1000;
    return renew + duration >= this.now() ? s : undefined;
  }

  filter(args: ExtenderArgs): ExtenderFilterResult {
    const { pod, names } = parseArgs(args);
    const pass: string[] = [];
    const failed: Record<string, string> = {};
    const claimClasses = unboundClaimClasses(pod, (ns, name) => this.claims.get(`${ns}/${name}`)?.spec);
    for (const name of names) {
      const node = this.nodes.get(name);
      const s = node ? this.freshSummary(name) : undefined;
      if (!node || !s) {
        pass.push(name); // not a virtual node, or no trustworthy data: leave the decision to the scheduler
        continue;
      }
      const avoid = avoidReason(s, pod, this.now());
      if (avoid) {
        failed[name] = avoid;
        continue;
      }
      const noStorage = storageRefusal(claimClasses, s);
      if (noStorage) {
        failed[name] = noStorage;
        continue;
      }
      const r = fitInCluster(pod, s, node.metadata.labels ?? {});
      if (r.fits) pass.push(name);
      else failed[name] = r.reason;
    }
    return { NodeNames: pass, FailedNodes: failed, Error: '' };
  }

  prioritize(args: ExtenderArgs): HostPriority[] {
    const { pod, names } = parseArgs(args);
    const copies = new Map<string, number>();
    for (const name of names) {
      const node = this.nodes.get(name);
      const s = node ? this.freshSummary(name) : undefined;
      copies.set(name, s ? fitInCluster(pod, s, node!.metadata.labels ?? {}).copies : 0);
    }
    const sc = scores(copies);
    return names.map((host) => ({ Host: host, Score: sc.get(host) ?? 0 }));
  }

  app(): express.Express {
    const app = express();
    app.use(express.json({ limit: '20mb' }));
    app.post('/filter', (req, res) => {
      try {
        res.json(this.filter(req.body as ExtenderArgs));
      } catch (e) {
        this.o.log.warn({ err: (e as Error).message }, 'filter failed');
        res.json({ NodeNames: null, FailedNodes: {}, Error: `fedlet extender: ${(e as Error).message}` });
      }
    });
    app.post('/prioritize', (req, res) => {
      try {
        res.json(this.prioritize(req.body as ExtenderArgs));
      } catch (e) {
        this.o.log.warn({ err: (e as Error).message }, 'prioritize failed');
        res.json([]);
      }
    });
    const metrics = this.o.metrics;
    if (metrics) app.get('/metrics', async (_req, res) => void res.type(metrics.contentType).send(await metrics.metrics()));
    app.get('/healthz', (_req, res) => void res.send(this.nodes.hasSynced && this.summaries.hasSynced ? 'ok' : 'syncing'));
    return app;
  }

  /** Starts the watches of virtual Nodes, summaries and node Leases; resolves once all are listed. */
  async startCaches(): Promise<void> {
    this.nodes.start();
    this.summaries.start();
    this.leases.start();
    this.claims.start();
    await Promise.all([
      this.nodes.waitForSync(),
      this.summaries.waitForSync(),
      this.leases.waitForSync(),
      this.claims.waitForSync(),
    ]);
  }

  async start(port: number, host = '0.0.0.0'): Promise<void> {
    await this.startCaches();
    await new Promise<void>((resolve, reject) => {
      this.server = this.app().listen(port, host, () => resolve());
      this.server.once('error', reject);
    });
    this.o.log.info({ port }, 'scheduler extender listening');
  }

  async stop(): Promise<void> {
    await Promise.all([this.nodes.stop(), this.summaries.stop(), this.leases.stop(), this.claims.stop()]);
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
