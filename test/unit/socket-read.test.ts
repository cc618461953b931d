import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { adoptReadBuffer } from '../../src/util/socket-read.js';
import { selfSignedLoopbackCert as selfSigned } from '../support/self-signed-cert.js';

describe('adoptReadBuffer', () => {
  it('reads a server-side TLS socket through one reused buffer: every byte in order, then the end', async () => {
    const pki = selfSigned();
    const sent = Array.from({ length: 64 }, (_, i) => Buffer.alloc(10_000 + i * 97, i));
    const buffer = Buffer.alloc(16 * 1024);
    const received = new Promise<{ data: Buffer; ended: boolean }>((resolve) => {
      const server = tls.createServer(pki, (socket) => {
        const source = adoptReadBuffer(socket, buffer);
        expect(source).toBeDefined();
        const got: Buffer[] = [];
        source!(
          (chunk) => {
            expect(chunk.buffer).toBe(buffer.buffer); // no Buffer of its own per read
            got.push(Buffer.from(chunk));
          },
          () => {
            resolve({ data: Buffer.concat(got), ended: true });
            socket.end();
            server.close();
          },
        );
      });
      server.listen(0, '127.0.0.1', () => {
        const c = tls.connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', ca: pki.cert }, () => {
          for (const b of sent) c.write(b);
          c.end();
        });
      });
    });
    const r = await received;
    expect(r.ended).toBe(true);
    expect(r.data.equals(Buffer.concat(sent))).toBe(true);
  });

  it('declines a stream that is not a socket (the caller reads its data events)', async () => {
    const { PassThrough } = await import('node:stream');
    expect(adoptReadBuffer(new PassThrough(), Buffer.alloc(16))).toBeUndefined();
  });
});
