// Stream relay microbenchmark: fedlet's kubelet API server and its lower-side stream code in a process of
// their own, between a TLS client standing in for the upper API server and a TLS server standing in for
// the lower one (both in this process). Prints fedlet's CPU ms per MiB relayed for exec (lower → upper),
// port-forward (echo, both ways) and logs. No sandbox and no lock needed: for profiling and comparing
// relay implementations (`RELAY_PROF=dir` writes a --cpu-prof of the fedlet process).
//   node dist/test/bench/relay-micro.js [exec,portforward,logs] [MiB]
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { KubeClient } from '../../src/kube/client.js';
import { KubeletServer } from '../../src/kubelet/server.js';
import type { KubeletAuth } from '../../src/kubelet/auth.js';
import { FedletMetrics } from '../../src/metrics.js';
import { lowerLogs, lowerUpgrade } from '../../provider/workload/streams.js';
import type { StreamProvider } from '../../src/provider.js';
import { cpuSeconds } from './fedlet-process.js';
import { selfSignedLoopbackCert as makeCert } from '../support/self-signed-cert.js';

/** Size of each write of the fake lower server (RELAY_CHUNK): Go peers relaying small frames send small TLS records. */
const CHUNK = Number(process.env.RELAY_CHUNK ?? 32 * 1024);

/** Digest of every byte sent by pump (the data differs per chunk, so loss, reordering or reuse shows). */
let sentHash = createHash('sha256');
/** Writes `bytes` to a writable in CHUNK writes, with backpressure, then calls done. */
function pump(w: NodeJS.WritableStream, bytes: number, done: () => void): void {
  const chunks = Array.from({ length: 7 }, () => randomBytes(CHUNK));
  let sent = 0;
  let i = 0;
  const go = () => {
    while (sent < bytes) {
      sent += CHUNK;
      const c = chunks[i++ % chunks.length]!;
      sentHash.update(c);
      if (!w.write(c)) return void w.once('drain', go);
    }
    done();
  };
  go();
}

/** The fake lower API server: exec streams `bytes` out, portforward echoes, log streams `bytes`. */
function lowerServer(pki: { cert: string; key: string }, bytes: number): Promise<https.Server> {
  const srv = https.createServer(pki, (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    pump(res, bytes, () => res.end());
  });
  srv.on('upgrade', (req, socket) => {
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n',
    );
    if (req.url?.includes('/exec')) pump(socket, bytes, () => socket.end());
    else socket.pipe(socket);
  });
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r(srv)));
}

async function fedletRole(lowerPort: number, pkiDir: string): Promise<void> {
  const pki = {
    cert: readFileSync(path.join(pkiDir, 'cert.pem'), 'utf8'),
    key: readFileSync(path.join(pkiDir, 'key.pem'), 'utf8'),
  };
  const lower = new KubeClient({
    server: `https://127.0.0.1:${lowerPort}`,
    apply: async (o) => {
      o.ca = pki.cert;
      o.headers = { ...o.headers, Authorization: 'Bearer x' };
    },
  });
  const t = (namespace: string, name: string) => ({ namespace, name });
  const provider = {
    podLogs: (ns, pod, c, o, signal) => lowerLogs(lower, t(ns, pod), c, o, signal),
    openPodStream: (kind, ns, pod, params, upgrade, protocols, signal) =>
      lowerUpgrade(lower, kind, t(ns, pod), params, upgrade, protocols, signal),
  } as StreamProvider;
  const auth = { check: async () => ({ ok: true, user: { username: 'u', groups: [] } }) } as unknown as KubeletAuth;
  const server = new KubeletServer({
    port: 0,
    host: '127.0.0.1',
    tls: pki,
    auth,
    provider,
    pods: () => [],
    metrics: new FedletMetrics(),
    log: pino({ level: 'silent' }),
  });
  await server.start();
  const port = (server as unknown as { server: https.Server }).server.address() as { port: number };
  // Run by hand (no IPC channel, e.g. between Go peers): the port goes to stdout.
  if (process.send) process.send(port.port);
  else console.log(port.port);
  // SIGINT ends it through process.exit, so that --cpu-prof writes its profile.
  process.on('SIGINT', () => process.exit(0));
  process.on('message', () => process.exit(0));
}

function upgradeSession(port: number, ca: string, kind: string, send: number, expect: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ port, host: '127.0.0.1', ca, servername: undefined }, () => {
      s.write(
        `POST /${kind}/ns/pod/c?output=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n`,
      );
    });
    sentHash = createHash('sha256');
    let head = true;
    let got = 0;
    let buf = Buffer.alloc(0);
    const h = createHash('sha256');
    s.on('data', (c: Buffer) => {
      if (head) {
        buf = Buffer.concat([buf, c]);
        const i = buf.indexOf('\r\n\r\n');
        if (i < 0) return;
        if (!buf.toString('latin1').startsWith('HTTP/1.1 101')) return reject(new Error(buf.toString()));
        head = false;
        c = buf.subarray(i + 4);
        if (send) pump(s, send, () => undefined);
      }
      got += c.length;
      h.update(c);
      if (got >= expect) {
        s.destroy();
        const sent = sentHash.copy().digest('hex');
        if (h.digest('hex') !== sent) reject(new Error(`${kind}: the bytes received differ from those sent`));
        resolve();
      }
    });
    s.on('error', reject);
  });
}

function logsSession(port: number, ca: string, expect: number): Promise<void> {
  return new Promise((resolve, reject) => {
    https
      .get({ port, host: '127.0.0.1', ca, path: '/containerLogs/ns/pod/c', agent: false }, (res) => {
        let got = 0;
        res.on('data', (c: Buffer) => (got += c.length));
        res.on('end', () => (got >= expect ? resolve() : reject(new Error(`logs: ${got} of ${expect}`))));
      })
      .on('error', reject);
  });
}

async function main(): Promise<void> {
  if (process.argv[2] === '--fedlet') return fedletRole(Number(process.argv[3]), process.argv[4]!);
  const kinds = (process.argv[2] ?? 'exec,portforward,logs').split(',');
  const mib = Number(process.argv[3] ?? 256);
  const bytes = mib * 1024 * 1024;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'relay-micro-'));
  const pki = makeCert(dir);
  const lower = await lowerServer(pki, bytes);
  const lowerPort = (lower.address() as { port: number }).port;
  const prof = process.env.RELAY_PROF;
  const child = spawn(
    process.execPath,
    [
      ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []),
      fileURLToPath(import.meta.url),
      '--fedlet',
      String(lowerPort),
      dir,
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const port = await new Promise<number>((r) => child.once('message', (m) => r(Number(m))));
  const rounds = Number(process.env.RELAY_ROUNDS ?? 3);
  for (const kind of kinds) {
    const run = () =>
      kind === 'logs'
        ? logsSession(port, pki.cert, bytes)
        : upgradeSession(port, pki.cert, kind === 'portforward' ? 'portForward' : kind, kind === 'exec' ? 0 : bytes, bytes);
    await run(); // warm-up
    const per: string[] = [];
    for (let i = 0; i < rounds; i++) {
      const c0 = cpuSeconds(child.pid!);
      const own0 = process.cpuUsage();
      const t0 = performance.now();
      await run();
      const s = (performance.now() - t0) / 1000;
      const own = process.cpuUsage(own0);
      per.push(
        `fedlet ${(((cpuSeconds(child.pid!) - c0) * 1000) / mib).toFixed(2)} ms/MiB, harness ${((own.user + own.system) / 1000 / mib).toFixed(2)}, ${(mib / s).toFixed(0)} MiB/s`,
      );
    }
    console.log(`${kind}: ${per.join(' | ')}`);
  }
  child.send('exit');
  await new Promise((r) => child.once('exit', r));
  lower.close();
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exit(1);
});
