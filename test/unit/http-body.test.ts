import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bodySource, chunkedDecoder, framingOf } from '../../src/kube/http-body.js';
import type { ByteSource } from '../../src/util/splice.js';

function chunked(parts: Buffer[], ext = false): Buffer {
  const out: Buffer[] = [];
  for (const p of parts)
    if (p.length) out.push(Buffer.from(`${p.length.toString(16)}${ext ? ';a=b' : ''}\r\n`), p, Buffer.from('\r\n'));
  out.push(Buffer.from('0\r\nX-Trailer: t\r\n\r\n'));
  return Buffer.concat(out);
}

/** Feeds `raw` in pieces cut at `cuts`, through one reused buffer (as a socket read with `onread` does). */
function feedReused(raw: Buffer, cuts: number[], push: (b: Buffer) => void): void {
  const reused = Buffer.alloc(raw.length);
  let off = 0;
  for (const c of [...cuts.filter((x) => x > 0 && x < raw.length).sort((a, b) => a - b), raw.length]) {
    if (c <= off) continue;
    raw.copy(reused, 0, off, c);
    push(reused.subarray(0, c - off));
    reused.fill(0xee); // what the next read overwrites
    off = c;
  }
}

describe('chunked decoding in place', () => {
  it('yields exactly the data and ends once, however the bytes are cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.nat(3000), { maxLength: 12 }),
        fc.boolean(),
        (parts, cuts, ext) => {
          const data = parts.map((p) => Buffer.from(p));
          const got: Buffer[] = [];
          let ends = 0;
          const push = chunkedDecoder(
            (d) => got.push(Buffer.from(d)),
            () => ends++,
          );
          feedReused(chunked(data, ext), cuts, push);
          expect(Buffer.concat(got).equals(Buffer.concat(data))).toBe(true);
          expect(ends).toBe(1);
        },
      ),
    );
  });

  it('does not end a truncated body, and rejects a malformed size', () => {
    let ended = false;
    const push = chunkedDecoder(
      () => undefined,
      () => (ended = true),
    );
    push(Buffer.from('5\r\nabc'));
    expect(ended).toBe(false);
    expect(() =>
      chunkedDecoder(
        () => undefined,
        () => undefined,
      )(Buffer.from('zz\r\n')),
    ).toThrow(/chunk size/);
  });
});

describe('bodySource', () => {
  const raw =
    (pieces: string[], endAtClose = true): ByteSource =>
    (sink, end) => {
      for (const p of pieces) sink(Buffer.from(p));
      if (endAtClose) end?.();
    };

  it('reads by Content-Length, then ends, ignoring what follows', () => {
    let got = '';
    let ended = 0;
    const f = framingOf(['Content-Length', '7']);
    expect(f).toEqual({ kind: 'length', length: 7 });
    bodySource(Buffer.from('abc'), raw(['de', 'fgh']), f, (e) => {
      throw e;
    })(
      (b) => (got += b.toString()),
      () => ended++,
    );
    expect(got).toBe('abcdefg');
    expect(ended).toBe(1);
  });

  it('reads to the close when there is no framing, and reports malformed chunking instead of throwing', () => {
    let got = '';
    let ended = false;
    bodySource(
      Buffer.alloc(0),
      raw(['a', 'b']),
      framingOf([]),
      () => undefined,
    )(
      (b) => (got += b.toString()),
      () => (ended = true),
    );
    expect([got, ended]).toEqual(['ab', true]);
    let err: Error | undefined;
    bodySource(Buffer.from('zz\r\n'), raw([]), framingOf(['Transfer-Encoding', 'chunked']), (e) => (err = e))(() => undefined);
    expect(err?.message).toMatch(/malformed/);
  });
});
