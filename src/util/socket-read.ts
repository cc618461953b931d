// Reads an already-open socket into a reused buffer, as `onread` does for a socket one opens oneself.
// The sockets an HTTPS server hands to its 'upgrade' listener cannot be opened with `onread`, and read
// that way every TLS record becomes a Buffer of its own, an event and garbage: most of what relaying a
// MiB from the upper API server costs beyond TLS itself. Node sets `onread` up on a socket by keeping
// the buffer and callback on it (symbols its constructor defines, found here by description) and telling
// the handle to read into the buffer (`useUserBuffer`): done here the same way, after the fact. Any part
// missing (another Node version), or bytes already queued in the socket, and this declines: the caller
// then reads 'data' as usual.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ByteSource } from './splice.js';

interface HandleWithUserBuffer {
  useUserBuffer?: (buf: Uint8Array) => void;
}

function symbolNamed(o: object, name: string): symbol | undefined {
  return Object.getOwnPropertySymbols(o).find((s) => s.description === name);
}

/**
 * Makes `socket` hand its reads to the returned ByteSource through `buffer` (reused: each read is only
 * valid during the sink's call), or returns undefined when it cannot.
 */
export function adoptReadBuffer(socket: Duplex, buffer: Buffer): ByteSource | undefined {
  const s = socket as Socket & Record<symbol, unknown> & { _handle?: HandleWithUserBuffer | null };
  const kBuffer = symbolNamed(s, 'kBuffer');
  const kBufferCb = symbolNamed(s, 'kBufferCb');
  const handle = s._handle;
  if (!kBuffer || !kBufferCb || s[kBuffer] !== null || typeof handle?.useUserBuffer !== 'function') return undefined;
  if (s.readableLength > 0 || s.destroyed || s.readableEnded) return undefined;
  let sink: ((chunk: Buffer) => void) | undefined;
  const early: Buffer[] = [];
  s[kBufferCb] = (n: number) => {
    const chunk = buffer.subarray(0, n);
    if (sink) sink(chunk);
    else early.push(Buffer.from(chunk));
    return true;
  };
  s[kBuffer] = buffer;
  handle.useUserBuffer(buffer);
  // A socket read this way reads while resumed (the server may have paused it around the upgrade).
  s.resume();
  return (to, end) => {
    sink = to;
    for (const c of early.splice(0)) to(c);
    if (end && s.readableEnded) end();
    else if (end) s.once('end', end);
  };
}
