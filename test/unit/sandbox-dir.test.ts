import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { clearSandboxFiles } from '../../sandbox/sandbox.js';

describe('sandbox up on a used directory', () => {
  it('removes exactly what a stopped sandbox wrote and keeps everything else', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fedlet-sbdir-'));
    for (const d of ['upper', 'lower-1', 'lower-12']) mkdirSync(path.join(dir, d, 'etcd'), { recursive: true });
    for (const f of ['sandbox.json', 'upper.kubeconfig', 'fedlet-lower-1.log', 'notes.txt', 'lower-x', 'my.log']) {
      writeFileSync(path.join(dir, f), 'x');
    }
    expect(clearSandboxFiles(dir)).toEqual([
      'fedlet-lower-1.log',
      'lower-1',
      'lower-12',
      'sandbox.json',
      'upper',
      'upper.kubeconfig',
    ]);
    expect(readdirSync(dir).sort()).toEqual(['lower-x', 'my.log', 'notes.txt']);
    expect(clearSandboxFiles(dir)).toEqual([]);
  });
});
