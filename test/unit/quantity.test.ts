import { describe, expect, it } from 'vitest';
import { formatQuantity, parseQuantity, QuantityError } from '../../src/util/quantity.js';

describe('parseQuantity', () => {
  it.each([
    ['1', 1000n],
    ['500m', 500n],
    ['1.5', 1500n],
    ['0.1', 100n],
    ['1Ki', 1024000n],
    ['1Gi', 1024n ** 3n * 1000n],
    ['2k', 2_000_000n],
    ['1M', 1_000_000_000n],
    ['1e3', 1_000_000n],
    ['100n', 1n], // rounds up to the next milli-unit, like the API server
    ['1u', 1n],
    ['0', 0n],
    ['-1', -1000n],
    [4, 4000n],
  ])('%s', (q, want) => expect(parseQuantity(q)).toBe(want));

  it('rejects garbage with a clear message', () => {
    expect(() => parseQuantity('12 cores')).toThrow(QuantityError);
    expect(() => parseQuantity('1Gb')).toThrow(/invalid quantity "1Gb"/);
  });

  it('formats whole and milli values', () => {
    expect(formatQuantity(4000n)).toBe('4');
    expect(formatQuantity(1500n)).toBe('1500m');
    expect(formatQuantity(0n)).toBe('0');
  });
});
