// fedlet's kubelet API: HTTPS (TLS 1.2+), kubelet-style authn/authz on every request, plain routes via
// express and streaming upgrades (exec/attach/portForward) relayed to the provider.
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import express, { type Request, type Response, type NextFunction } from 'express';
import type { Logger } from 'pino';
import type { StreamProvider } from '../provider.js';
import type { FedletMetrics } from '../metrics.js';
import type { KubeletAuth } from './auth.js';
import type { Pod } from '../kube/types.js';
import { handleLogs } from './logs.js';
import { handleStreamUpgrade, isStreamPath } from './streams.js';
import { sendError, writeHttpError } from './http-errors.js';

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

  app(): express.Express {
    const o = this.o;
    const app = express();
    app.disable('x-powered-by');
    app.use(async (req: Request, res: Response, next: NextFunction) => {
      const r = await o.auth.check(req);
      if (!r.ok) {
        o.metrics.kubeletRequests.inc({ path: pathKind(req.path), code: String(r.status) });
        if (r.detail) o.log.warn({ err: r.detail, path: req.path }, 'kubelet API request not authenticated or authorized');
        if (r.status === 429) res.setHeader('Retry-After', '1');
        res.status(r.status).type('text/plain').send(`${r.message}\n`);
        return;
      }
      res.on('finish', () => o.metrics.kubeletRequests.inc({ path: pathKind(req.path), code: String(res.statusCode) }));
      next();
    });
    app.get('/healthz', (_req, res) => void res.type('text/plain').send('ok'));
    app.get('/pods', (_req, res) => void res.json({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: o.pods() }));
    app.get(
      ['/runningpods', '/runningpods/'],
      (_req, res) =>
        void res.json({
          kind: 'PodList',
          apiVersion: 'v1',
          metadata: {},
          items: o.pods().filter((p) => p.status?.phase === 'Running'),
        }),
    );
    app.get('/containerLogs/:ns/:pod/:container', (req, res) => void handleLogs(o.provider, req, res, o.log));
    app.get('/stats/summary', async (_req, res) => {
      try {
        res.json(await o.provider.statsSummary());
      } catch (e) {
        sendError(res, e);
      }
    });
    app.get('/metrics/resource', async (_req, res) => {
      try {
        res.type('text/plain; version=0.0.4').send(await o.provider.resourceMetrics());
      } catch (e) {
        sendError(res, e);
      }
    });
    app.get('/metrics', async (_req, res) => {
      res.type(o.metrics.registry.contentType).send(await o.metrics.registry.metrics());
    });
    app.all(
      /^\/(exec|attach|portForward|run)\//,
      (_req, res) => void res.status(400).type('text/plain').send('this endpoint needs a streaming upgrade (SPDY/3.1)\n'),
    );
    app.use((req, res) => void res.status(404).type('text/plain').send(`404 page not found: ${req.path}\n`));
    return app;
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
      this.app(),
    );
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      void this.onUpgrade(req, socket, head);
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
