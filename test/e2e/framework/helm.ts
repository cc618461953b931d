// The real helm binary for e2e tests, with its state kept in the test's own directory (never $HOME).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { findBinary } from '../../../sandbox/binaries.js';
import type { KubectlResult } from './kubectl.js';

export interface Helm {
  /** Runs helm; never throws (check `code`). */
  run(args: string[], timeoutMs?: number): Promise<KubectlResult>;
  /** Runs helm and returns stdout; throws with stderr when it fails. */
  ok(args: string[], timeoutMs?: number): Promise<string>;
}

export function helmIn(work: string): Helm {
  const env = {
    ...process.env,
    HELM_CACHE_HOME: path.join(work, 'cache'),
    HELM_CONFIG_HOME: path.join(work, 'config'),
    HELM_DATA_HOME: path.join(work, 'data'),
  };
  const run = (args: string[], timeoutMs = 120_000) =>
    new Promise<KubectlResult>((resolve) => {
      execFile(
        findBinary('helm'),
        args,
        { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
        (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  return {
    run,
    async ok(args, timeoutMs) {
      const r = await run(args, timeoutMs);
      if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
      return r.stdout;
    },
  };
}
