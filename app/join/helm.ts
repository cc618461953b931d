// The real helm, as `fedlet join` and `fedlet leave` run it: found as $HELM or on PATH, one process per
// call, and the read-only questions they ask a release (is it there, deployed, and would an upgrade with
// these arguments change anything).
import { execFile } from 'node:child_process';
import { ConfigError } from '../../src/config.js';
import { findExecutable } from '../executables.js';

export interface HelmRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** $HELM, else helm on PATH; a ConfigError saying how to get it otherwise. */
export function findHelm(env: NodeJS.ProcessEnv = process.env): string {
  const found = findExecutable('helm', 'HELM', env);
  if (found) return found;
  throw new ConfigError('helm not found: install helm 3 (https://helm.sh/docs/intro/install/) or set $HELM to its path');
}

export class Helm {
  constructor(readonly binary: string) {}

  /** Runs helm to completion; never throws (check `code`). */
  run(args: string[], timeoutMs = 600_000): Promise<HelmRun> {
    return new Promise((resolve) => {
      execFile(
        this.binary,
        args,
        { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
        (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
          resolve({ code, stdout, stderr: stderr || (err && !stderr ? err.message : '') });
        },
      );
    });
  }

  /** Runs helm and returns stdout; throws naming the command and helm's own message when it fails. */
  async ok(args: string[], what: string, timeoutMs?: number): Promise<string> {
    const r = await this.run(args, timeoutMs);
    if (r.code !== 0)
      throw new JoinError(`${what} failed: helm ${redact(args).join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
    return r.stdout;
  }

  /** The release's revision and status, or undefined when there is none. */
  async release(name: string, scope: string[]): Promise<{ revision: number; status: string; chart: string } | undefined> {
    const out = await this.ok(['list', ...scope, '--all', '--filter', `^${name}$`, '-o', 'json'], `listing helm releases`);
    const list = JSON.parse(out || '[]') as Array<{ name: string; revision: string; status: string; chart: string }>;
    const r = list.find((x) => x.name === name);
    return r ? { revision: Number(r.revision), status: r.status, chart: r.chart } : undefined;
  }

  /**
   * Whether `helm upgrade` with these arguments would change the deployed release: a server-side dry run
   * renders what it would install (with the cluster's lookups, so generated certificates are kept) and
   * its user values, compared with the deployed ones.
   */
  async wouldChange(name: string, scope: string[], upgradeArgs: string[]): Promise<boolean> {
    const dry = JSON.parse(
      await this.ok(
        ['upgrade', name, ...upgradeArgs, ...scope, '--dry-run=server', '-o', 'json'],
        `helm upgrade --dry-run of ${name}`,
      ),
    ) as { manifest?: string; config?: unknown; chart?: { metadata?: { version?: string } } };
    const manifest = await this.ok(['get', 'manifest', name, ...scope], `reading the manifest of release ${name}`);
    const values = JSON.parse(
      (await this.ok(['get', 'values', name, ...scope, '-o', 'json'], `reading the values of release ${name}`)) || '{}',
    ) as unknown;
    const norm = (m: string | undefined) => (m ?? '').trim();
    return norm(dry.manifest) !== norm(manifest) || canonical(dry.config ?? {}) !== canonical(values ?? {});
  }
}

/** A failure of join or leave that names the step and what to do: printed without a stack, exit code 2. */
export class JoinError extends Error {}

/** JSON with sorted keys, so that two equal value trees compare equal. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v ?? null);
}

/** helm arguments for printing: a value that looks like a token or key is elided. */
export function redact(args: string[]): string[] {
  return args.map((a) => (/(token|password|key)=.{8,}/i.test(a) ? a.replace(/=(.*)$/, '=<redacted>') : a));
}
