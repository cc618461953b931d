// Functions a reader can hold: no product function (or method, or arrow function) longer than 150 lines.
// Longer ones mix jobs; split them into pure builders and one writer, as sandbox/kwok-config.ts does.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { productFiles, repoRoot as root } from './support/product-files.js';

const MAX_LINES = 150;

/** Every function-like node of a source text with its line count (the body's first to last line). */
export function functionSizes(file: string, text: string): Array<{ name: string; lines: number }> {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const out: Array<{ name: string; lines: number }> = [];
  const visit = (n: ts.Node): void => {
    if (ts.isFunctionLike(n) && 'body' in n && n.body) {
      const start = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(n.getEnd()).line;
      const name = n.name && ts.isIdentifier(n.name) ? n.name.text : '(anonymous)';
      out.push({ name, lines: end - start + 1 });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

describe('function size', () => {
  it('measures functions', () => {
    const sizes = functionSizes(
      'x.ts',
      'function a() {\n  return 1;\n}\nclass B {\n  m() {\n    const f = () => {\n      return 2;\n    };\n  }\n}\n',
    );
    expect(sizes).toEqual([
      { name: 'a', lines: 3 },
      { name: 'm', lines: 5 },
      { name: '(anonymous)', lines: 3 },
    ]);
  });

  it(`no product function is longer than ${MAX_LINES} lines`, () => {
    const long = productFiles().flatMap((f) =>
      functionSizes(f, readFileSync(f, 'utf8'))
        .filter((s) => s.lines > MAX_LINES)
        .map((s) => `${path.relative(root, f)} ${s.name}: ${s.lines} lines`),
    );
    expect(long).toEqual([]);
  });
});
