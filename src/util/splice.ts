// Byte relay between two streams, used for every relayed session (exec/attach/port-forward sockets and
// log bodies). Unlike pipe(), it gathers every chunk that arrives within one event-loop turn into one
// write: a TLS socket read yields one chunk per TLS record (often far below 16 KiB from Go peers), and
// writing each on its own costs a TLS record, a syscall and a trip through the stream machinery, which
// dominates fedlet's CPU per relayed MiB (see the streams part of test/bench).
// Backpressure holds: the source pauses while the destination's buffer is full.
import type { Duplex, Readable, Writable } from 'node:stream';

/** Upper bound of one gathered write, so a fast source cannot build an unbounded batch. */
const MAX_BATCH = 256 * 1024;

export interface SpliceOptions {
  /** Called with the size of each write (for byte counters). */
  onBytes?: (n: number) => void;
  /** End the destination when the source ends (half-close); default true. */
  end?: boolean;
}

export function splice(from: Readable, to: Writable, opts: SpliceOptions = {}): void {
  let pending: Buffer[] = [];
  let size = 0;
  let scheduled = false;
  let waitingForDrain = false;

  const flush = () => {
    scheduled = false;
    if (!size || to.destroyed) {
      pending = [];
      size = 0;
      return;
    }
    const batch = pending;
    const n = size;
    pending = [];
    size = 0;
    opts.onBytes?.(n);
    // cork/uncork hands the whole batch to the socket as one writev: a TLS socket encrypts it in one
    // go into full-size records, with no concatenated copy allocated on the JS heap (less GC work).
    to.cork();
    let ok = true;
    for (const c of batch) ok = to.write(c);
    to.uncork();
    if (!ok && !waitingForDrain) {
      waitingForDrain = true;
      from.pause();
      to.once('drain', () => {
        waitingForDrain = false;
        from.resume();
      });
    }
  };

  from.on('data', (chunk: Buffer) => {
    pending.push(chunk);
    size += chunk.length;
    if (size >= MAX_BATCH) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
  from.on('end', () => {
    flush();
    if (opts.end !== false && !to.destroyed) to.end();
  });
}

export interface RelayOptions {
  onBytesAtoB?: (n: number) => void;
  onBytesBtoA?: (n: number) => void;
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
  splice(a, b, { onBytes: opts.onBytesAtoB });
  splice(b, a, { onBytes: opts.onBytesBtoA });
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
  a.on('error', close);
  b.on('error', close);
}
