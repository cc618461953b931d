import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { splice } from '../../src/util/splice.js';

describe('splice', () => {
  it('copies every byte in order, counts them, and ends the destination when the source ends', async () => {
    const from = new PassThrough();
    const got: Buffer[] = [];
    const to = new Writable({
      write: (c: Buffer, _e, cb) => (got.push(c), cb()),
      writev: (cs, cb) => (got.push(...cs.map((c) => c.chunk as Buffer)), cb()),
    });
    let counted = 0;
    const finished = new Promise((r) => to.on('finish', r));
    splice(from, to, { onBytes: (n) => (counted += n) });
    const sent: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const b = Buffer.alloc(1000 + i, i % 256);
      sent.push(b);
      from.write(b);
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    from.end();
    await finished;
    expect(Buffer.concat(got).equals(Buffer.concat(sent))).toBe(true);
    expect(counted).toBe(Buffer.concat(sent).length);
  });

  it('pauses a fast source while more than 1 MiB waits, gives the destination one write at a time, and resumes once drained', async () => {
    const from = new PassThrough({ highWaterMark: 1024 });
    let release: (() => void) | undefined;
    let pending = 0;
    let mostPending = 0;
    const got: Buffer[] = [];
    const to = new Writable({
      highWaterMark: 1024,
      write: (c: Buffer, _e, cb) => {
        got.push(Buffer.from(c)); // the buffer is reused once the write completed
        mostPending = Math.max(mostPending, ++pending);
        release = () => (pending--, cb()); // hold every write until released
      },
      writev: (cs, cb) => {
        got.push(...cs.map((c) => Buffer.from(c.chunk as Buffer)));
        mostPending = Math.max(mostPending, (pending += cs.length));
        release = () => ((pending -= cs.length), cb());
      },
    });
    splice(from, to);
    const sent = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < sent.length; i += 4) sent.writeUInt32LE(i, i);
    from.write(sent);
    await new Promise((r) => setTimeout(r, 20));
    expect(from.isPaused()).toBe(true);
    while (got.reduce((n, b) => n + b.length, 0) < sent.length) {
      release!();
      await new Promise((r) => setImmediate(r));
    }
    release!();
    await new Promise((r) => setTimeout(r, 20));
    expect(from.isPaused()).toBe(false);
    expect(mostPending).toBe(1);
    expect(Buffer.concat(got).equals(sent)).toBe(true);
  });

  it('ends the destination as soon as the source ends, even with a write still in flight', async () => {
    const from = new PassThrough();
    const got: Buffer[] = [];
    const held: Array<() => void> = [];
    const to = new Writable({
      write: (c: Buffer, _e, cb) => (got.push(Buffer.from(c)), held.push(cb)),
      writev: (cs, cb) => (got.push(...cs.map((c) => Buffer.from(c.chunk as Buffer))), held.push(cb)),
    });
    let sink: ((c: Buffer) => void) | undefined;
    let end: (() => void) | undefined;
    splice(from, to, { source: (s, e) => ((sink = s), (end = e)) });
    const a = Buffer.alloc(300 * 1024, 1);
    const b = Buffer.alloc(1000, 2);
    sink!(a); // a full batch goes at once and stays in flight
    sink!(b);
    end!();
    // logs takes the source's close right after its end for a cut unless the destination has ended
    expect(to.writableEnded).toBe(true);
    while (held.length) held.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(Buffer.concat(got).equals(Buffer.concat([a, b]))).toBe(true);
  });

  it('writes what arrives within one event-loop turn as one buffer', async () => {
    const from = new PassThrough();
    const writes: number[] = [];
    const to = new Writable({
      write: (c: Buffer, _e, cb) => (writes.push(c.length), cb()),
      writev: (cs, cb) => (writes.push(...cs.map((c) => (c.chunk as Buffer).length)), cb()),
    });
    splice(from, to);
    for (let i = 0; i < 10; i++) from.write(Buffer.alloc(1000, i));
    await new Promise((r) => setTimeout(r, 20));
    expect(writes).toEqual([10_000]);
  });
});

describe('relay', () => {
  it('hands over every byte when one side ends while the other still has writes queued', async () => {
    const { relay } = await import('../../src/util/splice.js');
    const { Duplex } = await import('node:stream');
    // "lower": sends 20 × 64 KiB, then ends (and, like a socket that is not half-open, closes).
    const lower = new Duplex({ allowHalfOpen: false, read() {}, write: (_c, _e, cb) => cb() });
    // "client": a socket whose bytes reach the peer only when each write completes, 5 ms later;
    // a write still queued when it is destroyed never arrives.
    const got: Buffer[] = [];
    const client: InstanceType<typeof Duplex> = new Duplex({
      highWaterMark: 1024,
      read() {},
      write: (c: Buffer, _e, cb) =>
        setTimeout(() => {
          if (!client.destroyed) got.push(c);
          cb();
        }, 5),
    });
    const closed = new Promise<void>((r) => relay(client, lower, { graceMs: 200, onClosed: r }));
    const sent = Array.from({ length: 20 }, (_, i) => Buffer.alloc(64 * 1024, i));
    for (const b of sent) lower.push(b);
    lower.push(null);
    await closed;
    expect(Buffer.concat(got).equals(Buffer.concat(sent))).toBe(true);
  });

  it('ends the session when one side had already closed before the relay began', async () => {
    const { relay } = await import('../../src/util/splice.js');
    const { Duplex } = await import('node:stream');
    const lower = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
    lower.destroy();
    await new Promise((r) => setImmediate(r)); // its 'close' has passed
    const client = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
    const closed = new Promise<void>((r) => relay(client, lower, { graceMs: 50, onClosed: r }));
    await closed;
    expect(client.destroyed).toBe(true);
  });
});
