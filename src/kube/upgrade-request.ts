// An HTTP/1.1 Upgrade request (SPDY/WebSocket streams to an API server) on a socket of its own that reads
// with `onread` into one reused buffer: relaying a stream then allocates nothing per read, which is most
// of what a relayed MiB costs in Node beyond TLS itself. Node's HTTP client cannot be used for this (with
// `onread` a socket emits no 'data', so its response parser would never see the answer): the request is
// written and the response head parsed here. A refusal (any status but 101) is read to its end and
// returned with its body.
import net from 'node:net';
import tls from 'node:tls';
import type https from 'node:https';
import type { Socket } from 'node:net';
import type { ByteSource } from '../util/splice.js';

/** The reused read buffer's size: a TLS socket hands over at most one record (16 KiB) per read anyway. */
const READ_BUFFER = 64 * 1024;
/**
 * One read buffer for every upgraded socket of the process: each read is handed on (copied) before its
 * callback returns, and no two callbacks overlap, so sessions need none of their own.
 */
let sharedReadBuffer: Buffer | undefined;

/** A response head larger than this is refused (an API server's is well under 1 KiB). */
const MAX_HEAD = 64 * 1024;

export type UpgradeResponse =
  | { kind: 'upgraded'; status: number; rawHeaders: string[]; socket: Socket; head: Buffer; source: ByteSource }
  | { kind: 'rejected'; status: number; rawHeaders: string[]; body: Buffer };

function requestHead(ro: https.RequestOptions, host: string): string {
  let s = `${ro.method ?? 'GET'} ${ro.path ?? '/'} HTTP/1.1\r\nHost: ${host}\r\n`;
  for (const [k, v] of Object.entries(ro.headers ?? {})) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) {
      // Written by hand, so checked by hand: a line break would let a value add headers of its own.
      if (/[\r\n]/.test(`${k}${String(one)}`)) throw new Error(`header ${k}: line break in its value`);
      s += `${k}: ${String(one)}\r\n`;
    }
  }
  return `${s}Content-Length: 0\r\n\r\n`;
}

function parseHead(text: string): { status: number; rawHeaders: string[] } {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) throw new Error(`malformed response: ${JSON.stringify((lines[0] ?? '').slice(0, 100))}`);
  const rawHeaders: string[] = [];
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) rawHeaders.push(l.slice(0, i).trim(), l.slice(i + 1).trim());
  }
  return { status: Number(m[1]), rawHeaders };
}

function header(rawHeaders: string[], name: string): string | undefined {
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) return rawHeaders[i + 1];
  return undefined;
}

/** Decodes a complete chunked body, or returns undefined while it is incomplete. */
export function decodeChunked(b: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let off = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', off);
    if (eol < 0) return undefined;
    const n = parseInt(b.toString('latin1', off, eol).split(';')[0]!, 16);
    if (!Number.isFinite(n)) throw new Error('malformed chunked body');
    if (n === 0) return Buffer.concat(parts);
    if (b.length < eol + 2 + n + 2) return undefined;
    parts.push(b.subarray(eol + 2, eol + 2 + n));
    off = eol + 2 + n + 2;
  }
}

/**
 * Sends `ro` (from KubeClient.httpOptions, with the Upgrade headers set) on a new connection and resolves
 * with the upgraded socket, or with the refusal. With `anyStatus`, every response resolves as 'upgraded'
 * once its head is read, its body still to be read from the socket (a streamed response such as logs;
 * send `Connection: close` then, the socket serves this one request).
 */
export function upgradeRequest(
  ro: https.RequestOptions,
  secure: boolean,
  signal: AbortSignal,
  anyStatus = false,
): Promise<UpgradeResponse> {
  const host = String(ro.hostname ?? 'localhost');
  const port = Number(ro.port ?? (secure ? 443 : 80));
  const hostHeader = port === (secure ? 443 : 80) ? host : `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  let requestBytes: string;
  try {
    requestBytes = requestHead(ro, hostHeader);
  } catch (e) {
    return Promise.reject(e as Error);
  }
  const readBuffer = (sharedReadBuffer ??= Buffer.allocUnsafeSlow(READ_BUFFER));
  // Until the head is parsed, bytes collect here; then in `early` until the relay takes over the source.
  let pre: Buffer[] = [];
  let sink: ((chunk: Buffer) => void) | undefined;
  let early: Buffer[] = [];
  let onHeadBytes: (chunk: Buffer) => void = () => undefined;
  let upgraded = false;
  const onread: net.OnReadOpts = {
    buffer: readBuffer,
    callback: (n: number) => {
      const chunk = readBuffer.subarray(0, n);
      if (sink) sink(chunk);
      else if (upgraded) early.push(Buffer.from(chunk));
      else onHeadBytes(Buffer.from(chunk));
      return true;
    },
  };
  const servername = ro.servername ?? (net.isIP(host) ? undefined : host);
  const socket: Socket = secure
    ? tls.connect(<tls.ConnectionOptions & { onread: net.OnReadOpts }>{
        host,
        port,
        ca: ro.ca,
        cert: ro.cert,
        key: ro.key,
        servername,
        rejectUnauthorized: ro.rejectUnauthorized ?? true,
        onread,
      })
    : net.connect({ host, port, onread });
  return new Promise((resolve, reject) => {
    const fail = (e: Error) => {
      socket.destroy();
      reject(new Error(`lower API server: ${e.message}`));
    };
    const onAbort = () => fail(new Error('client went away'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once(secure ? 'secureConnect' : 'connect', () => socket.write(requestBytes));
    socket.on('error', fail);
    let refused: { status: number; rawHeaders: string[]; length?: number; chunked: boolean } | undefined;
    const finishRefusal = (ended: boolean) => {
      const body = Buffer.concat(pre);
      let out: Buffer | undefined = body;
      if (refused!.chunked) out = decodeChunked(body) ?? (ended ? body : undefined);
      else if (refused!.length !== undefined)
        out = body.length >= refused!.length || ended ? body.subarray(0, refused!.length) : undefined;
      else if (!ended) out = undefined;
      if (!out) return;
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve({ kind: 'rejected', status: refused!.status, rawHeaders: refused!.rawHeaders, body: out });
    };
    const onEnd = () => (refused ? finishRefusal(true) : fail(new Error('connection closed before a response')));
    socket.on('end', onEnd);
    onHeadBytes = (chunk) => {
      pre.push(chunk);
      if (refused) return finishRefusal(false);
      const all = Buffer.concat(pre);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) {
        if (all.length > MAX_HEAD) fail(new Error('response head too large'));
        else pre = [all];
        return;
      }
      let parsed;
      try {
        parsed = parseHead(all.toString('latin1', 0, end));
      } catch (e) {
        return fail(e as Error);
      }
      const rest = all.subarray(end + 4);
      if (parsed.status === 101 || anyStatus) {
        upgraded = true;
        signal.removeEventListener('abort', onAbort);
        socket.off('error', fail);
        socket.off('end', onEnd);
        // Until the relay listens: an error must not go unheard (that would end the process).
        socket.on('error', () => socket.destroy());
        const source: ByteSource = (s, end) => {
          sink = s;
          const held = early;
          early = [];
          for (const c of held) s(c);
          // 'end' is not held back for a socket read with `onread`: it may have passed already.
          if (end && socket.readableEnded) end();
          else if (end) socket.once('end', end);
        };
        resolve({ kind: 'upgraded', status: parsed.status, rawHeaders: parsed.rawHeaders, socket, head: rest, source });
        return;
      }
      const length = header(parsed.rawHeaders, 'content-length');
      refused = {
        ...parsed,
        length: length === undefined ? undefined : Number(length),
        chunked: /chunked/i.test(header(parsed.rawHeaders, 'transfer-encoding') ?? ''),
      };
      pre = [rest];
      finishRefusal(false);
    };
  });
}
