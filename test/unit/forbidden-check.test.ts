import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { forbiddenInLogs } from '../e2e/global-setup.js';

describe('the e2e Forbidden check', () => {
  it('fails on RBAC Forbidden answers except in the minute after a test restarted an API server', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'forbidden-'));
    const cluster = (restarts?: number[]) => ({
      name: 'x',
      role: 'lower',
      dir,
      kubeconfig: '',
      server: '',
      caCert: '',
      processes: [],
      ...(restarts ? { restarts } : {}),
    });
    writeFileSync(
      path.join(dir, 'sandbox.json'),
      JSON.stringify({
        dir,
        external: false,
        upper: cluster(),
        lowers: [cluster([1_000_000])],
        fedlets: [],
        upperKubeconfig: '',
        lowerKubeconfigs: [],
      }),
    );
    writeFileSync(
      path.join(dir, 'fedlet-lower-1.log'),
      [
        '{"time":1010000,"err":"403 pods is forbidden: User \\"x\\" cannot delete resource \\"pods\\""}',
        '{"time":2000000,"err":"403 configmaps is forbidden: User \\"x\\" cannot create resource \\"configmaps\\""}',
        // An admission refusal of a pod (reported as LowerRejected) is not a missing permission.
        '{"time":2000000,"lowerMessage":"pods \\"a\\" is forbidden: violates PodSecurity \\"restricted:latest\\""}',
        '{"time":2000001,"msg":"all good"}',
      ].join('\n'),
    );
    const hits = forbiddenInLogs(dir);
    expect(hits).toHaveLength(1);
    expect(hits[0]).toContain('configmaps is forbidden');
  });
});
