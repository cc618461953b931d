// Lower events are mirrored upstairs only when they tell the upper user something its pod's status does
// not: each one is an upper write.
import { describe, expect, it } from 'vitest';
import { worthMirroring, type LowerEventLike } from '../../provider/workload/lower-events.js';
import { Informer, retainCount } from '../../src/kube/informer.js';
import type { KubeObject } from '../../src/kube/types.js';
import { createLogger } from '../../src/log.js';
import { FakeKube } from './support/fake-kube.js';

describe('worthMirroring', () => {
  it.each([
    [{ type: 'Warning', reason: 'FailedScheduling', message: '0/3 nodes are available' }, true],
    [{ type: 'Warning', reason: 'BackOff', message: 'Back-off restarting failed container' }, true],
    [{ type: 'Warning', reason: 'Started', message: 'odd, but a Warning' }, true],
    [{ type: 'Normal', reason: 'Scheduled', message: 'Successfully assigned d/web to node-7' }, false],
    [{ type: 'Normal', reason: 'Pulling', message: 'Pulling image "img"' }, true],
    [{ type: 'Normal', reason: 'Pulled', message: 'Successfully pulled image "img" in 1.2s' }, true],
    [{ type: 'Normal', reason: 'Killing', message: 'Stopping container c' }, true],
    [{ type: 'Normal', reason: 'Pulled', message: 'Container image "img" already present on machine' }, false],
    [{ type: 'Normal', reason: 'Created', message: 'Created container: c' }, false],
    [{ type: 'Normal', reason: 'Started', message: 'Started container c' }, false],
  ] as Array<[LowerEventLike, boolean]>)('%o → %s', (e, mirrored) => {
    expect(worthMirroring(e)).toBe(mirrored);
  });
});

describe('the lower events cache', () => {
  type Ev = KubeObject & { count?: number; message?: string; reason?: string };
  const until = async (ok: () => boolean) => {
    for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  };

  it('keeps only what the next update is compared with, and an update that raises the count is seen in full', async () => {
    const kube = new FakeKube();
    const ev = (count: number): Ev => ({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'web.17', namespace: 'd' },
      reason: 'BackOff',
      message: 'Back-off restarting failed container',
      count,
    });
    await kube.create('/api/v1/namespaces/d/events', ev(1));
    const inf = new Informer<Ev>({
      client: kube,
      path: '/api/v1/events',
      log: createLogger({ level: 'silent' }),
      retain: retainCount,
    });
    const seen: Array<[number | undefined, string | undefined, number | undefined]> = [];
    inf.addHandlers({
      onAdd: (e) => seen.push([e.count, e.message, undefined]),
      onUpdate: (e, old) => seen.push([e.count, e.message, old.count]),
    });
    inf.start();
    await inf.waitForSync();
    await kube.replace('/api/v1/namespaces/d/events/web.17', ev(2));
    await until(() => seen.length === 2);
    expect(seen).toEqual([
      [1, 'Back-off restarting failed container', undefined],
      [2, 'Back-off restarting failed container', 1],
    ]);
    const cached = inf.get('d/web.17')!;
    expect(cached.count).toBe(2);
    expect(cached.message).toBeUndefined();
    expect(Object.keys(cached.metadata ?? {})).toEqual(['resourceVersion']);
    await inf.stop();
  });
});
