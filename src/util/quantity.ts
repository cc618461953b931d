// Kubernetes resource.Quantity arithmetic in exact milli-units (BigInt), which is what the API server's
// own rounding uses for every resource we add up (cpu, memory, storage, counts, extended resources).
import { byCodeUnit } from './order.js';
const binary: Record<string, bigint> = {
  Ki: 1024n,
  Mi: 1024n ** 2n,
  Gi: 1024n ** 3n,
  Ti: 1024n ** 4n,
  Pi: 1024n ** 5n,
  Ei: 1024n ** 6n,
};
const decimalExp: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

const re = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

export class QuantityError extends Error {}

/** Parses a quantity into milli-units, rounding up fractions of a milli-unit like the API server. */
export function parseQuantity(q: string | number): bigint {
  const s = String(q).trim();
  const m = re.exec(s);
  if (!m) throw new QuantityError(`invalid quantity "${s}": expected a number with an optional suffix such as 500m, 2, 1Gi, 1e3`);
  const sign = m[1] === '-' ? -1n : 1n;
  const [intPart = '0', fracPart = ''] = (m[2] ?? '0').split('.');
  const suffix = m[3] ?? '';
  let mult = 1n;
  let exp = 0;
  if (suffix in binary) mult = binary[suffix]!;
  else if (suffix in decimalExp) exp = decimalExp[suffix]!;
  else exp = Number(suffix.slice(1));
  // value = (int.frac) * mult * 10^exp, in milli-units => * 10^3
  const digits = BigInt((intPart || '0') + fracPart);
  const e = exp + 3 - fracPart.length;
  let num = digits * mult;
  let den = 1n;
  if (e >= 0) num *= 10n ** BigInt(e);
  else den = 10n ** BigInt(-e);
  const rounded = (num + den - 1n) / den; // ceil for positives
  return sign * rounded;
}

/** Formats milli-units back into a canonical-enough quantity string ("1500m", "4", "0"). */
export function formatQuantity(milli: bigint): string {
  if (milli % 1000n === 0n) return (milli / 1000n).toString();
  return `${milli}m`;
}

export type ResourceList = Record<string, string>;
export type MilliList = Map<string, bigint>;

export function toMilli(list: ResourceList | undefined): MilliList {
  const out: MilliList = new Map();
  for (const [k, v] of Object.entries(list ?? {})) out.set(k, parseQuantity(v));
  return out;
}
export function fromMilli(list: MilliList): ResourceList {
  const out: ResourceList = {};
  for (const [k, v] of [...list.entries()].sort(([a], [b]) => byCodeUnit(a, b))) out[k] = formatQuantity(v);
  return out;
}
export function addInto(acc: MilliList, add: MilliList, factor = 1n): void {
  for (const [k, v] of add) acc.set(k, (acc.get(k) ?? 0n) + v * factor);
}
export function maxInto(acc: MilliList, other: MilliList): void {
  for (const [k, v] of other) if (v > (acc.get(k) ?? 0n)) acc.set(k, v);
}

/**
 * How the API server writes a quantity back out (Go's resource.Quantity canonical form), so fedlet's own
 * output reads like kubectl's: BinarySI for byte counts ("64Gi", "1536"), DecimalSI for the rest ("2k",
 * "1500m"). A fraction of a byte or anything under 1024 falls back to DecimalSI, as in Go.
 */
export function canonicalQuantity(milli: bigint, format: 'BinarySI' | 'DecimalSI'): string {
  if (milli === 0n) return '0';
  const negative = milli < 0n;
  const abs = negative ? -milli : milli;
  const sign = negative ? '-' : '';
  if (format === 'BinarySI' && abs % 1000n === 0n && abs >= 1024n * 1000n) {
    const suffixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
    let v = abs / 1000n;
    let i = 0;
    while (i < suffixes.length - 1 && v % 1024n === 0n) {
      v /= 1024n;
      i++;
    }
    return `${sign}${v}${suffixes[i]}`;
  }
  const suffixes = ['m', '', 'k', 'M', 'G', 'T', 'P', 'E'];
  let v = abs;
  let i = 0;
  while (i < suffixes.length - 1 && v % 1000n === 0n) {
    v /= 1000n;
    i++;
  }
  return `${sign}${v}${suffixes[i]}`;
}

/** Resources counted in bytes, which kubectl shows with binary suffixes. */
export function isByteResource(name: string): boolean {
  return name === 'memory' || name === 'ephemeral-storage' || name === 'storage' || name.startsWith('hugepages-');
}

/**
 * A resource quantity as kubectl would show it: byte counts with the binary suffix they divide by
 * ("68719476736" memory → "64Gi"), else (like "1G") in decimal form; unparsable text as is.
 */
export function displayQuantity(resource: string, q: string | undefined): string {
  if (q === undefined || q === '') return '0';
  let milli: bigint;
  try {
    milli = parseQuantity(q);
  } catch {
    return q;
  }
  const binary = isByteResource(resource) ? canonicalQuantity(milli, 'BinarySI') : '';
  return /i$/.test(binary) ? binary : canonicalQuantity(milli, 'DecimalSI');
}
