// The operator's own tools that commands run (helm for join/leave, kubectl for doctor's streams): the path
// an environment variable names, else the first executable of that name on PATH.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** `env[override]` when set and executable, else `name` on PATH, else undefined. */
export function findExecutable(name: string, override: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = [
    env[override],
    ...(env.PATH ?? '')
      .split(path.delimiter)
      .filter(Boolean)
      .map((d) => path.join(d, name)),
  ];
  for (const c of candidates) {
    if (!c) continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not there, or not executable: the next candidate
    }
  }
  return undefined;
}
