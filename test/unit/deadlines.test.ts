// Deadlines: each key's callback runs once, after its due time (plus the lateness allowed), whatever
// the order keys were set, replaced or deleted in; one timer serves them all.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Deadlines } from '../../src/util/deadlines.js';

describe('Deadlines', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function make(): { d: Deadlines; fired: string[] } {
    const fired: string[] = [];
    return { d: new Deadlines((k) => fired.push(k), Date.now, 1000), fired };
  }

  it('runs each key once, in due order, a second after its due time', () => {
    const { d, fired } = make();
    const t0 = Date.now();
    d.set('b', t0 + 20_000);
    d.set('a', t0 + 10_000);
    d.set('c', t0 + 30_000);
    vi.advanceTimersByTime(10_999);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['a']);
    vi.advanceTimersByTime(30_000);
    expect(fired).toEqual(['a', 'b', 'c']);
    expect(d.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('holds one timer for many keys', () => {
    const { d, fired } = make();
    for (let i = 0; i < 1000; i++) d.set(`k${i}`, Date.now() + 1000 + ((i * 7919) % 60_000));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(62_000);
    expect(new Set(fired).size).toBe(1000);
    expect(fired).toHaveLength(1000);
  });

  it('a replaced due time wins, a deleted or cleared key never runs', () => {
    const { d, fired } = make();
    const t0 = Date.now();
    d.set('moved', t0 + 5000);
    d.set('moved', t0 + 50_000);
    d.set('gone', t0 + 6000);
    d.delete('gone');
    d.set('unset', t0 + 7000);
    d.set('unset', undefined);
    vi.advanceTimersByTime(40_000);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(20_000);
    expect(fired).toEqual(['moved']);
    d.set('x', Date.now() + 1000);
    d.clear();
    vi.advanceTimersByTime(10_000);
    expect(fired).toEqual(['moved']);
  });

  it('a key due in the past runs on the next turn of the timer', () => {
    const { d, fired } = make();
    d.set('late', Date.now() - 60_000);
    vi.advanceTimersByTime(1000);
    expect(fired).toEqual(['late']);
  });
});
