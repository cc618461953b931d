// Events are bounded by what a tenant can vary: repeats of one message bump one Event, and past
// maxPerObjectReason distinct messages per (object, type, reason) further ones bump the latest Event
// instead of creating more.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { EventRecorder } from '../../src/events.js';
import { FakeKube } from './support/fake-kube.js';

const log = pino({ level: 'silent' });
const target = { kind: 'Pod', namespace: 'pay', name: 'p', uid: 'u1' };

describe('EventRecorder bounds', () => {
  it('makes at most maxPerObjectReason distinct Events per object and reason; the rest count on the latest', async () => {
    const api = new FakeKube();
    const events = new EventRecorder({
      client: api,
      component: 'fedlet',
      host: 'n',
      log,
      maxPerObjectReason: 3,
      minRepeatIntervalMs: 0,
    });
    for (let i = 0; i < 20; i++) await events.record(target, 'Warning', 'MandatorySecretNotFound', `secret s-${i} is missing`);
    const made = api.items<{ message: string; count: number; reason: string }>('/api/v1/namespaces/pay/events');
    expect(made.map((e) => e.message)).toEqual(['secret s-0 is missing', 'secret s-1 is missing', 'secret s-2 is missing']);
    expect(made[2]!.count).toBe(18);
    // Another reason, or another object, has its own allowance.
    await events.record(target, 'Warning', 'TolerationDropped', 'x');
    await events.record({ ...target, name: 'q', uid: 'u2' }, 'Warning', 'MandatorySecretNotFound', 'secret s-0 is missing');
    expect(api.items('/api/v1/namespaces/pay/events')).toHaveLength(5);
  });

  it('mirrored events with their own identity are bounded the same way', async () => {
    const api = new FakeKube();
    const events = new EventRecorder({
      client: api,
      component: 'fedlet',
      host: 'n',
      log,
      maxPerObjectReason: 2,
      minRepeatIntervalMs: 0,
    });
    for (let i = 0; i < 5; i++) await events.record(target, 'Normal', 'Pulled', `image ${i}`, 1, `lower-uid-${i}`);
    expect(api.items('/api/v1/namespaces/pay/events')).toHaveLength(2);
  });
});
