// The bench's memory tools: the settings of part `memory` are parsed as written (a bad one refused by
// name), and an smaps listing is split into files, the brk heap, glibc's 64 MiB thread arenas and other
// anonymous memory.
import { describe, expect, it } from 'vitest';
import { memorySettings } from '../bench/memory-settings.js';
import { breakdown, parseSmaps } from '../bench/smaps.js';

describe('bench memory settings', () => {
  it('parses labels and their environment; a label alone changes nothing', () => {
    expect(memorySettings('default;a2:MALLOC_ARENA_MAX=2,NODE_OPTIONS=--max-semi-space-size=4 --v8-pool-size=2')).toEqual([
      { label: 'default', env: {} },
      { label: 'a2', env: { MALLOC_ARENA_MAX: '2', NODE_OPTIONS: '--max-semi-space-size=4 --v8-pool-size=2' } },
    ]);
    expect(memorySettings(undefined)).toEqual([{ label: 'default', env: {} }]);
  });

  it('refuses an entry that is not VAR=value', () => {
    expect(() => memorySettings('x:MALLOC_ARENA_MAX')).toThrow(/'MALLOC_ARENA_MAX' in x/);
  });
});

describe('smaps breakdown', () => {
  const map = (range: string, perms: string, name: string, rssKiB: number) =>
    `${range} ${perms} 00000000 00:00 0 ${name}\nSize: 4 kB\nRss: ${rssKiB} kB\nPss: 1 kB\n`;
  it('tells thread arenas (64 MiB aligned, read-write part plus inaccessible rest) from other anonymous memory', () => {
    const text = [
      map('55d000000000-55d000100000', 'r-xp', '/usr/bin/node', 1000),
      map('55d100000000-55d100200000', 'rw-p', '[heap]', 2000),
      // An arena: 0x7f0000000000 is 64 MiB aligned; 0x21000 read-write, the rest up to 64 MiB inaccessible.
      map('7f0000000000-7f0000021000', 'rw-p', '', 132),
      map('7f0000021000-7f0004000000', '---p', '', 0),
      // Not an arena: aligned but its inaccessible tail does not complete 64 MiB (a V8 reservation).
      map('7f0008000000-7f0008040000', 'rw-p', '', 256),
      map('7f0008040000-7f0009000000', '---p', '', 0),
      map('7f1000000000-7f1000001000', 'rw-p', '[stack]', 8),
    ].join('');
    expect(breakdown(parseSmaps(text))).toEqual({
      file: 1000,
      brk: 2000,
      arenas: 132,
      arenaCount: 1,
      otherAnon: 264,
      total: 3396,
    });
  });
});
