// heapGrowthPercent: the value reaches V8 as --heap-growing-percent, 0 leaves V8 alone, and a value V8
// could not honour is refused with the option's name and range.
import { beforeEach, describe, expect, it, vi } from 'vitest';

const setFlags = vi.fn();
vi.mock('node:v8', () => ({ default: { setFlagsFromString: (f: string) => setFlags(f) } }));
const { applyHeapGrowth } = await import('../../app/heap-growth.js');

describe('applyHeapGrowth', () => {
  beforeEach(() => setFlags.mockClear());

  it("sets V8's growing percent", () => {
    applyHeapGrowth(20);
    expect(setFlags).toHaveBeenCalledWith('--heap-growing-percent=20');
  });

  it("leaves V8's own factor at 0", () => {
    applyHeapGrowth(0);
    expect(setFlags).not.toHaveBeenCalled();
  });

  it('refuses a percentage V8 would not honour, naming the option and the range', () => {
    expect(() => applyHeapGrowth(301)).toThrow(/heapGrowthPercent 301: want a whole number from 0 .* to 300/);
    expect(() => applyHeapGrowth(2.5)).toThrow(/heapGrowthPercent 2.5/);
    expect(setFlags).not.toHaveBeenCalled();
  });
});
