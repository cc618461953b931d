// A reader for the Prometheus text exposition format, enough for a kubelet's /metrics/resource:
// samples with optional labels and an optional millisecond timestamp; comments and blank lines skipped.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Milliseconds since the epoch, when the exposition gives one. */
  timestampMs?: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?\s*$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;

function unescape(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseValue(v: string): number {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v); // NaN for "NaN" and for garbage; callers skip non-finite values
}

/** Parses exposition text; lines that are not valid samples are skipped, never thrown on. */
export function parsePromText(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    LABEL.lastIndex = 0;
    let ok = true;
    while (LABEL.lastIndex < body.length) {
      const start = LABEL.lastIndex;
      const l = LABEL.exec(body);
      if (!l || LABEL.lastIndex === start) {
        ok = !body.slice(start).trim();
        break;
      }
      labels[l[1]!] = unescape(l[2]!);
    }
    if (!ok) continue;
    out.push({ name: m[1]!, labels, value: parseValue(m[3]!), ...(m[4] ? { timestampMs: Number(m[4]) } : {}) });
  }
  return out;
}
