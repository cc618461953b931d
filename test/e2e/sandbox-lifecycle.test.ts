// The foreground sandbox (`npm start`) goes away with whatever ends it — a closed terminal (SIGHUP under
// a real pseudo-terminal), Ctrl-C after its output pipe closed (`npm start | tee` when tee is gone) — and
// what a killed orchestrator (kill -9) leaves is reclaimed by the next `sandbox down` / `sandbox up`.
// Each case runs its own smallest sandbox (one lower cluster, no real nodes) in its own directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ledgerRecords, orchestratorAlive, readOrchestrator } from '../../sandbox/leftovers.js';
import { isOurs, type ProcessRecord } from '../../sandbox/processes.js';
import { loadState, sandboxDown } from '../../sandbox/sandbox.js';
import { kubectl, run, sandbox } from './framework/kubectl.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(repo, 'dist', 'app', 'cli.js');
const local = !sandbox().external;

/** Every process the sandbox in dir recorded, in its state and in its ledgers. */
function recorded(dir: string): ProcessRecord[] {
  const fromState: ProcessRecord[] = [];
  if (existsSync(path.join(dir, 'sandbox.json'))) {
    const s = loadState(dir);
    fromState.push(
      ...s.upper.processes,
      ...s.lowers.flatMap((l) => l.processes),
      ...s.fedlets.flatMap((f) => (f.process ? [f.process] : [])),
      ...(s.extender ? [s.extender] : []),
    );
  }
  return [...fromState, ...ledgerRecords(dir)];
}

const names = (ps: ProcessRecord[]) => [...new Set(ps.map((p) => p.name))].sort();

async function until(what: string, probe: () => boolean, timeoutMs: number, intervalMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Waits until the orchestrator recorded in dir has exited. */
async function orchestratorGone(dir: string, timeoutMs = 90_000): Promise<void> {
  const o = readOrchestrator(dir);
  expect(o, `orchestrator record in ${dir}`).toBeDefined();
  await until(`orchestrator pid ${o!.pid} to exit`, () => !orchestratorAlive(o!), timeoutMs);
}

describe.skipIf(!local)('sandbox lifecycle: what ends a foreground sandbox, and what a killed one leaves', () => {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  const newDir = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'fedlet-lifecycle-'));
    dirs.push(d);
    return d;
  };
  afterEach(async () => {
    for (const c of children.splice(0))
      if (c.pid && c.exitCode === null && c.signalCode === null)
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          // gone already
        }
    for (const d of dirs.splice(0)) await sandboxDown(d).catch(() => undefined);
  });

  it('a closed terminal (SIGHUP under a pseudo-terminal) tears down every process; --set reached every fedlet', async () => {
    const dir = newDir();
    // script(1) runs the command on a new pseudo-terminal; killing script closes the terminal's master
    // side, and the kernel hangs up the session: SIGHUP, writes to the terminal fail with EIO.
    const command = `${process.execPath} ${cli} sandbox up --foreground --dir ${dir} --lowers 1 --set nodeLabels=demo=lifecycle`;
    const term = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(term);
    let screen = '';
    term.stdout!.on('data', (c: Buffer) => (screen += c.toString()));
    term.stderr!.on('data', (c: Buffer) => (screen += c.toString()));
    await until('the sandbox to come up', () => screen.includes('Press Ctrl-C') || term.exitCode !== null, 240_000);
    expect(screen).toContain('Press Ctrl-C');
    expect(screen).toContain('fedlet options applied to every fedlet: nodeLabels=demo=lifecycle');
    expect(screen).toContain('Next steps:');

    const state = loadState(dir);
    const node = state.fedlets[0]!.nodeName;
    expect(await kubectl(state.upperKubeconfig, ['get', 'node', node, '-o', 'jsonpath={.metadata.labels.demo}'])).toBe(
      'lifecycle',
    );
    const procs = recorded(dir);
    expect(names(procs.filter(isOurs))).toEqual(
      expect.arrayContaining(['etcd', 'kube-apiserver', 'fedlet-lower-1', 'fedlet-extender']),
    );

    term.kill('SIGKILL'); // the terminal window closes
    await orchestratorGone(dir);
    expect(names(procs.filter(isOurs))).toEqual([]);
    expect(names(recorded(dir).filter(isOurs))).toEqual([]);
    const log = readFileSync(path.join(dir, 'sandbox.log'), 'utf8');
    expect(log).toMatch(/SIGHUP: tearing down/);
    expect(log).toMatch(/stopped$/m);
  });

  it('Ctrl-C after the output pipe closed (npm start | tee, tee gone) still tears everything down', async () => {
    const dir = newDir();
    const up = spawn(process.execPath, [cli, 'sandbox', 'up', '--foreground', '--dir', dir, '--lowers', '1', '--no-fedlet'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(up);
    let out = '';
    up.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    up.stderr!.on('data', () => undefined);
    const exited = new Promise<number | null>((r) => up.on('exit', (code) => r(code)));
    await until(
      'the sandbox to come up',
      () => out.includes('Stop it with') || out.includes('Press Ctrl-C') || up.exitCode !== null,
      240_000,
    );
    expect(out).toContain('Press Ctrl-C');
    const procs = recorded(dir);
    expect(procs.filter(isOurs).length).toBeGreaterThan(4);

    // The reader exits: both pipes close; every later write of the sandbox fails with EPIPE.
    up.stdout!.destroy();
    up.stderr!.destroy();
    up.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(names(procs.filter(isOurs))).toEqual([]);
    expect(names(recorded(dir).filter(isOurs))).toEqual([]);
    expect(readFileSync(path.join(dir, 'sandbox.log'), 'utf8')).toMatch(/SIGINT: tearing down[\s\S]*stopped$/m);
  });

  it('kill -9 of the orchestrator while starting: the next sandbox down reclaims what it had started', async () => {
    const dir = newDir();
    const up = spawn(process.execPath, [cli, 'sandbox', 'up', '--foreground', '--dir', dir, '--lowers', '1', '--no-fedlet'], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    children.push(up);
    // Killed as soon as the first API servers run: before any sandbox.json names them.
    await until('the first processes of the sandbox', () => ledgerRecords(dir).filter(isOurs).length >= 2, 120_000, 50);
    up.kill('SIGKILL');
    await orchestratorGone(dir, 10_000);
    expect(existsSync(path.join(dir, 'sandbox.json'))).toBe(false);
    const left = ledgerRecords(dir).filter(isOurs);
    expect(left.length).toBeGreaterThanOrEqual(2);

    const down = await run(process.execPath, [cli, 'sandbox', 'down', '--dir', dir], { timeoutMs: 120_000 });
    expect(down.code, down.stderr).toBe(0);
    expect(down.stderr).toMatch(/left by a stopped orchestrator/);
    expect(names(left.filter(isOurs))).toEqual([]);
    expect(names(ledgerRecords(dir).filter(isOurs))).toEqual([]);
  });

  it('kill -9 of a foreground orchestrator once up: the next sandbox up reclaims its sandbox and starts afresh', async () => {
    const dir = newDir();
    const first = spawn(process.execPath, [cli, 'sandbox', 'up', '--foreground', '--dir', dir, '--lowers', '1', '--no-fedlet'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(first);
    let out = '';
    first.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    await until('the sandbox to come up', () => out.includes('Press Ctrl-C') || first.exitCode !== null, 240_000);
    const orphans = recorded(dir).filter(isOurs);
    first.kill('SIGKILL');
    await orchestratorGone(dir, 10_000);
    expect(orphans.filter(isOurs)).toEqual(orphans); // nobody tore them down

    const again = await run(process.execPath, [cli, 'sandbox', 'up', '--dir', dir, '--lowers', '1', '--no-fedlet'], {
      timeoutMs: 240_000,
    });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/reclaiming \d+ process\(es\) left by a sandbox whose orchestrator \(pid \d+\) is gone/);
    expect(names(orphans.filter(isOurs))).toEqual([]);
    expect(loadState(dir).upper.processes.every(isOurs)).toBe(true);
    const down = await run(process.execPath, [cli, 'sandbox', 'down', '--dir', dir], { timeoutMs: 120_000 });
    expect(down.code, down.stderr).toBe(0);
    expect(names(recorded(dir).filter(isOurs))).toEqual([]);
  });
});
