import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeChunked, upgradeRequest } from '../../src/kube/upgrade-request.js';

let server: http.Server | undefined;
afterEach(() => server?.close());

async function listen(s: http.Server): Promise<number> {
  server = s;
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as AddressInfo).port;
}

const options = (port: number, path = '/api/v1/namespaces/n/pods/p/exec?command=cat') => ({
  method: 'POST',
  hostname: '127.0.0.1',
  port,
  path,
  headers: { Authorization: 'Bearer t', Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': ['v4', 'v3'] },
});

describe('upgradeRequest', () => {
  it('sends the request with every header value, and relays both ways after the 101 (bytes in the head first)', async () => {
    let seen: http.IncomingMessage | undefined;
    const port = await listen(
      http.createServer().on('upgrade', (req: http.IncomingMessage, socket) => {
        seen = req;
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4\r\n\r\nearly');
        socket.on('data', (c: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), c])));
      }),
    );
    const r = await upgradeRequest(options(port), false, new AbortController().signal);
    if (r.kind !== 'upgraded') throw new Error(`refused: ${r.status}`);
    expect(r.rawHeaders).toEqual(['Upgrade', 'SPDY/3.1', 'X-Stream-Protocol-Version', 'v4']);
    expect(seen!.url).toBe('/api/v1/namespaces/n/pods/p/exec?command=cat');
    expect(seen!.headers['x-stream-protocol-version']).toBe('v4, v3');
    expect(seen!.headers.authorization).toBe('Bearer t');
    let got = r.head.toString();
    const echoed = new Promise<void>((resolve) =>
      r.source((c) => {
        got += c.toString(); // the chunk is reused after the call: copied here
        if (got.endsWith('echo:hello')) resolve();
      }),
    );
    r.socket.write('hello');
    await echoed;
    expect(got).toBe('earlyecho:hello');
    r.socket.destroy();
  });

  it('returns a refusal with its status and whole body (Content-Length and chunked)', async () => {
    const port = await listen(
      http.createServer((req, res) => {
        if (req.url!.includes('chunked')) {
          res.writeHead(403, { 'Content-Type': 'application/json' });
          res.write('{"reason":');
          setTimeout(() => res.end('"Forbidden"}'), 10);
        } else {
          res.writeHead(404, { 'Content-Type': 'application/json', 'Content-Length': 21 });
          res.end('{"reason":"NotFound"}');
        }
      }),
    );
    const a = await upgradeRequest(options(port, '/plain'), false, new AbortController().signal);
    expect(a).toMatchObject({ kind: 'rejected', status: 404 });
    if (a.kind === 'rejected') expect(a.body.toString()).toBe('{"reason":"NotFound"}');
    const b = await upgradeRequest(options(port, '/chunked'), false, new AbortController().signal);
    expect(b).toMatchObject({ kind: 'rejected', status: 403 });
    if (b.kind === 'rejected') expect(b.body.toString()).toBe('{"reason":"Forbidden"}');
  });

  it('fails when the connection is refused or the caller aborts', async () => {
    const port = await listen(http.createServer().on('upgrade', () => undefined));
    const ac = new AbortController();
    const p = upgradeRequest(options(port), false, ac.signal);
    setTimeout(() => ac.abort(), 20);
    await expect(p).rejects.toThrow(/client went away/);
    server!.close();
    await expect(upgradeRequest(options(port), false, new AbortController().signal)).rejects.toThrow(/lower API server/);
  });

  it('refuses a header value with a line break (it would smuggle headers in)', async () => {
    const o = options(1);
    o.headers.Authorization = 'Bearer t\r\nX-Injected: 1';
    await expect(upgradeRequest(o, false, new AbortController().signal)).rejects.toThrow(/line break/);
  });

  it('decodes chunked bodies only once complete', () => {
    expect(decodeChunked(Buffer.from('3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n'))?.toString()).toBe('abcde');
    expect(decodeChunked(Buffer.from('3\r\nabc\r\n2\r\nd'))).toBeUndefined();
  });
});
