import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { BounceBack, bounceDecision } from '../../provider/workload/bounce-back.js';
import { avoidReason, mergeAvoid } from '../../src/scheduling/avoid.js';
import { buildSummary } from '../../provider/node/summary.js';
import type { Pod } from '../../src/kube/types.js';
import { FakeClock } from './support/fake-clock.js';

const log = pino({ level: 'silent' });
const t0 = Date.parse('2026-01-01T00:00:00Z');

const upper: Pod = {
  metadata: {
    name: 'web-1',
    namespace: 'd',
    uid: 'u1',
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'rs-1', controller: true }],
  },
  spec: { containers: [{ name: 'c' }] },
};
const lowerUnschedulable = (since: number, extra: Partial<Pod['spec']> = {}): Pod => ({
  metadata: { name: 'web-1', namespace: 'd' },
  spec: { containers: [{ name: 'c' }], ...extra },
  status: {
    phase: 'Pending',
    conditions: [
      {
        type: 'PodScheduled',
        status: 'False',
        reason: 'Unschedulable',
        message: '0/2 nodes are available',
        lastTransitionTime: new Date(since).toISOString(),
      },
    ],
  },
});

describe('bounce-back decision', () => {
  const o = { bounceAfterSeconds: 30, clusterName: 'eu-1' };
  it.each([
    ['scheduled lower pod', { ...lowerUnschedulable(t0), status: { phase: 'Running' } }, t0 + 60_000, { kind: 'none' }],
    ['bound to a lower node', lowerUnschedulable(t0, { nodeName: 'n1' }), t0 + 60_000, { kind: 'none' }],
    ['unschedulable, before the deadline', lowerUnschedulable(t0), t0 + 10_000, { kind: 'recheck', retryAfterMs: 20_200 }],
    ['unschedulable, at the deadline', lowerUnschedulable(t0), t0 + 30_000, { kind: 'bounce', reason: 'LowerUnschedulable' }],
  ] as const)('%s', (_name, lower, now, want) => {
    expect(bounceDecision(lower as Pod, o, now)).toMatchObject(want);
  });
});

describe('bounce-back record', () => {
  function harness() {
    const clock = new FakeClock(t0);
    let n = 0;
    const b = new BounceBack({
      bounceAfterSeconds: 30,
      avoidAfterBounceSeconds: 120,
      clusterName: 'eu-1',
      onChange: () => n++,
      log,
      clock,
    });
    return { clock, b, changes: () => n };
  }

  it('records the controller on a bounce, publishes only live entries, and the extender enforces them', async () => {
    const { clock, b, changes } = harness();
    expect(b.check(upper, lowerUnschedulable(t0 - 31_000)).kind).toBe('bounce');
    expect(changes()).toBe(1);
    expect(b.live()).toEqual({ 'rs-1': '2026-01-01T00:02:00.000Z' });
    const s = buildSummary('fedlet-eu-1', 'eu-1', [], new Map(), b.live(), new Date(clock.now()));
    expect(avoidReason(s, upper, clock.now())).toMatch(/bounced from lower cluster eu-1 .* until 2026-01-01T00:02:00.000Z/);
    const other: Pod = { ...upper, metadata: { ...upper.metadata, ownerReferences: [] } };
    expect(avoidReason(s, other, clock.now())).toBeUndefined();
    await clock.advance(121_000);
    expect(b.live()).toEqual({});
    expect(avoidReason(s, upper, clock.now())).toBeUndefined();
  });

  it('holds the pod until the extender has the record, or until that wait runs out', async () => {
    const { clock, b, changes } = harness();
    expect(b.check(upper, lowerUnschedulable(t0 - 31_000)).kind).toBe('bounce');
    expect(b.publishedFor(upper)).toBe(false);
    // The same decision again a moment later moves nothing (no summary rewrite per retry).
    await clock.advance(500);
    expect(b.check(upper, lowerUnschedulable(t0 - 31_000)).kind).toBe('bounce');
    expect(changes()).toBe(1);
    // A summary published before the entry changed does not count; the one carrying it does.
    b.markPublished({ avoid: { 'rs-1': '2025-12-31T00:00:00.000Z' } });
    expect(b.publishedFor(upper)).toBe(false);
    b.markPublished({ avoid: b.live() });
    expect(b.publishedFor(upper)).toBe(true);
    // A pod without a controller has nothing to wait for.
    expect(b.publishedFor({ ...upper, metadata: { ...upper.metadata, ownerReferences: [] } })).toBe(true);
    // A publisher that never writes holds the next one for a bounded time only.
    const other: Pod = {
      ...upper,
      metadata: { ...upper.metadata, ownerReferences: [{ controller: true, uid: 'rs-2' } as never] },
    };
    b.avoidController(other, 'test');
    expect(b.publishedFor(other)).toBe(false);
    await clock.advance(16_000);
    expect(b.publishedFor(other)).toBe(true);
  });

  it('never bounces a pod whose claims keep it in this cluster (it waits there)', () => {
    const { b, changes } = harness();
    expect(b.check(upper, lowerUnschedulable(t0 - 31_000), 'claims data').kind).toBe('none');
    expect(changes()).toBe(0);
    expect(b.live()).toEqual({});
  });

  it('is restored from the summary published before a restart', () => {
    const { b, changes } = harness();
    b.restore({ avoid: { 'rs-1': '2026-01-01T00:01:00Z', gone: '2025-12-31T00:00:00Z' } });
    expect(changes()).toBe(1);
    expect(b.live()).toEqual({ 'rs-1': '2026-01-01T00:01:00Z' });
  });
});

describe('mergeAvoid (bounce-back record restored from the published summary)', () => {
  const now = t0;
  it('takes unexpired entries, keeps the later expiry, ignores expired and malformed ones', () => {
    const into: Record<string, string> = { a: '2026-01-01T00:05:00Z', b: '2026-01-01T00:01:00Z' };
    const changed = mergeAvoid(
      into,
      {
        a: '2026-01-01T00:02:00Z',
        b: '2026-01-01T00:09:00Z',
        c: '2026-01-01T00:03:00Z',
        old: '2025-12-31T23:59:00Z',
        bad: 42,
        worse: 'not a date',
      },
      now,
    );
    expect(changed).toBe(true);
    expect(into).toEqual({ a: '2026-01-01T00:05:00Z', b: '2026-01-01T00:09:00Z', c: '2026-01-01T00:03:00Z' });
    expect(mergeAvoid(into, { a: '2026-01-01T00:04:00Z' }, now)).toBe(false);
  });
});
