// The real kubectl, for the checks that must go the way an operator's commands go (exec and
// port-forward: kubectl's own WebSocket/SPDY client against the upper API server). Found as $KUBECTL or
// on PATH; without it those checks are skipped, saying so.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { findExecutable } from '../executables.js';

export interface KubectlRun {
  code: number;
  stdout: string;
  stderr: string;
}

export class Kubectl {
  constructor(
    readonly binary: string,
    private readonly baseArgs: string[],
  ) {}

  /** Runs kubectl to completion (killed after timeoutMs); never throws. */
  run(args: string[], timeoutMs: number): Promise<KubectlRun> {
    return new Promise((resolve) => {
      execFile(
        this.binary,
        [...this.baseArgs, ...args],
        { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8' },
        (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
          resolve({ code, stdout, stderr: stderr || (err && code === 1 && !stderr ? err.message : '') });
        },
      );
    });
  }

  /** Starts a long-running kubectl (port-forward); the caller stops it. */
  start(args: string[]): ChildProcess {
    return spawn(this.binary, [...this.baseArgs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  }
}

/** $KUBECTL, else kubectl on PATH, else undefined. */
export function findKubectl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return findExecutable('kubectl', 'KUBECTL', env);
}
