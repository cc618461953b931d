// The e2e framework's base: the sandbox state, the real kubectl binary (and any program) run without
// blocking the worker, bounded polling, and the list shape kubectl prints.
import { execFile } from 'node:child_process';
import { inject } from 'vitest';
import { findBinary } from '../../../sandbox/binaries.js';
import { loadState, type SandboxState } from '../../../sandbox/sandbox.js';

export function sandbox(): SandboxState {
  return loadState(inject('sandboxDir'));
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program asynchronously; never throws (check `code`). Tests never block their worker on a child:
 * a worker blocked for a minute misses vitest's own RPC deadlines.
 */
export function run(
  file: string,
  args: string[],
  opts: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv; inheritEnv?: boolean } = {},
): Promise<KubectlResult> {
  const env = opts.inheritEnv === false ? opts.env : { ...process.env, ...opts.env };
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, env, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs the real kubectl; never throws (check `code`). */
export function kubectlRaw(
  kubeconfig: string,
  args: string[],
  opts: { input?: string | Buffer; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<KubectlResult> {
  return run(process.env.KUBECTL ?? findBinary('kubectl'), ['--kubeconfig', kubeconfig, ...args], opts);
}

/** Runs kubectl and returns stdout; throws with stderr when it fails. */
export async function kubectl(
  kubeconfig: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<string> {
  const r = await kubectlRaw(kubeconfig, args, opts);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

export async function kubectlJson<T>(kubeconfig: string, args: string[]): Promise<T> {
  return JSON.parse(await kubectl(kubeconfig, [...args, '-o', 'json'])) as T;
}

/**
 * Polls `probe` until it returns a value without throwing, or the deadline passes (then rethrows the
 * last error). The deadline is a safety bound, not a performance assertion.
 */
export async function eventually<T>(
  probe: () => Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await probe();
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 500));
  }
  throw new Error(`${opts.what ?? 'condition'} not reached: ${(last as Error)?.message ?? String(last)}`);
}

/** What `kubectl get ... -o json` prints for a collection. */
export interface List<T> {
  items: T[];
}
