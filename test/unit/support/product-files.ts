// The product's TypeScript files, for the unit tests that read the code itself (layers, type names,
// function sizes): the folders that ship, never test/.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const productDirs = ['app', 'src', 'provider', 'scheduler-plugin', 'sandbox'];

export function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every product .ts file, as an absolute path. */
export function productFiles(): string[] {
  return productDirs.flatMap((d) => tsFiles(path.join(repoRoot, d)));
}
