// Runs last: fedlet ran with exactly the manifests' RBAC; a Forbidden answer anywhere in its logs
// means the manifests lack a permission fedlet uses.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sandbox } from './helpers.js';

describe('fedlet logs after the whole e2e run', () => {
  it('contain no Forbidden errors (the manifests grant everything fedlet uses)', () => {
    const s = sandbox();
    const logs = readdirSync(s.dir).filter((f) => /^fedlet-.*\.log$/.test(f));
    expect(logs.length).toBeGreaterThan(0);
    const hits: string[] = [];
    for (const f of logs) {
      const file = path.join(s.dir, f);
      if (!existsSync(file)) continue;
      for (const line of readFileSync(file, 'utf8').split('\n')) if (/forbidden/i.test(line) && !/"kubelet-api"|subjectaccessreview|kubelet-e2e/i.test(line)) hits.push(`${f}: ${line.slice(0, 300)}`);
    }
    expect(hits).toEqual([]);
  });
});
