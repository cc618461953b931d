// Byte relay between two streams, used for every relayed session (exec/attach/port-forward sockets and
// log bodies). Unlike pipe(), it gathers every chunk that arrives within one event-loop turn into one
// contiguous buffer and writes that once: a TLS socket read yields one chunk per TLS record (often far
// below 16 KiB from Go peers), and writing each on its own costs a TLS record, a syscall and a trip
// through the stream machinery, which dominates fedlet's CPU per relayed MiB (see the streams part of
// test/bench and test/bench/relay-micro.ts). The batch buffers are reused once written, so a relayed
// MiB allocates nothing on the JS heap, and a source that reads into a reused buffer of its own (a
// socket opened with `onread`, see ByteSource) is copied once and never allocates per read at all.
// At most one write per direction is in flight (bytes arriving meanwhile wait in the batches), and the
// source pauses while more than MAX_QUEUED bytes wait.
import { ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex, Readable, Writable } from 'node:stream';

/** Size of one batch buffer: the most one write carries (a fast source cannot build a bigger batch). */
const BATCH = 256 * 1024;
/**
 * Bytes that may wait for the destination (besides the write in flight) before the source pauses. Well
 * above a socket's default highWaterMark (16 KiB): pausing and resuming a socket costs two syscalls, and
 * with a small limit a fast stream pays them for every batch.
 */
const MAX_QUEUED = 1024 * 1024;

/**
 * Batch buffers whose write has completed, shared by all splices: held only between writes, so idle
 * sessions keep none, and a few cover every active one (a write completes within a turn or two).
 */
const spare: Buffer[] = [];
const MAX_SPARE = 8;

/**
 * Whether a write's buffer may be reused once its callback ran: true for a socket (its callback runs once
 * the bytes went to the kernel, after a TLS socket encrypted them) and an HTTP response on one. Other
 * writables may still hold the buffer (a PassThrough queues it for its reader).
 */
function releasesOnCallback(w: Writable): boolean {
  return w instanceof Socket || w instanceof ServerResponse;
}

/**
 * Hands every chunk read from a stream to `sink`, and calls `end` once the data ended cleanly. The chunk
 * may be a buffer the source reuses for its next read: the sink copies what it keeps before it returns.
 */
export type ByteSource = (sink: (chunk: Buffer) => void, end?: () => void) => void;

export interface SpliceOptions {
  /** Called with the size of each write (for byte counters). */
  onBytes?: (n: number) => void;
  /** End the destination when the source ends (half-close); default true. */
  end?: boolean;
  /**
   * Where the bytes come from when `from` does not emit them as 'data' (a socket read with `onread`); its
   * end callback, not `from`'s 'end', then ends the destination.
   */
  source?: ByteSource;
}

export function splice(from: Readable, to: Writable, opts: SpliceOptions = {}): void {
  const reuse = releasesOnCallback(to);
  // Bytes not yet handed to `to`: full batches waiting their turn, then the batch being filled.
  const full: Buffer[] = [];
  let batch: Buffer | undefined;
  let size = 0;
  let scheduled = false;
  let paused = false;
  let ended = false;
  // At most one write of this splice is in flight. A socket given a second write while one is pending
  // queues it, and a TLS socket joins the queued ones into a fresh native allocation when the first
  // completes: a copy of every byte, and for large joins a new mmap and page faults. That happens when
  // the reader is slower than the writer (the upper API server translating exec and port-forward
  // streams); held here in the reused batches instead, they are neither copied nor allocated again
  // (exec: 8-19% less CPU per MiB in test/bench/relay-go with the reader at 40 MiB/s; port-forward: noise).
  let writing = false;
  const held = () => full.length * BATCH + size;

  let toEnded = false;
  const endTo = () => {
    if (toEnded || opts.end === false || to.destroyed) return;
    toEnded = true;
    to.end();
  };

  /** Hands `b`'s first `n` bytes to `to`; `next`: the write in flight, which starts the next when done. */
  const send = (b: Buffer, n: number, next: boolean) => {
    opts.onBytes?.(n);
    // The callback runs once the bytes are handed on (a TLS socket has encrypted them by then): the
    // buffer can take the next batch.
    to.write(n === b.length ? b : b.subarray(0, n), () => {
      if (reuse && spare.length < MAX_SPARE) spare.push(b);
      if (!next) return;
      writing = false;
      if (paused && held() <= MAX_QUEUED) {
        paused = false;
        from.resume();
      }
      // What gathered meanwhile goes now, as one write: no need to wait for the turn to end.
      writeNext();
    });
  };

  const writeNext = () => {
    if (writing || ended || to.destroyed) return;
    let b = full.shift();
    let n = BATCH;
    if (!b && size) {
      b = batch!;
      n = size;
      batch = undefined;
      size = 0;
    }
    if (!b) return;
    writing = true;
    send(b, n, true);
  };

  const flush = () => {
    scheduled = false;
    writeNext();
  };

  const take = (chunk: Buffer) => {
    let off = 0;
    while (off < chunk.length) {
      if (!batch) batch = spare.pop() ?? Buffer.allocUnsafeSlow(BATCH);
      const n = chunk.copy(batch, size, off);
      size += n;
      off += n;
      if (size === BATCH) {
        full.push(batch);
        batch = undefined;
        size = 0;
      }
    }
    if (full.length && !writing) writeNext();
    else if (size && !scheduled && !writing) {
      scheduled = true;
      // setImmediate, not nextTick: every read of this poll phase lands in the batch first.
      setImmediate(flush);
    }
    if (!paused && held() > MAX_QUEUED) {
      paused = true;
      from.pause();
    }
  };

  const onEnd = () => {
    if (ended) return;
    ended = true;
    // Everything left goes to `to` now, behind a write in flight, and `to` ends at once rather than when
    // that write completes: a caller may take the source's close right after its end for a cut stream
    // unless `to` has ended by then (logs does).
    for (let b = full.shift(); b; b = full.shift()) send(b, BATCH, false);
    if (size) send(batch!, size, false);
    batch = undefined;
    size = 0;
    endTo();
  };
  if (opts.source) opts.source(take, onEnd);
  else {
    from.on('data', take);
    from.on('end', onEnd);
  }
}

export interface RelayOptions {
  onBytesAtoB?: (n: number) => void;
  onBytesBtoA?: (n: number) => void;
  /** How `a`'s and `b`'s bytes are read when they do not emit 'data' (see ByteSource). */
  sourceA?: ByteSource;
  sourceB?: ByteSource;
  /** Called once when both sockets are torn down. */
  onClosed?: () => void;
  /** How long a side may keep writing after its source ended cleanly before it is torn down. */
  graceMs?: number;
}

/**
 * Splices two sockets both ways until the session ends. A side that closes after a clean end of its
 * data leaves the other side to finish writing what it still holds for its peer (destroying it at once
 * would drop those bytes); a reset, an error or a close without a clean end tears both down at once.
 */
export function relay(a: Duplex, b: Duplex, opts: RelayOptions = {}): void {
  splice(a, b, { onBytes: opts.onBytesAtoB, source: opts.sourceA });
  splice(b, a, { onBytes: opts.onBytesBtoA, source: opts.sourceB });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    a.destroy();
    b.destroy();
    opts.onClosed?.();
  };
  const onClose = (side: Duplex, other: Duplex) => () => {
    if (side.readableEnded && !other.destroyed && !other.writableFinished) {
      other.once('finish', () => setTimeout(close, opts.graceMs ?? 30_000).unref());
      other.once('close', close);
      return;
    }
    close();
  };
  a.on('close', onClose(a, b));
  b.on('close', onClose(b, a));
  // A side that closed before the relay began (a lower server that answered and hung up at once) emits
  // no 'close' any more: handled as if now.
  if (a.destroyed) onClose(a, b)();
  if (b.destroyed) onClose(b, a)();
  a.on('error', close);
  b.on('error', close);
}
