import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { splice } from '../../src/util/splice.js';

describe('splice', () => {
  it('copies every byte in order, counts them, and ends the destination when the source ends', async () => {
    const from = new PassThrough();
    const got: Buffer[] = [];
    const to = new Writable({ write: (c: Buffer, _e, cb) => (got.push(c), cb()), writev: (cs, cb) => (got.push(...cs.map((c) => c.chunk as Buffer)), cb()) });
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

  it('pauses a fast source while the destination is full, and resumes on drain', async () => {
    const from = new PassThrough({ highWaterMark: 1024 });
    let release: (() => void) | undefined;
    let written = 0;
    const to = new Writable({
      highWaterMark: 1024,
      write: (c: Buffer, _e, cb) => {
        written += c.length;
        release = cb; // hold every write until released
      },
    });
    splice(from, to);
    from.write(Buffer.alloc(4096));
    await new Promise((r) => setTimeout(r, 20));
    expect(from.isPaused()).toBe(true);
    expect(written).toBe(4096);
    release!();
    await new Promise((r) => setTimeout(r, 20));
    expect(from.isPaused()).toBe(false);
  });
});
