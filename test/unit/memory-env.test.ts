// The memory settings fedlet is measured with are the ones its image ships (the Dockerfile's ENV says
// the same as src/memory-env.ts), and an operator's own value for one of them wins over the default.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MEMORY_ENV, memoryEnv } from '../../src/memory-env.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('memory environment', () => {
  it("is set by the image's final stage, variable for variable", () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const env = new Map(
      [...finalStage.matchAll(/^ENV (.+)$/gm)].flatMap((m) =>
        m[1]!.split(/\s+/).map((kv) => kv.split(/=(.*)/s, 2) as [string, string]),
      ),
    );
    for (const [k, v] of Object.entries(MEMORY_ENV)) expect([k, env.get(k)]).toEqual([k, v]);
  });

  it('keeps what the environment already sets and adds the rest', () => {
    expect(memoryEnv({ MALLOC_ARENA_MAX: '4', PATH: '/bin' })).toEqual({ ...MEMORY_ENV, MALLOC_ARENA_MAX: '4' });
    expect(memoryEnv({})).toEqual(MEMORY_ENV);
  });

  it("adds the semi-space size to other Node options, and leaves an operator's own size alone", () => {
    expect(memoryEnv({ NODE_OPTIONS: '--heapsnapshot-signal=SIGUSR2' }).NODE_OPTIONS).toBe(
      '--heapsnapshot-signal=SIGUSR2 --max-semi-space-size=4',
    );
    expect(memoryEnv({ NODE_OPTIONS: '--max-semi-space-size=16' }).NODE_OPTIONS).toBe('--max-semi-space-size=16');
  });
});
