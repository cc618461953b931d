// Mutating admission webhook (served by `fedlet extender` over HTTPS): virtual nodes carry the taint
// fedlet.io/virtual-node=true:NoSchedule so that DaemonSets do not place a pod on them (a whole
// cluster is not a node a DaemonSet means); every pod NOT owned by a DaemonSet gets the matching
// toleration here, so plain workloads keep landing on virtual nodes unchanged. failurePolicy Ignore:
// when the webhook is down or times out, pods are created without the toleration; toleration-repair.ts
// adds it afterwards to those not yet scheduled.
import https from 'node:https';
import { readFileSync } from 'node:fs';
import express from 'express';
import type { Logger } from 'pino';
import type { Pod, Toleration } from '../src/kube/types.js';
import { TAINT_VIRTUAL_NODE } from '../src/labels.js';
import { tolerates } from './fit.js';
import { WEBHOOK_PATH } from '../src/scheduling/webhook.js';

/** The taint fedlet puts on virtual nodes by default (see config virtualNodeTaint). */
export const VIRTUAL_NODE_TAINT = { key: TAINT_VIRTUAL_NODE, value: 'true', effect: 'NoSchedule' as const };
export const VIRTUAL_NODE_TOLERATION: Toleration = {
  key: TAINT_VIRTUAL_NODE,
  operator: 'Equal',
  value: 'true',
  effect: 'NoSchedule',
};

interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  operation?: string;
  object?: Pod;
}
export interface AdmissionReview {
  apiVersion?: string;
  kind?: string;
  request?: AdmissionRequest;
}
export interface JsonPatchOp {
  op: 'add';
  path: string;
  value: unknown;
}

export class AdmissionInputError extends Error {}

/** JSON patch adding the virtual-node toleration, or undefined when the pod must not get it. */
export function tolerationPatch(pod: Pod): JsonPatchOp[] | undefined {
  if (pod.metadata?.ownerReferences?.some((o) => o.kind === 'DaemonSet' && o.controller)) return undefined;
  const existing = pod.spec?.tolerations;
  if (tolerates(existing, VIRTUAL_NODE_TAINT)) return undefined;
  return existing
    ? [{ op: 'add', path: '/spec/tolerations/-', value: VIRTUAL_NODE_TOLERATION }]
    : [{ op: 'add', path: '/spec/tolerations', value: [VIRTUAL_NODE_TOLERATION] }];
}

/** Answers an AdmissionReview: always allowed; pods (create) get the toleration patch when due. */
export function review(body: AdmissionReview): AdmissionReview & { response: Record<string, unknown> } {
  const req = body?.request;
  if (!req?.uid) throw new AdmissionInputError('AdmissionReview without request.uid');
  const response: Record<string, unknown> = { uid: req.uid, allowed: true };
  const isPod = req.kind?.kind === 'Pod' && (req.kind.group ?? '') === '';
  const patch = isPod && req.operation === 'CREATE' && req.object?.spec ? tolerationPatch(req.object) : undefined;
  if (patch) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(patch)).toString('base64');
  }
  return { apiVersion: body.apiVersion ?? 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

export interface AdmissionWebhookOptions {
  certFile: string;
  keyFile: string;
  log: Logger;
}

export class AdmissionWebhook {
  private server?: https.Server;

  constructor(private readonly o: AdmissionWebhookOptions) {}

  app(): express.Express {
    const app = express();
    app.disable('x-powered-by');
    // An AdmissionReview of one pod: the API server itself accepts no request over 3 MiB.
    app.use(express.json({ limit: '3mb' }));
    app.post(WEBHOOK_PATH, (req, res) => {
      try {
        res.json(review(req.body as AdmissionReview));
      } catch (e) {
        this.o.log.warn({ err: (e as Error).message }, 'admission review failed');
        res
          .status(400)
          .type('text/plain')
          .send(`${(e as Error).message}\n`);
      }
    });
    app.get('/healthz', (_req, res) => void res.send('ok'));
    return app;
  }

  async start(port: number, host = '0.0.0.0'): Promise<void> {
    const server = https.createServer({ cert: readFileSync(this.o.certFile), key: readFileSync(this.o.keyFile) }, this.app());
    server.headersTimeout = 5_000;
    server.requestTimeout = 15_000; // above the webhook's timeoutSeconds (10)
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.o.log.info({ port }, 'admission webhook listening (HTTPS)');
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
