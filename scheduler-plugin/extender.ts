// The scheduler extender — an HTTP service, not a scheduling-framework plugin, whatever the folder is
// called: kube-scheduler (unmodified, configured with `extenders:`) calls /filter and /prioritize with
// node names (nodeCacheCapable). Virtual nodes pass only if a single lower node fits the pod; other
// nodes always pass. Summaries come from fedlet (src/scheduling/summary.ts) and are trusted only while
// the node's Lease is fresh.
//
// Every scheduling cycle waits on it, and whoever can call it learns where pods fit: it serves HTTPS and
// accepts only clients with a certificate from its client CA (kube-scheduler's extenders[].tlsConfig),
// optionally only some names; bodies are limited to 1 MiB (node names, not Node objects:
// nodeCacheCapable) and a request must arrive within seconds. /metrics sits behind the same
// authentication; the probes' /healthz has a plain port of its own, bound to localhost or the pod IP.
import express from 'express';
import type { Logger } from 'pino';
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { Counter, type Registry } from 'prom-client';
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

/** Largest /filter or /prioritize body accepted (the pod and node names; Node objects are not sent). */
export const EXTENDER_BODY_LIMIT = '1mb';

export interface ExtenderServing {
  port: number;
  host?: string;
  /** Serving certificate and key, and the CA whose client certificates are accepted (PEM). */
  tls: { cert: string; key: string; clientCA: string };
  /** Common names of client certificates allowed to call (empty: any the client CA signed). */
  allowedClientNames?: string[];
  /** Plain-HTTP /healthz for probes (undefined: none; 0: any free port). */
  healthPort?: number;
  healthHost?: string;
}

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
  private server?: https.Server;
  private health?: http.Server;
  /** Calls answered, by verb and status: shows kube-scheduler reaches the extender (TLS included). */
  private readonly calls?: Counter;

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
    if (o.metrics)
      this.calls = new Counter({
        name: 'fedlet_extender_requests_total',
        help: 'Requests the scheduler extender answered, by verb (filter, prioritize, metrics) and HTTP status',
        labelNames: ['verb', 'code'],
        registers: [o.metrics],
      });
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

  /** The routes; `allowedClientNames` is checked against the TLS client certificate when set. */
  app(allowedClientNames: string[] = []): express.Express {
    const app = express();
    app.disable('x-powered-by');
    if (allowedClientNames.length)
      app.use((req, res, next) => {
        const cn = (req.socket as TLSSocket).getPeerCertificate?.()?.subject?.CN;
        const name = Array.isArray(cn) ? cn[0] : cn;
        if (name && allowedClientNames.includes(name)) return next();
        this.o.log.warn({ client: name ?? '(none)' }, 'extender call from a client certificate not allowed');
        res
          .status(403)
          .type('text/plain')
          .send(`Forbidden: client certificate "${name ?? ''}" is not one of the allowed extender clients\n`);
      });
    app.use((req, res, next) => {
      const verb = ['/filter', '/prioritize', '/metrics', '/healthz'].includes(req.path) ? req.path.slice(1) : 'other';
      res.on('finish', () => this.calls?.inc({ verb, code: String(res.statusCode) }));
      next();
    });
    app.use(express.json({ limit: EXTENDER_BODY_LIMIT }));
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
    app.get('/healthz', (_req, res) => void res.send(this.healthz()));
    // A body over the limit or not JSON: the scheduler gets a clear error, not a stack trace.
    app.use(
      (
        err: Error & { status?: number; type?: string },
        _req: express.Request,
        res: express.Response,
        next: express.NextFunction,
      ) => {
        if (!err.status) return next(err);
        this.o.log.warn({ err: err.message }, 'extender request refused');
        res
          .status(err.status)
          .type('text/plain')
          .send(err.type === 'entity.too.large' ? `request body over ${EXTENDER_BODY_LIMIT}\n` : 'malformed request body\n');
      },
    );
    return app;
  }

  private healthz(): string {
    return this.nodes.hasSynced && this.summaries.hasSynced ? 'ok' : 'syncing';
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

  async start(o: ExtenderServing): Promise<void> {
    await this.startCaches();
    const server = https.createServer(
      {
        cert: o.tls.cert,
        key: o.tls.key,
        ca: o.tls.clientCA,
        requestCert: true,
        rejectUnauthorized: true, // no client certificate from the client CA: no TLS session at all
        minVersion: 'TLSv1.2',
      },
      this.app(o.allowedClientNames),
    );
    // kube-scheduler sends a request at once and waits httpTimeout for the answer: a slow sender is not it.
    server.headersTimeout = 5_000;
    server.requestTimeout = 10_000;
    server.on('clientError', (_e, socket) => socket.destroy());
    this.server = server;
    await listen(server, o.port, o.host ?? '0.0.0.0');
    if (o.healthPort !== undefined) {
      const health = http.createServer((req, res) => {
        const ok = req.url === '/healthz' && this.healthz() === 'ok';
        res.writeHead(req.url === '/healthz' ? (ok ? 200 : 503) : 404, { 'Content-Type': 'text/plain' });
        res.end(req.url === '/healthz' ? `${this.healthz()}\n` : 'not found\n');
      });
      health.headersTimeout = 5_000;
      health.requestTimeout = 10_000;
      this.health = health;
      await listen(health, o.healthPort, o.healthHost ?? '127.0.0.1');
    }
    this.o.log.info(
      { port: o.port, healthPort: o.healthPort, allowedClientNames: o.allowedClientNames },
      'scheduler extender listening (HTTPS, client certificates required)',
    );
  }

  /** The ports listened on (after start): the HTTPS one and the health one (0 when none). */
  ports(): { https: number; health: number } {
    const port = (srv?: http.Server | https.Server) => {
      const a = srv?.address();
      return a && typeof a === 'object' ? a.port : 0;
    };
    return { https: port(this.server), health: port(this.health) };
  }

  async stop(): Promise<void> {
    await Promise.all([this.nodes.stop(), this.summaries.stop(), this.leases.stop(), this.claims.stop()]);
    for (const s of [this.server, this.health]) await new Promise<void>((r) => (s ? s.close(() => r()) : r()));
  }
}

function listen(server: http.Server | https.Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(`the extender cannot listen on ${host}:${port} (${e.code ?? e.message})`)),
    );
    server.listen(port, host, () => resolve());
  });
}
