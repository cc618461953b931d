// Lower events are mirrored upstairs only when they tell the upper user something its pod's status does
// not: each one is an upper write.
import { describe, expect, it } from 'vitest';
import { worthMirroring, type LowerEventLike } from '../../provider/workload/lower-events.js';

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
