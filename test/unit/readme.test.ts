// The README is the front door and docs/ the reference: the option table in docs/configuration.md is
// exactly the generated one, the README names the commands CI runs, and no link or cited path points at
// something that moved.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { options } from '../../src/config.js';
import { spliceOptionsTable } from '../../app/config-doc.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (f: string) => readFileSync(path.join(root, f), 'utf8');
const docs = readdirSync(path.join(root, 'docs'))
  .filter((f) => f.endsWith('.md'))
  .map((f) => `docs/${f}`);
const pages = ['README.md', ...docs];

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to '-'. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  let fence = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    const m = !fence && /^#{1,6}\s+(.*)$/.exec(line);
    if (m) out.add(slug(m[1]!));
  }
  return out;
}

/** Markdown links outside code blocks: [text](target). */
function links(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

describe('README and docs', () => {
  const readme = read('README.md');

  it('is a front door of at most 300 lines', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(300);
  });

  it('gives the set-up and test commands that .ci/run runs, and npm start', () => {
    const ci = read('.ci/run');
    for (const cmd of ['npm run setup', 'npm test']) {
      expect(readme).toContain(cmd);
      expect(ci).toContain(cmd);
    }
    expect(readme).toMatch(/^npm start\b/m);
  });

  it('docs/configuration.md documents every option with its flag, env var and YAML key', () => {
    const doc = read('docs/configuration.md');
    for (const o of options) {
      expect(doc, o.key).toContain(`\`--${o.flag}\``);
      expect(doc, o.key).toContain(`\`${o.env}\``);
      expect(doc, o.key).toContain(`\`${o.key}\``);
    }
  });

  it('the option table of docs/configuration.md is the generated one (config-reference --update)', () => {
    const doc = read('docs/configuration.md');
    expect(
      spliceOptionsTable(doc),
      "docs/configuration.md is stale: run 'node dist/app/cli.js config-reference --update docs/configuration.md'",
    ).toBe(doc);
  });

  it('links every page of docs/ from the README', () => {
    for (const d of docs) expect(readme, d).toContain(`](${d})`);
  });

  it('every relative link resolves to a file, and every anchor to a heading there', () => {
    const broken: string[] = [];
    for (const page of pages) {
      for (const target of links(read(page))) {
        if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
        const [file = '', anchor] = target.split('#');
        const resolved = file ? path.normalize(path.join(path.dirname(page), file)) : page;
        if (!existsSync(path.join(root, resolved))) {
          broken.push(`${page}: ${target} (no ${resolved})`);
          continue;
        }
        if (anchor && resolved.endsWith('.md') && !anchors(read(resolved)).has(anchor))
          broken.push(`${page}: ${target} (no heading #${anchor} in ${resolved})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('every repository path the docs cite in backticks exists', () => {
    const cited = /`((?:app|src|provider|scheduler-plugin|sandbox|test|docs|manifests|charts)\/[\w./-]*)`/g;
    const missing: string[] = [];
    for (const page of pages)
      for (const m of read(page).matchAll(cited)) {
        const p = m[1]!.replace(/\/$/, '');
        if (!existsSync(path.join(root, p))) missing.push(`${page}: ${m[1]}`);
      }
    expect(missing).toEqual([]);
  });
});
