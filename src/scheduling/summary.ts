// The scheduling summary: what fedlet tells the scheduler extender about a lower cluster, published
// as ConfigMap <namespace>/fedlet-summary-<node> in the upper cluster. This file is the format's one
// definition — types, names, encode and parse — shared by the writer (provider + summary publisher)
// and the reader (the scheduler extender), so the two cannot drift apart.
import type { Taint } from '../kube/types.js';

export const SUMMARY_FORMAT_VERSION = 1;
/** Key of the ConfigMap's data entry holding the JSON. */
export const SUMMARY_DATA_KEY = 'summary.json';
/** Room left under the 1 MiB object limit for metadata. */
export const SUMMARY_MAX_BYTES = 900 * 1024;

export function summaryConfigMapName(nodeName: string): string {
  return `fedlet-summary-${nodeName}`;
}

/** One row per group of identical lower nodes: [labelSets index, taintSets index, free resources, count]. */
export type SummaryRow = [labelSet: number, taintSet: number, free: Record<string, string>, count: number];

export interface ClusterSummary {
  v: typeof SUMMARY_FORMAT_VERSION;
  /** The virtual node that published it. */
  node: string;
  cluster: string;
  /** ISO time of generation. */
  generated: string;
  labelSets: Array<Record<string, string>>;
  taintSets: Taint[][];
  /** Free resources are milli-units as decimal strings (exact beyond 2^53). */
  nodes: SummaryRow[];
  /** Bounce-back record: controller owner uid → ISO time until which its pods avoid this cluster. */
  avoid: Record<string, string>;
  /** Upper fedlet storage class → the lower class serving it in this cluster, or why none does (claims.ts). */
  storage?: Record<string, StorageVerdict>;
}

export type StorageVerdict = { lower: string } | { reason: string };

export class SummaryFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SummaryFormatError';
  }
}

export function encodeSummary(s: ClusterSummary): string {
  return JSON.stringify(s);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringMap = (v: unknown): v is Record<string, string> =>
  isRecord(v) && Object.values(v).every((x) => typeof x === 'string');

/** Parses and checks a published summary; a summary this version cannot read is refused with the reason. */
export function parseSummary(text: string): ClusterSummary {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SummaryFormatError(`not JSON: ${(e as Error).message}`);
  }
  if (!isRecord(raw)) throw new SummaryFormatError('not a JSON object');
  if (raw.v !== SUMMARY_FORMAT_VERSION)
    throw new SummaryFormatError(`format version ${String(raw.v)} is not ${SUMMARY_FORMAT_VERSION}`);
  for (const k of ['node', 'cluster', 'generated'] as const)
    if (typeof raw[k] !== 'string') throw new SummaryFormatError(`"${k}" is not a string`);
  if (!Array.isArray(raw.labelSets) || !raw.labelSets.every(isStringMap))
    throw new SummaryFormatError('"labelSets" is not a list of label maps');
  if (!Array.isArray(raw.taintSets) || !raw.taintSets.every((ts) => Array.isArray(ts)))
    throw new SummaryFormatError('"taintSets" is not a list of taint lists');
  const labelSets = raw.labelSets.length;
  const taintSets = raw.taintSets.length;
  if (!Array.isArray(raw.nodes)) throw new SummaryFormatError('"nodes" is not a list');
  for (const [i, row] of raw.nodes.entries()) {
    const ok =
      Array.isArray(row) &&
      row.length === 4 &&
      Number.isInteger(row[0]) &&
      (row[0] as number) >= 0 &&
      (row[0] as number) < labelSets &&
      Number.isInteger(row[1]) &&
      (row[1] as number) >= 0 &&
      (row[1] as number) < taintSets &&
      isStringMap(row[2]) &&
      Number.isInteger(row[3]);
    if (!ok) throw new SummaryFormatError(`nodes[${i}] is not [labelSet, taintSet, free, count] with valid indexes`);
  }
  if (!isRecord(raw.avoid)) throw new SummaryFormatError('"avoid" is not an object');
  if (raw.storage !== undefined) {
    const ok =
      isRecord(raw.storage) &&
      Object.values(raw.storage).every((v) => isRecord(v) && (typeof v.lower === 'string' || typeof v.reason === 'string'));
    if (!ok) throw new SummaryFormatError('"storage" is not a map of {lower} or {reason}');
  }
  return raw as unknown as ClusterSummary;
}
