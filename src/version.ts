// fedlet's version: the "version" of the package.json shipped beside dist/ (the image stamps it with its
// FEDLET_VERSION build argument), so the virtual node reports the version of the code actually running,
// and an upgrade shows in `kubectl get nodes -o wide` the moment the new leader writes the node status.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Used when no package.json is found beside the compiled code (a bundled or copied-out build). */
const FALLBACK_VERSION = '0.0.0-unknown';

function readVersion(): string {
  // dist/src/version.js → ../../package.json; src/version.ts under vitest → ../package.json.
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const rel of ['../../package.json', '../package.json'])
    try {
      const pkg = JSON.parse(readFileSync(path.join(here, rel), 'utf8')) as { name?: string; version?: unknown };
      if (pkg.name === 'fedlet' && typeof pkg.version === 'string' && /^[0-9A-Za-z.+-]{1,64}$/.test(pkg.version))
        return pkg.version;
    } catch {
      /* not there: try the next candidate */
    }
  return FALLBACK_VERSION;
}

export const FEDLET_VERSION = readVersion();
