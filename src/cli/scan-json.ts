import { formatMs } from "../policy/policy.js";
import type { OffenderReport } from "../report/offenders.js";
import { isArrayIndex, writeOffendersJson } from "../report/offenders-json.js";
import type { ScanResult } from "../report/scan-files.js";
import { isoTime } from "./format.js";

export interface PolicyView {
  maxretry: number;
  findtime: number;
}

/**
 * Writes the text of `scan --json` to `write`, piece by piece: what `JSON.stringify(report, null,
 * 2)` prints, with the offenders written one by one from the report's columns. A flood has
 * hundreds of thousands of offenders, and building an object (and lists) for each to stringify
 * cost more than counting them (they all live until the end, and the garbage collector copies
 * them). `extra` fields follow the report's own. Ends with a newline.
 */
export function writeScanJson(
  write: (text: string | Buffer) => void,
  result: ScanResult,
  policy: PolicyView,
  extra: Record<string, unknown> = {},
): void {
  const report = result.report;
  let pending = `{\n  "linesRead": ${number(result.linesRead)},\n  "failures": ${number(report.failures)},\n  "offenders": [`;
  let count = writeOffendersJson(
    report,
    (bytes) => {
      if (pending !== "") write(pending);
      pending = "";
      write(bytes);
    },
    PIECE,
  );
  if (count === undefined) {
    const order = report.ranked();
    count = order.length;
    const quote = new QuotedTexts();
    // A few dozen offenders at a time: short-lived strings cost the garbage collector nearly
    // nothing, where one long text built up (or objects for all) is copied over and over.
    for (let k = 0; k < order.length; k++) {
      pending += (k === 0 ? "\n" : ",\n") + offender(report, order[k]!, quote);
      if (pending.length >= PIECE) {
        write(pending);
        pending = "";
      }
    }
  }
  const rest = JSON.stringify(
    {
      policy: { maxretry: policy.maxretry, findtime: formatMs(policy.findtime) },
      files: result.files,
      skipped: result.stats,
      allowlisted: result.allowlisted,
      ...extra,
    },
    null,
    2,
  );
  // The rest's fields sit at the top level too: its text without its opening brace.
  write(`${pending}${count === 0 ? "]," : "\n  ],"}${rest.slice(1)}\n`);
}

/** About how much is written at a time. */
const PIECE = 16_384;

/**
 * Texts as JSON strings, each quoted once: the same reasons, services and user names recur
 * across offenders. Bounded: a flood of distinct user names starts it afresh now and then.
 */
class QuotedTexts {
  private readonly quoted = new Map<string, string>();

  of(text: string): string {
    let json = this.quoted.get(text);
    if (json === undefined) {
      json = JSON.stringify(text);
      if (this.quoted.size >= 65_536) this.quoted.clear();
      this.quoted.set(text, json);
    }
    return json;
  }
}

const FIELD = "\n      ";

/** One offender, as an element of the top-level object's "offenders" list. */
function offender(report: OffenderReport, i: number, quote: QuotedTexts): string {
  const banAt = report.banAtOf(i);
  let out = `    {${FIELD}"ip": ${JSON.stringify(report.ipOf(i))},${FIELD}"failures": ${number(report.failuresOf(i))},`;
  out +=
    banAt === undefined
      ? `${FIELD}"wouldBan": false,`
      : `${FIELD}"wouldBan": true,${FIELD}"banAt": "${isoTime(banAt)}",`;
  const reasons = inPropertyOrder(report.reasonsOf(i));
  out += `${FIELD}"reasons": {`;
  for (let k = 0; k < reasons.length; k++) {
    const [reason, count] = reasons[k]!;
    out += `${k === 0 ? "" : ","}${FIELD}  ${quote.of(reason)}: ${number(count)}`;
  }
  out += reasons.length === 0 ? "}," : `${FIELD}},`;
  out += `${FIELD}"users": ${list(report.usersOf(i), quote)},`;
  out += `${FIELD}"services": ${list(report.servicesOf(i), quote)},`;
  out += `${FIELD}"firstSeen": "${isoTime(report.firstSeenOf(i))}",`;
  out += `${FIELD}"lastSeen": "${isoTime(report.lastSeenOf(i))}"\n    }`;
  return out;
}

/**
 * Entries in the order JSON.stringify writes an object made of them: keys that are array
 * indexes ("404" from a custom rule's reason, say) first and ascending, then the rest as added.
 */
function inPropertyOrder(entries: Array<[string, number]>): Array<[string, number]> {
  if (!entries.some(([key]) => isArrayIndex(key))) return entries;
  const indexes = entries.filter(([key]) => isArrayIndex(key)).sort((a, b) => Number(a[0]) - Number(b[0]));
  return [...indexes, ...entries.filter(([key]) => !isArrayIndex(key))];
}

/** A list of texts, as a field's value. */
function list(texts: readonly string[], quote: QuotedTexts): string {
  if (texts.length === 0) return "[]";
  let out = "[";
  for (let k = 0; k < texts.length; k++) out += `${k === 0 ? "" : ","}${FIELD}  ${quote.of(texts[k]!)}`;
  return `${out}${FIELD}]`;
}

/** A number as JSON writes it (null for what JSON cannot hold). */
function number(n: number): string {
  return Number.isFinite(n) ? String(n) : "null";
}
