// What a sandbox leaves behind when its orchestrator dies (kill -9, a closed terminal before the fix,
// a crash mid-start): the processes it started keep running, detached in their own sessions. Each start
// is in a ledger beside its log (sandbox/processes.ts) and the orchestrator is recorded in the sandbox
// directory, so the next `sandbox up` or `sandbox down` finds the leftovers and reclaims them.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isOurs, LEDGER_FILE, processStartTime, type ProcessRecord } from './processes.js';

/** The process driving a sandbox: `sandbox up` (in the foreground or not), or a test run's set-up. */
export interface OrchestratorRecord {
  pid: number;
  startTime?: number;
  /** A foreground orchestrator owns the sandbox's lifetime: when it is gone, so should the sandbox be. */
  foreground: boolean;
  /** 'starting' until every process is up; an orchestrator that died while starting left a half sandbox. */
  phase: 'starting' | 'up';
}

export const ORCHESTRATOR_FILE = 'sandbox-orchestrator.json';

export function writeOrchestrator(dir: string, o: Omit<OrchestratorRecord, 'pid' | 'startTime'>): void {
  const startTime = processStartTime(process.pid);
  const rec: OrchestratorRecord = { pid: process.pid, ...(startTime ? { startTime } : {}), ...o };
  writeFileSync(path.join(dir, ORCHESTRATOR_FILE), JSON.stringify(rec));
}

export function readOrchestrator(dir: string): OrchestratorRecord | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, ORCHESTRATOR_FILE), 'utf8')) as OrchestratorRecord;
  } catch {
    return undefined;
  }
}

export function orchestratorAlive(o: OrchestratorRecord): boolean {
  const now = processStartTime(o.pid);
  return now !== undefined && (o.startTime === undefined || now === o.startTime);
}

/**
 * Whether running processes of a sandbox are leftovers to reclaim (true) or someone's sandbox (false):
 * they are leftovers when the orchestrator that owned their lifetime (a foreground one, or one still
 * starting them) is gone. A sandbox started in the background outlives its `sandbox up` on purpose; one
 * with no orchestrator record (made by an older fedlet) is treated as running.
 */
export function abandoned(o: OrchestratorRecord | undefined, alive: boolean): boolean {
  if (!o || alive) return false;
  return o.foreground || o.phase === 'starting';
}

/** Every process start recorded in a ledger in dir or below it (a few levels: clusters, their nodes). */
export function ledgerRecords(dir: string, depth = 3): ProcessRecord[] {
  if (!existsSync(dir)) return [];
  const out: ProcessRecord[] = [];
  const ledger = path.join(dir, LEDGER_FILE);
  if (existsSync(ledger))
    for (const line of readFileSync(ledger, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as ProcessRecord;
        if (Number.isInteger(r.pid) && r.pid > 1 && typeof r.command === 'string') out.push(r);
      } catch {
        // A line cut short by a kill mid-write names nothing we could stop safely.
      }
    }
  if (depth > 0)
    for (const e of readdirSync(dir, { withFileTypes: true }))
      if (e.isDirectory() && !e.isSymbolicLink()) out.push(...ledgerRecords(path.join(dir, e.name), depth - 1));
  return out;
}

/** The recorded processes that still run (same pid, same command, same start time). */
export function runningLeftovers(dir: string): ProcessRecord[] {
  return ledgerRecords(dir).filter(isOurs);
}

/**
 * Stops every recorded process that still runs: SIGTERM to each one's process group (latest started
 * first), then SIGKILL to whatever is left after the grace period. Returns the names it stopped.
 */
export async function reclaim(records: ProcessRecord[], graceMs = 10_000): Promise<string[]> {
  const live = records.filter(isOurs).reverse();
  const signal = (r: ProcessRecord, s: NodeJS.Signals) => {
    for (const target of [-r.pid, r.pid])
      try {
        process.kill(target, s);
        return;
      } catch {
        // not a group leader, or gone already
      }
  };
  for (const r of live) signal(r, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && live.some(isOurs)) await new Promise((r) => setTimeout(r, 100));
  for (const r of live.filter(isOurs)) signal(r, 'SIGKILL');
  const hard = Date.now() + 5000;
  while (Date.now() < hard && live.some(isOurs)) await new Promise((r) => setTimeout(r, 50));
  const stuck = live.filter(isOurs);
  if (stuck.length) throw new Error(`could not stop ${stuck.map((r) => `${r.name} (pid ${r.pid})`).join(', ')}`);
  return live.map((r) => r.name);
}
