// Guards on the shape of the product code's module graph: the product (src/, provider/,
// scheduler-plugin/, sandbox/) never reaches into test/, and no module imports itself through others.
// Cycles make load order matter and hide which module owns what; type-only imports count too, since a
// cycle of types is the same tangle of ownership.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { productDirs, repoRoot as root, tsFiles } from './support/product-files.js';

/** Relative module specifiers of a file: import/export … from, side-effect imports and import(). */
function relativeImports(text: string): string[] {
  const specs = [
    ...text.matchAll(/\bfrom\s+['"]([^'"]+)['"]/g),
    ...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm),
    ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
  return [...new Set(specs.filter((s) => s.startsWith('.')))];
}

/** Relative modules a file loads when it is loaded: import/export … from and side-effect imports, not import(). */
function staticImports(text: string): string[] {
  const specs = [
    ...text.matchAll(/^(?:import|export)\s(?!type\s)[^;]*?\bfrom\s+['"]([^'"]+)['"]/gms),
    ...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm),
  ].map((m) => m[1]!);
  return [...new Set(specs.filter((s) => s.startsWith('.')))];
}

function resolve(from: string, spec: string): string {
  const p = path.resolve(path.dirname(from), spec);
  const ts = p.replace(/\.js$/, '.ts');
  return existsSync(ts) ? ts : p;
}

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const dir of productDirs)
    for (const f of tsFiles(path.join(root, dir)))
      g.set(
        path.relative(root, f),
        relativeImports(readFileSync(f, 'utf8')).map((s) => path.relative(root, resolve(f, s))),
      );
  return g;
}

/** Strongly connected components with more than one module (or a self-import): the cycles. */
function cycles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (g.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

describe('product module graph', () => {
  const g = graph();

  it('the scan sees the product code and its imports', () => {
    expect(g.size).toBeGreaterThan(40);
    expect(g.get('app/run.ts')).toContain('provider/lower-provider.ts');
    // dynamic import() counts
    expect(g.get('app/sandbox-command.ts')).toContain('sandbox/sandbox.ts');
  });

  // The layers, bottom up: src/ (the core) imports only itself; provider/, scheduler-plugin/ and sandbox/
  // build on the core and not on each other; app/ (the composition root) is the only folder that knows them
  // all, and nothing imports it.
  it('imports point down the layers only', () => {
    const allowed: Record<string, string[]> = {
      src: ['src'],
      provider: ['provider', 'src'],
      'scheduler-plugin': ['scheduler-plugin', 'src'],
      sandbox: ['sandbox', 'src'],
      app: ['app', 'src', 'provider', 'scheduler-plugin', 'sandbox'],
    };
    const top = (f: string): string => f.split('/')[0]!;
    const upward = [...g].flatMap(([f, deps]) =>
      deps.filter((d) => !(allowed[top(f)] ?? []).includes(top(d))).map((d) => `${f} → ${d}`),
    );
    expect(upward).toEqual([]);
  });

  it('product code never imports from test/', () => {
    const offenders = [...g].flatMap(([f, deps]) => deps.filter((d) => d.startsWith('test/')).map((d) => `${f} → ${d}`));
    expect(offenders).toEqual([]);
  });

  it('has no import cycles', () => {
    expect(cycles(g)).toEqual([]);
  });

  it('finds a cycle when there is one', () => {
    const g2 = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    expect(cycles(g2)).toEqual([['a', 'b', 'c']]);
    expect(
      relativeImports(`import { x } from './x.js';\nconst y = await import('../y.js');\nexport type { Z } from './z.js';`),
    ).toEqual(['./x.js', './z.js', '../y.js']);
  });
});

// What `fedlet run` loads is resident for the life of the process: the commands it does not run stay
// behind import(), and no module it loads calls localeCompare or Intl, whose first use maps ICU's data
// and collation code from the node binary (about 2.5 MiB of RSS at idle; src/util/order.ts).
describe('the run path', () => {
  const loaded = new Set<string>();
  const visit = (f: string): void => {
    if (loaded.has(f) || !existsSync(path.join(root, f))) return;
    loaded.add(f);
    const text = readFileSync(path.join(root, f), 'utf8');
    for (const s of staticImports(text)) visit(path.relative(root, resolve(path.join(root, f), s)));
  };
  visit('app/cli.ts');

  it('loads the run command and not the others', () => {
    expect(loaded).toContain('provider/lower-provider.ts');
    const others = [...loaded].filter((f) =>
      /^(sandbox|scheduler-plugin|app\/(doctor|join|leave|sandbox|extender)|app\/config-doc|src\/status-table)/.test(f),
    );
    expect(others).toEqual([]);
  });

  it('never touches ICU', () => {
    const users = [...loaded].filter((f) =>
      /\.localeCompare\(|\bIntl\.|\.toLocale\w*\(/.test(readFileSync(path.join(root, f), 'utf8')),
    );
    expect(users).toEqual([]);
  });

  it('sees only static imports', () => {
    expect(
      staticImports(
        `import { a } from './a.js';\nimport type { B } from './b.js';\nconst c = await import('./c.js');\nexport {\n  d,\n} from './d.js';`,
      ),
    ).toEqual(['./a.js', './d.js']);
  });
});
