// The outcome of `fedlet doctor`: one row per check (per virtual node, or for the whole install), with
// what to do when it failed; rendered as a table for people or JSON (-o json) for scripts.

export type CheckResult = 'ok' | 'failed' | 'skipped';

export interface Check {
  /** The virtual node checked, or '*' for a check of the whole install. */
  node: string;
  check: string;
  result: CheckResult;
  /** What was seen. */
  detail: string;
  /** What to do about it (failed and skipped checks). */
  fix?: string;
}

export const INSTALL = '*';

export const ok = (node: string, check: string, detail: string): Check => ({ node, check, result: 'ok', detail });
export const failed = (node: string, check: string, detail: string, fix: string): Check => ({
  node,
  check,
  result: 'failed',
  detail,
  fix,
});
export const skipped = (node: string, check: string, detail: string, fix?: string): Check => ({
  node,
  check,
  result: 'skipped',
  detail,
  ...(fix ? { fix } : {}),
});

/** Non-zero when any check failed (a skipped check is not a failure). */
export function exitCode(checks: Check[]): number {
  return checks.some((c) => c.result === 'failed') ? 1 : 0;
}

export function renderJson(checks: Check[]): string {
  return `${JSON.stringify({ ok: exitCode(checks) === 0, checks }, null, 2)}\n`;
}

/** NODE CHECK RESULT DETAIL, with the fix on the line below a failed or skipped check. */
export function renderTable(checks: Check[]): string {
  const head = ['NODE', 'CHECK', 'RESULT'];
  const rows = checks.map((c) => [c.node, c.check, c.result]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const indent = ' '.repeat(w[0]! + w[1]! + w[2]! + 6);
  const line = (cells: string[], detail: string) => `${cells.map((c, i) => c.padEnd(w[i]!)).join('  ')}  ${detail}`.trimEnd();
  const out = [line(head, 'DETAIL')];
  for (const c of checks) {
    out.push(line([c.node, c.check, c.result], c.detail));
    if (c.fix && c.result !== 'ok') out.push(`${indent}→ ${c.fix}`);
  }
  const failures = checks.filter((c) => c.result === 'failed').length;
  out.push('', failures ? `${failures} check(s) failed.` : 'All checks passed.');
  return `${out.join('\n')}\n`;
}
