import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  abandoned,
  ledgerRecords,
  ORCHESTRATOR_FILE,
  orchestratorAlive,
  reclaim,
  runningLeftovers,
  type OrchestratorRecord,
} from '../../sandbox/leftovers.js';
import { isOurs, LEDGER_FILE, processStartTime, startProcess, type ProcessRecord } from '../../sandbox/processes.js';
import { refuseOrReclaim, sandboxDown } from '../../sandbox/sandbox.js';

const started: ProcessRecord[] = [];
afterEach(async () => {
  await reclaim(started.splice(0), 2000);
});

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'fedlet-leftovers-'));
}

/** A real long-running process started the way the sandbox starts its components. */
function sleeper(dir: string, name: string): ProcessRecord {
  mkdirSync(dir, { recursive: true });
  const p = startProcess(name, '/bin/sleep', ['300'], path.join(dir, `${name}.log`));
  started.push(p);
  return p;
}

describe('the process ledger', () => {
  it('records every start beside its log, with the start time that tells a reused pid apart', () => {
    const dir = tmp();
    const p = sleeper(path.join(dir, 'upper'), 'etcd');
    expect(p.startTime).toBe(processStartTime(p.pid));
    const line = JSON.parse(readFileSync(path.join(dir, 'upper', LEDGER_FILE), 'utf8').trim()) as ProcessRecord;
    expect(line).toMatchObject({ name: 'etcd', pid: p.pid, command: '/bin/sleep', startTime: p.startTime });
    expect(isOurs(p)).toBe(true);
    expect(isOurs({ ...p, startTime: p.startTime! - 1 })).toBe(false);
  });

  it('finds the recorded processes still running in the directory tree, skipping torn lines', () => {
    const dir = tmp();
    const a = sleeper(dir, 'fedlet-lower-1');
    const b = sleeper(path.join(dir, 'lower-1'), 'kube-apiserver');
    const c = sleeper(path.join(dir, 'lower-1', 'node-x'), 'kubelet');
    writeFileSync(path.join(dir, LEDGER_FILE), '{"name":"cut', { flag: 'a' });
    expect(
      ledgerRecords(dir)
        .map((r) => r.pid)
        .sort(),
    ).toEqual([a.pid, b.pid, c.pid].sort());
    expect(
      runningLeftovers(dir)
        .map((r) => r.name)
        .sort(),
    ).toEqual(['fedlet-lower-1', 'kube-apiserver', 'kubelet']);
  });

  it('reclaim stops what still runs and never touches a process whose pid was reused', async () => {
    const dir = tmp();
    const a = sleeper(dir, 'kwok');
    const b = sleeper(path.join(dir, 'upper'), 'etcd');
    // Our own pid with another start time: a record of a process long gone whose pid is now ours.
    const reused: ProcessRecord = { name: 'old', pid: process.pid, command: process.execPath, args: [], log: '', startTime: 1 };
    writeFileSync(path.join(dir, LEDGER_FILE), `${JSON.stringify(reused)}\n`, { flag: 'a' });
    expect((await reclaim(ledgerRecords(dir))).sort()).toEqual(['etcd', 'kwok']);
    expect([a, b].filter(isOurs)).toEqual([]);
    expect(runningLeftovers(dir)).toEqual([]);
  });

  it('sandbox down reclaims from the ledger alone, when the orchestrator died before writing any state', async () => {
    const dir = tmp();
    const p = sleeper(path.join(dir, 'upper'), 'kube-apiserver');
    expect(await sandboxDown(dir)).toEqual(['kube-apiserver']);
    expect(isOurs(p)).toBe(false);
    await expect(sandboxDown(tmp())).rejects.toThrow(/no sandbox in .* \(missing sandbox.json\)/);
  });
});

describe('whose sandbox is it', () => {
  const rec = (o: Partial<OrchestratorRecord>): OrchestratorRecord => ({ pid: 1, foreground: false, phase: 'up', ...o });
  it.each([
    ['a live foreground orchestrator', rec({ foreground: true }), true, false],
    ['a dead foreground orchestrator', rec({ foreground: true }), false, true],
    ['an orchestrator killed while starting', rec({ phase: 'starting' }), false, true],
    ['a background sandbox whose `sandbox up` has exited', rec({}), false, false],
    ['a sandbox with no orchestrator record', undefined, false, false],
  ])('%s: leftovers to reclaim = %s', (_, o, alive, want) => expect(abandoned(o, alive)).toBe(want));

  it('an orchestrator is alive only with the same pid and start time', () => {
    expect(orchestratorAlive({ pid: process.pid, startTime: processStartTime(process.pid), foreground: true, phase: 'up' })).toBe(
      true,
    );
    expect(orchestratorAlive({ pid: process.pid, startTime: 1, foreground: true, phase: 'up' })).toBe(false);
  });

  it('sandbox up reclaims what a dead foreground orchestrator left, and refuses a sandbox someone runs', async () => {
    const dir = tmp();
    const p = sleeper(path.join(dir, 'lower-1'), 'etcd');
    const write = (o: OrchestratorRecord) => writeFileSync(path.join(dir, ORCHESTRATOR_FILE), JSON.stringify(o));
    write({ pid: process.pid, startTime: processStartTime(process.pid), foreground: true, phase: 'up' });
    await expect(refuseOrReclaim(dir, { dir })).rejects.toThrow(
      new RegExp(`a sandbox is already running in ${dir} \\(in the foreground, pid ${process.pid}\\)`),
    );
    write({ pid: process.pid, startTime: 1, foreground: false, phase: 'up' });
    await expect(refuseOrReclaim(dir, { dir })).rejects.toThrow(/already running/);
    expect(isOurs(p)).toBe(true);
    write({ pid: process.pid, startTime: 1, foreground: true, phase: 'up' });
    const said: string[] = [];
    await refuseOrReclaim(dir, { dir, progress: (m) => said.push(m) });
    expect(isOurs(p)).toBe(false);
    expect(said.join('\n')).toMatch(/reclaiming 1 process\(es\) left by a sandbox whose orchestrator \(pid \d+\) is gone: etcd/);
  });
});
