// Starting and stopping the local processes of the test environment. Every process gets its own
// process group, its output goes to a log file, and stopping checks the pid still runs the same
// command line, so teardown kills exactly what it started and nothing else.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';

export interface ProcessRecord {
  name: string;
  pid: number;
  command: string;
  args: string[];
  log: string;
  env?: Record<string, string>;
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  log: string,
  env?: Record<string, string>,
): ProcessRecord {
  const fd = openSync(log, 'a');
  try {
    const child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...env },
    });
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    child.unref();
    return { name, pid: child.pid, command, args, log, ...(env ? { env } : {}) };
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

/** Asks the kernel for free loopback ports (distinct within one call). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = net.createServer();
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve());
    });
    servers.push(s);
    ports.push((s.address() as net.AddressInfo).port);
  }
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
