import { writeScanJson } from "../../src/cli/scan-json.js";
import { formatMs } from "../../src/policy/policy.js";
import type { ScanResult } from "../../src/report/scan-files.js";

export const POLICY = { maxretry: 5, findtime: 600_000 };

/**
 * User names as attackers write them: quotes, backslashes, line breaks, control and escape
 * characters, text beyond ASCII, a lone surrogate, nothing.
 */
export const HOSTILE_USERS: readonly string[] = [
  'x"y',
  "back\\slash",
  "line\nbreak",
  "\u001b[31mred",
  "tab\there",
  "é",
  "😀",
  "\ud800",
  "",
];

/** What `scan --json` printed before it wrote offenders one by one: the object, stringified. */
export function stringified(result: ScanResult, extra: Record<string, unknown> = {}): string {
  const offenders = result.report.offenders().map((o) => {
    const row: Record<string, unknown> = { ip: o.ip, failures: o.failures, wouldBan: o.wouldBan };
    if (o.banAt !== undefined) row.banAt = new Date(o.banAt).toISOString();
    row.reasons = Object.fromEntries(o.reasons);
    row.users = o.users;
    row.services = o.services;
    row.firstSeen = new Date(o.firstSeen).toISOString();
    row.lastSeen = new Date(o.lastSeen).toISOString();
    return row;
  });
  const json = {
    linesRead: result.linesRead,
    failures: result.report.failures,
    offenders,
    policy: { maxretry: POLICY.maxretry, findtime: formatMs(POLICY.findtime) },
    files: result.files,
    skipped: result.stats,
    allowlisted: result.allowlisted,
    ...extra,
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

/** What writeScanJson writes, and in how many pieces. */
export function written(
  result: ScanResult,
  extra?: Record<string, unknown>,
): { text: string; pieces: number } {
  const pieces: string[] = [];
  writeScanJson((t) => pieces.push(typeof t === "string" ? t : t.toString("utf8")), result, POLICY, extra);
  return { text: pieces.join(""), pieces: pieces.length };
}
