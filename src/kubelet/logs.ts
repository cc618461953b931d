// GET /containerLogs/{ns}/{pod}/{container}: kubelet query → lower pods/log, streamed and flushed as it
// arrives; a client that goes away aborts the lower request.
import type { ServerResponse } from 'node:http';
import { splice } from '../util/splice.js';
import type { Logger } from 'pino';
import type { LogOptions, StreamProvider } from '../provider.js';
import { InvalidInputError } from '../errors.js';
import { sendError } from './http-errors.js';

/** Query parameters, the first value of each. */
export type Query = Record<string, string | undefined>;

function intParam(q: Query, name: string, min: number): number | undefined {
  const v = q[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new InvalidInputError(`invalid ${name} "${String(v)}": expected a whole number ≥ ${min}`);
  return n;
}
const boolParam = (q: Query, name: string) => q[name] === 'true' || q[name] === '1';

export function logOptions(q: Query): LogOptions {
  const o: LogOptions = {
    follow: boolParam(q, 'follow'),
    previous: boolParam(q, 'previous'),
    timestamps: boolParam(q, 'timestamps'),
    sinceSeconds: intParam(q, 'sinceSeconds', 1),
    tailLines: intParam(q, 'tailLines', 0),
    limitBytes: intParam(q, 'limitBytes', 1),
  };
  if (typeof q.sinceTime === 'string' && q.sinceTime) {
    if (Number.isNaN(Date.parse(q.sinceTime)))
      throw new InvalidInputError(`invalid sinceTime "${q.sinceTime}": expected RFC3339`);
    o.sinceTime = q.sinceTime;
  }
  return o;
}

export async function handleLogs(
  provider: StreamProvider,
  target: { ns: string; pod: string; container: string },
  query: Query,
  res: ServerResponse,
  log: Logger,
): Promise<void> {
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  try {
    const { ns, pod, container } = target;
    const out = await provider.podLogs(ns, pod, container, logOptions(query), abort.signal);
    res.statusCode = out.status;
    res.setHeader('Content-Type', out.contentType ?? 'text/plain');
    res.setHeader('Cache-Control', 'no-cache');
    res.flushHeaders();
    // With backpressure: a slow reader of a large log must not make fedlet buffer all of it.
    splice(out.body, res, { source: out.source });
    out.body.on('error', () => res.destroy());
    out.body.on('aborted', () => res.destroy());
    // A body read from a source ends the response only once complete: a connection closed before is a
    // truncated log, and the client must see it cut, not a clean end.
    if (out.source) out.body.on('close', () => void (res.writableEnded || res.destroy()));
  } catch (e) {
    log.debug({ err: (e as Error).message }, 'containerLogs failed');
    if (!res.headersSent) sendError(res, e);
    else res.destroy();
  }
}
