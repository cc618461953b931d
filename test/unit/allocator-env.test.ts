// The allocator settings fedlet is measured with are the ones its image ships (the Dockerfile's ENV says
// the same as src/allocator-env.ts), and an operator's own value for one of them wins over the default.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ALLOCATOR_ENV, allocatorEnv } from '../../src/allocator-env.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('allocator environment', () => {
  it("is set by the image's final stage, variable for variable", () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const env = new Map(
      [...finalStage.matchAll(/^ENV (.+)$/gm)].flatMap((m) => m[1]!.split(/\s+/).map((kv) => kv.split('=') as [string, string])),
    );
    for (const [k, v] of Object.entries(ALLOCATOR_ENV)) expect([k, env.get(k)]).toEqual([k, v]);
  });

  it('keeps what the environment already sets and adds the rest', () => {
    expect(allocatorEnv({ MALLOC_ARENA_MAX: '4', PATH: '/bin' })).toEqual({ ...ALLOCATOR_ENV, MALLOC_ARENA_MAX: '4' });
    expect(allocatorEnv({})).toEqual(ALLOCATOR_ENV);
  });
});
