import { describe, expect, it } from 'vitest';
import { KubeApiError } from '../../src/kube/client.js';
import { classifyRejection, CONDITION_LOWER_ACCEPTED, RejectionTracker } from '../../provider/workload/lower-rejection.js';

const err = (code: number, text: string) =>
  new KubeApiError(code, 'Forbidden', `POST /api/v1/namespaces/x/pods: ${code} ${text}`, 'POST', '/api/v1/namespaces/x/pods');

describe('classifyRejection', () => {
  it.each([
    [403, 'pods "a" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true', false],
    [403, 'pods "a" is forbidden: exceeded quota: q, requested: pods=1, used: pods=0, limited: pods=0', true],
    [403, 'pods "a" is forbidden: status unknown for quota: q, resources: pods', true],
    [403, 'pods "a" is forbidden: unable to create new content in namespace x because it is being terminated', true],
    [403, 'pods "a" is forbidden: error looking up service account ns/default: serviceaccount "default" not found', true],
    [403, 'pods "a" is forbidden: error looking up service account ns/robot: serviceaccount "robot" not found', false],
    [403, 'pods is forbidden: User "system:serviceaccount:fedlet-system:fedlet" cannot create resource "pods"', true],
    [422, 'Pod "a" is invalid: metadata.annotations: Too long: must have at most 262144 bytes', false],
    [400, 'admission webhook "deny.example.com" denied the request: no', false],
    [413, 'Request entity too large: limit is 3145728', false],
  ])('%i %s → transient=%s', (code, text, transient) => {
    const r = classifyRejection(err(code, text));
    expect(r).toEqual({ code, message: text, transient });
  });

  it.each([409, 404, 500, 503, 429, 0])('%i is not a refusal', (code) => {
    expect(classifyRejection(err(code, 'x'))).toBeUndefined();
  });

  it('ignores errors that are not API answers', () => {
    expect(classifyRejection(new Error('boom'))).toBeUndefined();
  });
});

describe('RejectionTracker', () => {
  const pod = { uid: 'u1', key: 'ns/a' };
  const permanent = { code: 403, message: 'violates PodSecurity', transient: false };
  const quota = { code: 403, message: 'exceeded quota', transient: true };

  it('backs off exponentially, dates the condition from the first refusal, fails a permanent one at the deadline', () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const t = new RejectionTracker({ failAfterSeconds: 60, baseDelayMs: 1000, maxDelayMs: 30_000 }, () => now);
    const first = t.decide(pod, permanent, undefined, 'eu');
    expect(first).toMatchObject({ kind: 'retry', retryAfterMs: 1000 });
    if (first.kind !== 'retry') throw new Error('retry expected');
    expect(first.condition).toMatchObject({
      type: CONDITION_LOWER_ACCEPTED,
      status: 'False',
      reason: 'LowerRejected',
      lastTransitionTime: '2026-01-01T00:00:00.000Z',
    });
    expect(first.message).toContain('lower cluster eu refused the pod (403): violates PodSecurity');
    now += 1000;
    expect(t.decide(pod, permanent, first.condition, 'eu')).toMatchObject({ kind: 'retry', retryAfterMs: 2000 });
    now += 50_000;
    for (const want of [4000, 8000])
      expect(t.decide(pod, permanent, first.condition, 'eu')).toMatchObject({ retryAfterMs: want });
    // The next delay (16 s) would pass the deadline: never later than the deadline.
    const near = t.decide(pod, permanent, first.condition, 'eu');
    expect(near.kind === 'retry' && near.retryAfterMs).toBe(9100);
    now += 9100;
    const failed = t.decide(pod, permanent, first.condition, 'eu');
    expect(failed.kind).toBe('fail');
    expect(t.lastMessage('ns/a')).toContain('violates PodSecurity');
  });

  it('never fails a transient refusal; caps the delay', () => {
    let now = 0;
    const t = new RejectionTracker({ failAfterSeconds: 1, maxDelayMs: 30_000 }, () => now);
    for (let i = 0; i < 20; i++) {
      const d = t.decide(pod, quota, undefined, 'eu');
      expect(d.kind).toBe('retry');
      if (d.kind === 'retry') expect(d.retryAfterMs).toBeLessThanOrEqual(30_000);
      now += 60_000;
    }
  });

  it('restores the start of a refusal from the upper condition after a restart', () => {
    const now = Date.parse('2026-01-01T00:10:00Z');
    const t = new RejectionTracker({ failAfterSeconds: 60 }, () => now);
    const prev = { type: CONDITION_LOWER_ACCEPTED, status: 'False', lastTransitionTime: '2026-01-01T00:00:00Z' };
    expect(t.decide(pod, permanent, prev, 'eu').kind).toBe('fail');
  });

  it('forgets a pod once it is accepted', () => {
    const t = new RejectionTracker({ failAfterSeconds: 60 });
    t.decide(pod, quota, undefined, 'eu');
    expect(t.lastMessage('ns/a')).toBeDefined();
    t.accepted('u1', 'ns/a');
    expect(t.lastMessage('ns/a')).toBeUndefined();
  });
});
