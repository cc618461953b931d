// Pod IP remapping: lowerCIDR → upperCIDR pairs of equal prefix length; host bits are kept. Lower
// clusters often reuse the same pod CIDRs, so the upper cluster sees distinct, routable-looking ranges.
import net from 'node:net';

export class RemapError extends Error {}

interface Cidr {
  v6: boolean;
  base: bigint;
  bits: number;
  text: string;
}
export interface CidrPair {
  lower: string;
  upper: string;
}

function toBig(ip: string): { v6: boolean; n: bigint } | undefined {
  if (net.isIPv4(ip)) return { v6: false, n: ip.split('.').reduce((a, p) => (a << 8n) + BigInt(Number(p)), 0n) };
  if (!net.isIPv6(ip)) return undefined;
  let s = ip;
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4tail) {
    const n = toBig(v4tail[1]!)!.n;
    s = s.slice(0, -v4tail[1]!.length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return { v6: true, n: groups.reduce((a, g) => (a << 16n) + BigInt(parseInt(g || '0', 16)), 0n) };
}

function fromBig(n: bigint, v6: boolean): string {
  if (!v6) return [24n, 16n, 8n, 0n].map((s) => ((n >> s) & 255n).toString()).join('.');
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((n >> BigInt(i * 16)) & 0xffffn).toString(16));
  // compress the longest run of zero groups
  let best = -1,
    bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function parseCidr(text: string): Cidr {
  const [ip, len] = text.trim().split('/');
  const b = ip ? toBig(ip) : undefined;
  const bits = Number(len);
  if (!b || !Number.isInteger(bits) || bits < 0 || bits > (b.v6 ? 128 : 32))
    throw new RemapError(`"${text}" is not a CIDR such as 10.244.0.0/16 or fd00::/64`);
  const width = b.v6 ? 128n : 32n;
  const mask = ((1n << width) - 1n) ^ ((1n << (width - BigInt(bits))) - 1n);
  return { v6: b.v6, base: b.n & mask, bits, text };
}

export class IpRemapper {
  private readonly pairs: Array<{ lower: Cidr; upper: Cidr }>;
  constructor(pairs: CidrPair[]) {
    this.pairs = pairs.map((p) => {
      const lower = parseCidr(p.lower);
      const upper = parseCidr(p.upper);
      if (lower.v6 !== upper.v6)
        throw new RemapError(`pod IP remap ${p.lower} → ${p.upper}: both sides must be IPv4 or both IPv6`);
      if (lower.bits !== upper.bits)
        throw new RemapError(
          `pod IP remap ${p.lower} → ${p.upper}: prefix lengths differ (/${lower.bits} vs /${upper.bits}); they must be equal`,
        );
      return { lower, upper };
    });
  }

  /** Maps a lower IP to the upper range of the first matching pair; unmatched IPs pass unchanged. */
  map(ip: string): string {
    const b = toBig(ip);
    if (!b) return ip;
    for (const { lower, upper } of this.pairs) {
      if (lower.v6 !== b.v6) continue;
      const width = b.v6 ? 128n : 32n;
      const hostMask = (1n << (width - BigInt(lower.bits))) - 1n;
      if ((b.n & ~hostMask & ((1n << width) - 1n)) !== lower.base) continue;
      return fromBig(upper.base | (b.n & hostMask), b.v6);
    }
    return ip;
  }
}

/** Parses "10.244.0.0/16=10.1.0.0/16,fd00::/64=fd01::/64". */
export function parseRemapPairs(spec: string): CidrPair[] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const [lower, upper, extra] = s.split('=');
      if (!lower || !upper || extra !== undefined) throw new RemapError(`pod IP remap "${s}" must look like lowerCIDR=upperCIDR`);
      return { lower: lower.trim(), upper: upper.trim() };
    });
}
