// Decodes an HTTP/1.1 response body read by hand (see raw-request.ts) as it streams: chunked, by
// Content-Length, or up to the close of the connection. Data is handed on as views into the bytes read,
// without a copy or an allocation per chunk (Node's HTTP client makes a Buffer and an event of each).
import type { ByteSource } from '../util/splice.js';

export type Framing = { kind: 'chunked' } | { kind: 'length'; length: number } | { kind: 'close' };

export function framingOf(rawHeaders: string[]): Framing {
  let length: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const k = rawHeaders[i]!.toLowerCase();
    if (k === 'transfer-encoding' && /chunked/i.test(rawHeaders[i + 1]!)) return { kind: 'chunked' };
    if (k === 'content-length') length = rawHeaders[i + 1];
  }
  return length !== undefined && /^\d+$/.test(length.trim()) ? { kind: 'length', length: Number(length) } : { kind: 'close' };
}

const LF = 10;
/** A chunk-size line or trailer line longer than this is malformed. */
const MAX_LINE = 4096;

/**
 * A streaming decoder of chunked transfer coding: `push` raw bytes, data goes to `sink`, `done` once the
 * last chunk and trailers were read. Throws on malformed framing.
 */
export function chunkedDecoder(sink: (data: Buffer) => void, done: () => void): (raw: Buffer) => void {
  let state: 'size' | 'data' | 'data-end' | 'trailer' | 'done' = 'size';
  let line = '';
  let remaining = 0;
  return (raw) => {
    let off = 0;
    while (off < raw.length && state !== 'done') {
      if (state === 'data') {
        const n = Math.min(remaining, raw.length - off);
        sink(raw.subarray(off, off + n));
        off += n;
        remaining -= n;
        if (!remaining) state = 'data-end';
        continue;
      }
      const eol = raw.indexOf(LF, off);
      const end = eol < 0 ? raw.length : eol;
      if (state !== 'data-end') line += raw.toString('latin1', off, end);
      if (line.length > MAX_LINE) throw new Error('malformed chunked body: line too long');
      off = end + (eol < 0 ? 0 : 1);
      if (eol < 0) break;
      if (state === 'data-end') state = 'size';
      else if (state === 'size') {
        const size = parseInt(line.split(';')[0]!.trim(), 16);
        if (!Number.isFinite(size) || size < 0) throw new Error(`malformed chunked body: chunk size ${JSON.stringify(line)}`);
        remaining = size;
        state = size ? 'data' : 'trailer';
      } else if (line.trim() === '') {
        state = 'done';
        done();
      }
      line = '';
    }
  };
}

/**
 * The decoded body of a response as a ByteSource: `head` (body bytes read with the response head) first,
 * then what `raw` reads. The source's end callback runs once the body is complete; a connection that ends
 * before (a truncated body) never calls it: the caller learns of that from the socket's 'close'.
 */
export function bodySource(head: Buffer, raw: ByteSource, framing: Framing, onError: (e: Error) => void): ByteSource {
  return (sink, end) => {
    let ended = false;
    const finish = () => {
      if (ended) return;
      ended = true;
      end?.();
    };
    let push: (b: Buffer) => void;
    if (framing.kind === 'chunked') push = chunkedDecoder(sink, finish);
    else if (framing.kind === 'length') {
      let left = framing.length;
      push = (b) => {
        if (ended) return;
        const n = Math.min(left, b.length);
        if (n) sink(n === b.length ? b : b.subarray(0, n));
        left -= n;
        if (!left) finish();
      };
      if (!left) finish();
    } else push = (b) => sink(b);
    // A malformed body must not throw out of a socket's read callback (that would end the process).
    let failed = false;
    const guarded = (b: Buffer) => {
      if (failed) return;
      try {
        push(b);
      } catch (e) {
        failed = true;
        onError(e as Error);
      }
    };
    if (head.length) guarded(head);
    raw(guarded, framing.kind === 'close' ? finish : undefined);
  };
}
