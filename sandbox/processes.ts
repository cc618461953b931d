// Starting and stopping the local processes of the test environment. Every process gets its own
// process group, its output goes to a log file, and stopping checks the pid still runs the same
// command line (and, when known, started at the same time), so teardown kills exactly what it started
// and nothing else. Every start is also written to a ledger beside its log, so that what a killed
// orchestrator leaves behind can be found and reclaimed later (sandbox/leftovers.ts).
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** The ledger of process starts in a directory: one JSON ProcessRecord per line, appended at spawn. */
export const LEDGER_FILE = 'processes.ledger';

export interface ProcessRecord {
  name: string;
  pid: number;
  command: string;
  args: string[];
  log: string;
  env?: Record<string, string>;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22): tells a reused pid apart. */
  startTime?: number;
}

/** When the process `pid` started (clock ticks since boot), or undefined when there is no such process. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  log: string,
  env?: Record<string, string>,
): ProcessRecord {
  const fd = openSync(log, 'a');
  // A variable given an empty value is left out (unset), not passed empty: glibc reads an empty
  // MALLOC_MMAP_THRESHOLD_ as 0.
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env ?? {})) if (v === '') delete childEnv[k];
  try {
    const child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: childEnv,
    });
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    child.unref();
    const startTime = processStartTime(child.pid);
    const rec: ProcessRecord = {
      name,
      pid: child.pid,
      command,
      args,
      log,
      ...(env ? { env } : {}),
      ...(startTime ? { startTime } : {}),
    };
    // Written before anyone could kill the caller mid-way: the record of what now runs is on disk.
    appendFileSync(path.join(path.dirname(log), LEDGER_FILE), `${JSON.stringify(rec)}\n`);
    return rec;
  } finally {
    closeSync(fd);
  }
}

export function restartProcess(rec: ProcessRecord): ProcessRecord {
  return startProcess(rec.name, rec.command, rec.args, rec.log, rec.env);
}

/** True if `pid` is alive and still runs `command` (guards against pid reuse). */
export function isOurs(rec: ProcessRecord): boolean {
  const cmdline = `/proc/${rec.pid}/cmdline`;
  if (!existsSync(cmdline)) return false;
  try {
    const argv0 = readFileSync(cmdline, 'utf8').split('\0')[0] ?? '';
    const stat = readFileSync(`/proc/${rec.pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return false; // zombie
    if (rec.startTime !== undefined && processStartTime(rec.pid) !== rec.startTime) return false; // pid reused
    return argv0 === rec.command;
  } catch {
    return false;
  }
}

export async function stopProcess(rec: ProcessRecord, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  if (!isOurs(rec)) return;
  try {
    process.kill(-rec.pid, signal);
  } catch {
    try {
      process.kill(rec.pid, signal);
    } catch {
      return;
    }
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && isOurs(rec)) await new Promise((r) => setTimeout(r, 50));
  if (isOurs(rec)) {
    try {
      process.kill(-rec.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    const hard = Date.now() + 5000;
    while (Date.now() < hard && isOurs(rec)) await new Promise((r) => setTimeout(r, 50));
  }
}

/** Ports handed out by this process, never handed out twice (they may not be bound yet). */
const handedOut = new Set<number>();
/**
 * Free loopback ports (distinct) for processes started next. Taken below the kernel's ephemeral range
 * (32768+ here): a port the kernel hands out for listen(0) is also what it gives outgoing connections,
 * which took one between this check and the process binding it (EADDRINUSE at sandbox start). Falls back
 * to the kernel's choice after many busy tries.
 */
export async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    let port: number | undefined;
    for (let attempt = 0; attempt < 200 && port === undefined; attempt++) {
      const candidate = 20_000 + Math.floor(Math.random() * 12_000);
      if (handedOut.has(candidate)) continue;
      if (await bindable(candidate)) port = candidate;
    }
    port ??= await kernelPort();
    handedOut.add(port);
    ports.push(port);
  }
  return ports;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
