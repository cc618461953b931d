// Relays logs and streaming sessions to the lower API server's pods/{log,exec,attach,portforward}
// for the lower pod behind an upper pod. Streaming upgrades are passed through untouched (the bytes,
// compression, exit codes and port-forward pairing stay end-to-end between the two API servers).
import { Readable } from 'node:stream';
import { buildQuery, type KubeClient } from '../../src/kube/client.js';
import type { LogOptions, LogStream, StreamKind, StreamParams, UpgradeOutcome } from '../../src/provider.js';
import { apiPath } from '../../src/kube/api-path.js';
import { upgradeRequest } from '../../src/kube/upgrade-request.js';
import { bodySource, framingOf } from '../../src/kube/http-body.js';

export interface LowerTarget {
  namespace: string;
  name: string;
}

export async function lowerLogs(
  client: KubeClient,
  t: LowerTarget,
  container: string,
  o: LogOptions,
  signal: AbortSignal,
): Promise<LogStream> {
  const q = buildQuery({
    container,
    follow: o.follow || undefined,
    previous: o.previous || undefined,
    timestamps: o.timestamps || undefined,
    sinceSeconds: o.sinceSeconds,
    sinceTime: o.sinceTime,
    tailLines: o.tailLines,
    limitBytes: o.limitBytes,
  });
  const ro = await client.httpOptions('GET', `${apiPath`/api/v1/namespaces/${t.namespace}/pods/${t.name}/log`}${q}`);
  // A connection of this request's own, read into a reused buffer and its body decoded in place (see
  // upgradeRequest, bodySource): a followed log is a long-lived stream, never worth a pooled connection.
  ro.headers = { ...ro.headers, Accept: '*/*', Connection: 'close' };
  const r = await upgradeRequest(ro, client.server.protocol !== 'http:', signal, true);
  if (r.kind !== 'upgraded')
    return { status: r.status, contentType: headerValue(r.rawHeaders, 'content-type'), body: Readable.from([r.body]) };
  const socket = r.socket;
  const onAbort = () => socket.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  socket.once('close', () => signal.removeEventListener('abort', onAbort));
  const source = bodySource(r.head, r.source, framingOf(r.rawHeaders), () => socket.destroy());
  return {
    status: r.status,
    contentType: headerValue(r.rawHeaders, 'content-type'),
    body: socket,
    // Once the body is complete the connection has served its purpose.
    source: (sink, end) => source(sink, () => (end?.(), socket.destroy())),
  };
}

export function streamQuery(kind: StreamKind, p: StreamParams): string {
  if (kind === 'portforward') return '';
  const params = new URLSearchParams();
  if (kind === 'exec') for (const c of p.command) params.append('command', c);
  if (p.container) params.append('container', p.container);
  if (p.stdin) params.append('stdin', 'true');
  if (p.stdout) params.append('stdout', 'true');
  if (p.stderr) params.append('stderr', 'true');
  if (p.tty) params.append('tty', 'true');
  const s = params.toString();
  return s ? `?${s}` : '';
}

export async function lowerUpgrade(
  client: KubeClient,
  kind: StreamKind,
  t: LowerTarget,
  p: StreamParams,
  upgrade: string,
  protocols: string[],
  signal: AbortSignal,
): Promise<UpgradeOutcome> {
  const ro = await client.httpOptions(
    'POST',
    `${apiPath`/api/v1/namespaces/${t.namespace}/pods/${t.name}/${kind}`}${streamQuery(kind, p)}`,
  );
  const headers: Record<string, string | string[] | number> = {
    ...(ro.headers as Record<string, string>),
    Connection: 'Upgrade',
    Upgrade: upgrade,
    'X-Stream-Protocol-Version': protocols,
  };
  delete headers.Accept; // the connect endpoints answer 406 to Accept: application/json
  ro.headers = headers;
  // A fresh connection per session (an upgraded socket never goes back to a keep-alive pool), read into
  // a reused buffer (see upgradeRequest).
  const r = await upgradeRequest(ro, client.server.protocol !== 'http:', signal);
  if (r.kind === 'upgraded') return r;
  return { kind: 'rejected', status: r.status, contentType: headerValue(r.rawHeaders, 'content-type'), body: r.body };
}

function headerValue(rawHeaders: string[], name: string): string | undefined {
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) return rawHeaders[i + 1];
  return undefined;
}
