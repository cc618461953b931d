// Where a process's resident memory is, from /proc/<pid>/smaps: file-backed mappings (the node binary and
// shared libraries), the brk heap (glibc's main malloc arena), glibc's per-thread malloc arenas (64 MiB
// reservations aligned to 64 MiB: a read-write part followed by an inaccessible rest), and other anonymous
// mappings (V8's heap pages, its code space and large malloc chunks glibc mmaps on its own). The bench
// prints it beside V8's own figures so that memory outside the V8 heap can be attributed.
import { readFileSync } from 'node:fs';

export interface SmapsBreakdown {
  /** KiB resident per class. */
  file: number;
  brk: number;
  arenas: number;
  /** Thread arena reservations seen (each 64 MiB of address space). */
  arenaCount: number;
  otherAnon: number;
  total: number;
}

interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  name: string;
  rss: number;
}

const ARENA = 64n * 1024n * 1024n;

export function parseSmaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      out.push({ start: BigInt(`0x${head[1]}`), end: BigInt(`0x${head[2]}`), perms: head[3]!, name: head[4]!, rss: 0 });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && out.length) out[out.length - 1]!.rss = Number(rss[1]);
  }
  return out;
}

/** Classifies mappings; a thread arena is an anonymous read-write mapping at a 64 MiB boundary whose inaccessible tail completes 64 MiB. */
export function breakdown(maps: Mapping[]): SmapsBreakdown {
  const b: SmapsBreakdown = { file: 0, brk: 0, arenas: 0, arenaCount: 0, otherAnon: 0, total: 0 };
  for (const [i, m] of maps.entries()) {
    b.total += m.rss;
    if (m.name.startsWith('/')) b.file += m.rss;
    else if (m.name === '[heap]') b.brk += m.rss;
    else if (m.name.startsWith('[')) b.otherAnon += m.rss;
    else if (isArena(m, maps[i + 1])) {
      b.arenas += m.rss;
      b.arenaCount++;
    } else b.otherAnon += m.rss;
  }
  return b;
}

function isArena(m: Mapping, next: Mapping | undefined): boolean {
  if (m.start % ARENA !== 0n || !m.perms.startsWith('rw')) return false;
  const size = m.end - m.start;
  if (size === ARENA) return true;
  return next !== undefined && next.start === m.end && next.perms.startsWith('---') && next.end - m.start === ARENA;
}

export function smapsBreakdown(pid: number): SmapsBreakdown | undefined {
  try {
    return breakdown(parseSmaps(readFileSync(`/proc/${pid}/smaps`, 'utf8')));
  } catch {
    return undefined;
  }
}

/** One line: MiB per class. */
export function smapsText(b: SmapsBreakdown | undefined): string {
  if (!b) return 'smaps unreadable';
  const mib = (k: number) => (k / 1024).toFixed(0);
  return (
    `smaps: files ${mib(b.file)}, brk heap ${mib(b.brk)}, ${b.arenaCount} malloc thread arena(s) ${mib(b.arenas)}, ` +
    `other anonymous (V8 pages, mmapped chunks) ${mib(b.otherAnon)} MiB`
  );
}
