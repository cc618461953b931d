// What the bench reads from a running fedlet: its resident memory (and heap snapshots) and its /metrics (on the kubelet port,
// authenticated with the upper API server's kubelet client certificate, as metrics-server would).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import https from 'node:https';
import type { SandboxState } from '../../sandbox/sandbox.js';
import { smapsBreakdown, smapsText } from './smaps.js';

export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Prometheus text of the fedlet serving the kubelet API on `port` (default: the sandbox's first fedlet). */
export function fedletMetrics(s: SandboxState, port = s.fedlets[0]!.kubeletPort): Promise<string> {
  const cert = s.upper.kubeletClientCert!;
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: s.nodeIP ?? '127.0.0.1',
        port,
        path: '/metrics',
        rejectUnauthorized: false,
        cert: readFileSync(cert),
        key: readFileSync(cert.replace(/\.crt$/, '.key')),
      },
      (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve(b));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** One gauge from fedlet's /metrics text (prom-client's default process metrics carry fedlet's prefix). */
function gauge(metrics: string, name: string, space?: string): number {
  const labels = space ? `\\{space="${space}"[^}]*\\}` : '(?:\\{[^}]*\\})?';
  const m = new RegExp(`^fedlet_process_${name}${labels} (\\S+)`, 'm').exec(metrics);
  return m ? Number(m[1]) : NaN;
}

/**
 * fedlet's memory now: RSS, V8 heap used/total and external memory (from its /metrics), and where the RSS
 * is by mapping class (smaps.ts: files, malloc arenas, other anonymous). With
 * BENCH_HEAP_SNAPSHOTS=<dir> (see heapSnapshotNodeOptions) and `snapshot`, it also writes a heap snapshot
 * there, after the reading. Only for the last reading of a process: writing a snapshot leaves the process's
 * RSS grown by about the heap's size (the C++ side's allocations stay mapped), so later RSS readings lie.
 */
export async function memoryReading(s: SandboxState, pid: number, snapshot: boolean): Promise<string> {
  const rss = rssMiB(pid);
  const m = await fedletMetrics(s).catch(() => '');
  const mib = (n: number) => (n / 1048576).toFixed(0);
  const text =
    `${rss.toFixed(0)} MiB RSS (heap ${mib(gauge(m, 'nodejs_heap_size_used_bytes'))} used of ` +
    `${mib(gauge(m, 'nodejs_heap_size_total_bytes'))}, of it new space ${mib(gauge(m, 'nodejs_heap_space_size_total_bytes', 'new'))}, ` +
    `external ${mib(gauge(m, 'nodejs_external_memory_bytes'))} MiB; ` +
    `${smapsText(smapsBreakdown(pid))})`;
  const dir = process.env.BENCH_HEAP_SNAPSHOTS;
  if (dir && snapshot) await heapSnapshot(dir, pid);
  return text;
}

/** NODE_OPTIONS that let the bench ask fedlet for heap snapshots (SIGUSR2 writes one into `dir`). */
export function heapSnapshotNodeOptions(dir: string): string {
  return `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`;
}

async function heapSnapshot(dir: string, pid: number): Promise<void> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  // Done when a new file exists and its size has stopped growing for 2 s.
  let last = -1;
  for (let i = 0; i < 300; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const f = readdirSync(dir).find((n) => !before.has(n) && n.endsWith('.heapsnapshot'));
    if (!f) continue;
    const size = statSync(path.join(dir, f)).size;
    if (size > 0 && size === last) return;
    last = size;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (clock ticks of 10 ms); 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}
