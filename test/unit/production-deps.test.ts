// The container image installs only package.json "dependencies" (npm prune --omit=dev): every package
// the shipped code (src/, provider/, scheduler-plugin/) imports must be one of them.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Bare package names a file imports statically or dynamically (type-only imports vanish at build). */
function importedPackages(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(/^\s*import\s+(?!type\s)[^'";]*?from\s+'([^']+)'/gm),
    ...text.matchAll(/import\(\s*'([^']+)'\s*\)/g),
  ].map((m) => m[1]!);
  return specs
    .filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!));
}

describe('shipped code depends only on production dependencies', () => {
  it('imports nothing from devDependencies', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const offenders: string[] = [];
    const seen = new Set<string>();
    for (const dir of ['src', 'provider', 'scheduler-plugin'])
      for (const f of tsFiles(path.join(root, dir)))
        for (const name of importedPackages(f)) {
          seen.add(name);
          if (!(name in pkg.dependencies)) offenders.push(`${path.relative(root, f)} imports ${name}`);
        }
    expect(offenders).toEqual([]);
    // The scan itself works: the shipped code does import these.
    expect([...seen]).toEqual(expect.arrayContaining(['pino', 'express', 'prom-client', 'js-yaml']));
  });
});
