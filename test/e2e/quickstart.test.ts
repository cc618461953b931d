// A newcomer gets a working federation from `npm start`, and the commands it prints work as
// printed. Runs README's "Try it in the sandbox" for real: `npm start` in a fresh sandbox directory, then the printed
// walkthrough verbatim in bash (with a PATH whose own kubectl fails), then Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadState, sandboxDown } from '../../sandbox/sandbox.js';
import { isOurs } from '../../sandbox/processes.js';
import { run as runProgram, sandbox } from './framework/kubectl.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const local = !sandbox().external;

/**
 * PATH whose first entry holds a kubectl that always fails: the walkthrough must put the kubectl that
 * `npm run setup` built first on PATH itself, as a newcomer's shell would need.
 */
function pathWithWrongKubectl(dir: string): string {
  const bin = path.join(dir, 'wrong-bin');
  mkdirSync(bin);
  writeFileSync(path.join(bin, 'kubectl'), '#!/bin/sh\necho "not the sandbox kubectl" >&2\nexit 97\n', { mode: 0o755 });
  return `${bin}:${process.env.PATH ?? ''}`;
}

describe.skipIf(!local)('quick start: npm start, then the printed commands', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fedlet-quickstart-'));
  let npmStart: ChildProcess | undefined;

  afterAll(async () => {
    if (npmStart?.pid && npmStart.exitCode === null && npmStart.signalCode === null) {
      try {
        process.kill(-npmStart.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await sandboxDown(dir).catch(() => undefined);
  });

  it('brings up the sandbox, prints a walkthrough that works verbatim, and tears down on Ctrl-C', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: pathWithWrongKubectl(dir) };
    delete env.KUBECONFIG;
    // Detached: its own process group, so Ctrl-C can be delivered the way a terminal does.
    npmStart = spawn('npm', ['start', '--', '--dir', dir], { cwd: repo, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    npmStart.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    npmStart.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((r) => npmStart!.on('exit', (code) => r(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (out.includes('Press Ctrl-C')) {
          clearInterval(timer);
          resolve();
        } else if (npmStart!.exitCode !== null || Date.now() - started > 180_000) {
          clearInterval(timer);
          reject(new Error(`npm start did not bring the sandbox up (exit ${npmStart!.exitCode}):\n${out}\n${err}`));
        }
      }, 250);
      const started = Date.now();
    });

    const lines = out.split('\n');
    const from = lines.findIndex((l) => l.startsWith('Try it'));
    const to = lines.findIndex((l) => l.startsWith('Press Ctrl-C'));
    expect(from, `walkthrough header in:\n${out}`).toBeGreaterThanOrEqual(0);
    const commands = lines
      .slice(from + 1, to)
      .filter((l) => l.startsWith('  '))
      .map((l) => l.slice(2));
    expect(commands.length).toBeGreaterThan(5);
    expect(commands.join('\n')).toMatch(/kubectl create deployment/);

    // Verbatim, as a user pasting them into a shell; `set -x` shows which one failed.
    const run = await runProgram('bash', ['-euxo', 'pipefail', '-c', commands.join('\n')], {
      env,
      inheritEnv: false,
      timeoutMs: 300_000,
    });
    const transcript = `${run.stdout}\n${run.stderr}`;
    expect(run.code, transcript).toBe(0);
    expect(run.stdout).toMatch(/deployment "hello" successfully rolled out/);
    expect(run.stdout).toMatch(/hello from a lower cluster/);
    const podLines = run.stdout.split('\n').filter((l) => /^hello-\S+\s+1\/1\s+Running/.test(l));
    expect(podLines, transcript).toHaveLength(4);
    // Placed by the upper scheduler onto the virtual nodes; `fedlet status` lists both with their pods.
    for (const l of podLines) expect(l.split(/\s+/)[6]).toMatch(/^fedlet-lower-[12]$/);
    expect(run.stdout).toMatch(/fedlet-lower-1\s+lower-1\s/);
    expect(run.stdout).toMatch(/fedlet-lower-2\s+lower-2\s/);

    // Ctrl-C: the sandbox goes away, every process with it.
    const state = loadState(dir);
    const procs = [
      ...state.upper.processes,
      ...state.lowers.flatMap((l) => l.processes),
      ...state.fedlets.flatMap((f) => (f.process ? [f.process] : [])),
    ];
    expect(procs.some(isOurs)).toBe(true);
    process.kill(-npmStart.pid!, 'SIGINT');
    await exited;
    expect(err).toMatch(/\[sandbox\] stopped/);
    expect(procs.filter(isOurs).map((p) => p.name)).toEqual([]);
  });
});
