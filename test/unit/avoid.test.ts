import { describe, expect, it } from 'vitest';
import { mergeAvoid } from '../../provider/summary.js';

describe('mergeAvoid (bounce-back record restored from the published summary)', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
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
