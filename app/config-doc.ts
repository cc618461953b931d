// docs/configuration.md carries the option table generated from src/config.ts between two markers;
// `fedlet config-reference --update FILE` rewrites that part, and a unit test fails when it is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { ConfigError, optionsMarkdown } from '../src/config.js';

export const TABLE_START = '<!-- options:start -->';
export const TABLE_END = '<!-- options:end -->';

/** The document with the text between the markers replaced by the generated table. */
export function spliceOptionsTable(doc: string, table = optionsMarkdown()): string {
  const start = doc.indexOf(TABLE_START);
  const end = doc.indexOf(TABLE_END);
  if (start < 0 || end < start)
    throw new ConfigError(`the document has no ${TABLE_START} … ${TABLE_END} section for the option table`);
  return `${doc.slice(0, start + TABLE_START.length)}\n${table}\n${doc.slice(end)}`;
}

/** Rewrites the option table of a file; true when it changed. */
export function updateOptionsTable(file: string): boolean {
  let doc: string;
  try {
    doc = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const next = spliceOptionsTable(doc);
  if (next === doc) return false;
  writeFileSync(file, next);
  return true;
}
