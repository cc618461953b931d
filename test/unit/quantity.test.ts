import { describe, expect, it } from 'vitest';
import { canonicalQuantity, displayQuantity, formatQuantity, parseQuantity, QuantityError } from '../../src/util/quantity.js';

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

describe('canonicalQuantity / displayQuantity (what kubectl prints)', () => {
  it.each([
    ['memory', '68719476736', '64Gi'],
    ['memory', '16384000Ki', '16000Mi'],
    ['memory', '1536', '1536'], // 1.5Ki is no whole number of Ki
    ['memory', '1024', '1Ki'],
    ['memory', '1000', '1k'], // under 1024 bytes: DecimalSI, as in Go
    ['memory', '500m', '500m'],
    ['memory', '1G', '1G'], // 10^9 is not a whole number of Ki: decimal, as the user wrote it
    ['ephemeral-storage', String(100 * 1024 ** 3), '100Gi'],
    ['hugepages-2Mi', String(2 * 1024 ** 2), '2Mi'],
    ['cpu', '4', '4'],
    ['cpu', '1500m', '1500m'],
    ['cpu', '0.5', '500m'],
    ['pods', '1000', '1k'],
    ['pods', '110', '110'],
    ['nvidia.com/gpu', '0', '0'],
    ['memory', undefined, '0'],
    ['memory', 'lots', 'lots'],
  ])('%s %s → %s', (resource, q, want) => expect(displayQuantity(resource, q)).toBe(want));

  it('follows Go: BinarySI keeps bytes that no power of 1024 divides', () => {
    expect(canonicalQuantity(10n ** 12n, 'BinarySI')).toBe('1000000000');
    expect(canonicalQuantity(1000n * 1000n, 'BinarySI')).toBe('1k');
  });

  it('keeps the sign and the largest exact suffix', () => {
    expect(canonicalQuantity(-2048n * 1000n, 'BinarySI')).toBe('-2Ki');
    expect(canonicalQuantity(1024n ** 7n * 1000n, 'BinarySI')).toBe('1024Ei');
    expect(canonicalQuantity(3n * 10n ** 21n, 'DecimalSI')).toBe('3E');
  });
});
