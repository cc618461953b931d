// Every Kubernetes type is declared once (src/kube/types.ts) and every other type name once across the
// product: two declarations of one name drift apart, and a reader cannot tell which one a module means.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { productDirs, repoRoot as root, tsFiles } from './support/product-files.js';

/** Top-level interface and type alias names a file declares. */
export function declaredTypes(text: string): string[] {
  return [...text.matchAll(/^(?:export\s+)?(?:interface|type)\s+([A-Z]\w*)/gm)].map((m) => m[1]!);
}

describe('type declarations', () => {
  it('reads declarations', () => {
    expect(declaredTypes('export interface A {}\ntype B = string;\n  interface Inner {}\nexport type C<T> = T;')).toEqual([
      'A',
      'B',
      'C',
    ]);
  });

  it('each type name is declared once across the product folders', () => {
    const where = new Map<string, string[]>();
    for (const dir of productDirs)
      for (const f of tsFiles(path.join(root, dir)))
        for (const name of declaredTypes(readFileSync(f, 'utf8')))
          where.set(name, [...(where.get(name) ?? []), path.relative(root, f)]);
    const twice = [...where].filter(([, files]) => files.length > 1).map(([name, files]) => `${name}: ${files.join(', ')}`);
    expect(twice).toEqual([]);
  });
});
