// fedlet's kubelet API: HTTPS (TLS 1.2+), kubelet-style authn/authz on every request, plain routes on
// node:http and streaming upgrades (exec/attach/portForward) relayed to the provider.
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { StreamProvider } from '../provider.js';
import type { FedletMetrics } from '../metrics.js';
import type { KubeletAuth } from './auth.js';
import type { Pod } from '../kube/types.js';
import { handleLogs } from './logs.js';
import { handleStreamUpgrade, isStreamPath } from './streams.js';
import { sendError, sendJson, sendText, writeHttpError } from './http-errors.js';

export interface KubeletServerOptions {
  port: number;
  host?: string;
  tls: { cert: string; key: string; clientCA?: string };
  auth: KubeletAuth;
  /** The stream side of the provider only: logs, exec/attach/port-forward, stats. */
  provider: StreamProvider;
  pods: () => Pod[];
  metrics: FedletMetrics;
  /** Why exec/attach/port-forward are refused right now (e.g. not the leader), or undefined. */
  mutationsRefusedBecause?: () => string | undefined;
  log: Logger;
}

export class KubeletServer {
  private server?: https.Server;

  constructor(private readonly o: KubeletServerOptions) {}

  /**
   * Plain routes. node:http and a switch instead of express: express and its dependencies cost several
   * MiB of heap and code at rest, for six GET routes (docs/benchmarks.md, memory).
   */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const o = this.o;
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const r = await o.auth.check(req);
    if (!r.ok) {
      o.metrics.kubeletRequests.inc({ path: pathKind(path), code: String(r.status) });
      if (r.detail) o.log.warn({ err: r.detail, path }, 'kubelet API request not authenticated or authorized');
      if (r.status === 429) res.setHeader('Retry-After', '1');
      return sendText(res, r.status, `${r.message}\n`);
    }
    res.on('finish', () => o.metrics.kubeletRequests.inc({ path: pathKind(path), code: String(res.statusCode) }));
    try {
      await this.route(req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET'), path, url.searchParams, res);
    } catch (e) {
      if (!res.headersSent) sendError(res, e);
      else res.destroy();
    }
  }

  private async route(method: string, path: string, query: URLSearchParams, res: ServerResponse): Promise<void> {
    const o = this.o;
    if (/^\/(exec|attach|portForward|run)\//.test(path))
      return sendText(res, 400, 'this endpoint needs a streaming upgrade (SPDY/3.1)\n');
    const logs = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)\/?$/.exec(path);
    if (method === 'GET' && logs) {
      const [ns, pod, container] = logs.slice(1).map((x) => decodeURIComponent(x)) as [string, string, string];
      return handleLogs(o.provider, { ns, pod, container }, Object.fromEntries(query), res, o.log);
    }
    switch (method === 'GET' ? path : '') {
      case '/healthz':
        return sendText(res, 200, 'ok');
      case '/pods':
        return sendJson(res, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: o.pods() });
      case '/runningpods':
      case '/runningpods/':
        return sendJson(res, {
          kind: 'PodList',
          apiVersion: 'v1',
          metadata: {},
          items: o.pods().filter((p) => p.status?.phase === 'Running'),
        });
      case '/stats/summary':
        return sendJson(res, await o.provider.statsSummary());
      case '/metrics/resource':
        return sendText(res, 200, await o.provider.resourceMetrics(), 'text/plain; version=0.0.4');
      case '/metrics':
        return sendText(res, 200, await o.metrics.registry.metrics(), o.metrics.registry.contentType);
      default:
        return sendText(res, 404, `404 page not found: ${path}\n`);
    }
  }

  async start(): Promise<void> {
    const o = this.o;
    const server = https.createServer(
      {
        cert: o.tls.cert,
        key: o.tls.key,
        ca: o.tls.clientCA,
        requestCert: true,
        rejectUnauthorized: false, // unauthenticated TLS clients may still present a bearer token
        minVersion: 'TLSv1.2',
      },
      // Whatever a request makes throw ends that request, never the process (an unhandled rejection would).
      (req, res) =>
        void this.handle(req, res).catch((e: Error) => {
          o.log.error({ err: e.message, path: req.url }, 'kubelet API request failed');
          if (!res.headersSent) sendText(res, 500, 'Internal Server Error\n');
          else res.destroy();
        }),
    );
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      void this.onUpgrade(req, socket, head).catch((e: Error) => {
        o.log.error({ err: e.message, path: req.url }, 'kubelet API stream request failed');
        socket.destroy();
      });
    });
    server.on('clientError', (_e, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host ?? '0.0.0.0', () => resolve());
    });
    this.server = server;
    o.log.info({ port: o.port }, 'kubelet API listening');
  }

  /** Replaces the serving certificate (renewal); established connections keep their session. */
  setCertificate(cert: string, key: string): void {
    this.o.tls = { ...this.o.tls, cert, key };
    this.server?.setSecureContext({ cert, key, ca: this.o.tls.clientCA });
  }

  /** Trusts a new client CA bundle (the upper cluster rotated its CA) for new connections. */
  setClientCA(clientCA: string): void {
    this.o.tls = { ...this.o.tls, clientCA };
    this.server?.setSecureContext({ cert: this.o.tls.cert, key: this.o.tls.key, ca: clientCA });
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const o = this.o;
    socket.on('error', () => socket.destroy());
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (!isStreamPath(path)) return writeHttpError(socket, 404, `404 page not found: ${path}`);
    const r = await o.auth.check(req);
    if (!r.ok) {
      o.metrics.kubeletRequests.inc({ path: pathKind(path), code: String(r.status) });
      if (r.detail) o.log.warn({ err: r.detail, path }, 'kubelet API request not authenticated or authorized');
      return writeHttpError(socket, r.status, r.message);
    }
    const refused = o.mutationsRefusedBecause?.();
    if (refused) {
      o.metrics.kubeletRequests.inc({ path: pathKind(path), code: '503' });
      return writeHttpError(socket, 503, `fedlet cannot open streams on this node right now: ${refused}; retry shortly`);
    }
    await handleStreamUpgrade(o.provider, req, socket, head, o.metrics, o.log);
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections?.();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

function pathKind(p: string): string {
  return p.split('/')[1] || 'root';
}
