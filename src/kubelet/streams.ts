// exec / attach / portForward: the upper API server upgrades to SPDY/3.1 against us; we open the same
// upgrade against the lower API server (through the provider), answer with its 101 and headers, and
// splice the two sockets. Everything inside the stream (SPDY framing and compression, channels,
// resize, exit status, port-forward stream pairs) stays end-to-end.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { StreamKind, StreamParams, StreamProvider } from '../provider.js';
import type { FedletMetrics } from '../metrics.js';
import { errorStatus, writeHttpError } from './http-errors.js';
import { relay } from '../util/splice.js';
import { adoptReadBuffer } from '../util/socket-read.js';

/**
 * One read buffer for every upper stream socket (see adoptReadBuffer): each read is copied on before its
 * callback returns, and no two callbacks overlap.
 */
let sharedClientReadBuffer: Buffer | undefined;
const clientReadBuffer = () => (sharedClientReadBuffer ??= Buffer.allocUnsafeSlow(64 * 1024));

const pattern = /^\/(exec|attach|portForward)\/([^/]+)\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/;

export function isStreamPath(path: string): boolean {
  return pattern.test(path);
}

export interface ParsedStream {
  kind: StreamKind;
  namespace: string;
  pod: string;
  params: StreamParams;
}

/** Parses the kubelet's streaming paths: 3- and 4-segment forms (with the pod UID). */
export function parseStreamRequest(url: string): ParsedStream | undefined {
  const u = new URL(url, 'http://x');
  const m = pattern.exec(u.pathname);
  if (!m) return undefined;
  const [, k, ns, pod, a, b] = m as unknown as [string, string, string, string, string | undefined, string | undefined];
  const kind: StreamKind = k === 'portForward' ? 'portforward' : (k as StreamKind);
  const flag = (n: string) => ['1', 'true'].includes(u.searchParams.get(n) ?? '');
  // exec/attach: /{ns}/{pod}/{container} or /{ns}/{pod}/{uid}/{container}; portForward: /{ns}/{pod}[/{uid}]
  const container = kind === 'portforward' ? undefined : (b ?? a);
  if (kind !== 'portforward' && !container) return undefined;
  return {
    kind,
    namespace: decodeURIComponent(ns),
    pod: decodeURIComponent(pod),
    params: {
      container: container ? decodeURIComponent(container) : undefined,
      command: u.searchParams.getAll('command'),
      stdin: flag('input'),
      stdout: flag('output'),
      stderr: flag('error'),
      tty: flag('tty'),
    },
  };
}

function headerValues(req: IncomingMessage, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    if (req.rawHeaders[i]!.toLowerCase() === name)
      out.push(
        ...req.rawHeaders[i + 1]!.split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      );
  return out;
}

export async function handleStreamUpgrade(
  provider: StreamProvider,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  metrics: FedletMetrics,
  log: Logger,
): Promise<void> {
  const parsed = parseStreamRequest(req.url ?? '/');
  if (!parsed) return writeHttpError(client, 400, `malformed streaming path ${req.url}`);
  const { kind } = parsed;
  const abort = new AbortController();
  const onEarlyClose = () => abort.abort();
  client.once('close', onEarlyClose);
  let outcome;
  try {
    outcome = await provider.openPodStream(
      kind,
      parsed.namespace,
      parsed.pod,
      parsed.params,
      String(req.headers.upgrade ?? 'SPDY/3.1'),
      headerValues(req, 'x-stream-protocol-version'),
      abort.signal,
    );
  } catch (e) {
    metrics.relaySessions.inc({ kind, outcome: 'error' });
    log.debug({ err: (e as Error).message, kind }, 'stream relay failed');
    return writeHttpError(client, errorStatus(e), (e as Error).message);
  } finally {
    client.off('close', onEarlyClose);
  }
  if (outcome.kind === 'rejected') {
    metrics.relaySessions.inc({ kind, outcome: 'rejected' });
    const reason = outcome.status >= 500 ? 'Error' : 'Rejected';
    client.end(
      Buffer.concat([
        Buffer.from(
          `HTTP/1.1 ${outcome.status} ${reason}\r\nContent-Type: ${outcome.contentType ?? 'text/plain'}\r\nContent-Length: ${outcome.body.length}\r\nConnection: close\r\n\r\n`,
        ),
        outcome.body,
      ]),
    );
    return;
  }
  const lower = outcome.socket;
  if (client.destroyed) {
    lower.destroy();
    return;
  }
  metrics.relaySessions.inc({ kind, outcome: 'upgraded' });
  metrics.relayActive.inc({ kind });
  let lines = 'HTTP/1.1 101 Switching Protocols\r\n';
  for (let i = 0; i < outcome.rawHeaders.length; i += 2) lines += `${outcome.rawHeaders[i]}: ${outcome.rawHeaders[i + 1]}\r\n`;
  client.write(`${lines}\r\n`);
  if (outcome.head.length) client.write(outcome.head);
  if (head.length) lower.write(head);
  const toClient = coarseCounter(metrics.relayBytes.labels({ kind, direction: 'to_client' }));
  const toLower = coarseCounter(metrics.relayBytes.labels({ kind, direction: 'to_lower' }));
  relay(client, lower, {
    onBytesAtoB: toLower.add,
    onBytesBtoA: toClient.add,
    sourceA: adoptReadBuffer(client, clientReadBuffer()),
    sourceB: outcome.source,
    onClosed: () => {
      toClient.flush();
      toLower.flush();
      metrics.relayActive.dec({ kind });
    },
  });
}

/**
 * A byte counter updated per MiB and at the end of the session rather than per write: an update costs
 * about as much as relaying a small write (2.5% of fedlet's relay CPU in a profile when done per write).
 */
function coarseCounter(c: { inc(n: number): void }): { add: (n: number) => void; flush: () => void } {
  let pending = 0;
  const flush = () => {
    if (pending) c.inc(pending);
    pending = 0;
  };
  return {
    add: (n) => {
      pending += n;
      if (pending >= 1 << 20) flush();
    },
    flush,
  };
}
