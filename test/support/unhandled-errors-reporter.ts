// The e2e run passes --dangerouslyIgnoreUnhandledErrors only so that vitest's own worker→main RPC
// deadline ("[vitest-worker]: Timeout calling ...") on a loaded 2-core machine does not fail a run whose
// tests all passed. Every other unhandled error (a rejection in test code, a crash in a hook) still fails
// the run: this reporter sets the exit code for those.
import type { Reporter } from 'vitest/reporters';

const VITEST_RPC_TIMEOUT = /^\[vitest-(worker|pool|api)\]: Timeout calling "/;

function message(e: unknown): string {
  return e instanceof Error ? e.message : String((e as { message?: unknown } | undefined)?.message ?? e);
}

export default class UnhandledErrorsReporter implements Reporter {
  onFinished(_files: unknown, errors: unknown[] = []): void {
    const real = errors.filter((e) => !VITEST_RPC_TIMEOUT.test(message(e)));
    const ignored = errors.length - real.length;
    if (ignored) process.stderr.write(`[unhandled-errors] ignored ${ignored} vitest RPC timeout(s) (see docs/development.md)\n`);
    if (real.length) {
      process.stderr.write(`[unhandled-errors] ${real.length} unhandled error(s) fail this run:\n`);
      for (const e of real) process.stderr.write(`  ${message(e)}\n`);
      process.exitCode = 1;
    }
  }
}
