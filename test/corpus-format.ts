import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** One case of the detector corpus: the lines fed together and what they must yield. */
export interface CorpusCase {
  file: string;
  /** 1-based line number of the case's first expectation line. */
  lineNo: number;
  comment: string;
  expect: ExpectedEvent[];
  /** The lines must yield nothing and count as ambiguous (crafted to fool a rule). */
  ambiguous: boolean;
  /** Reference time for yearless dates, when the case sets one. */
  reference?: string;
  lines: string[];
}

export interface ExpectedEvent {
  rule: string;
  ip: string;
  fields: Record<string, string>;
}

/**
 * Reads `test/corpus/*.txt`. A case is a run of `=>` expectation lines followed by the log
 * lines fed together, ended by a blank line. `#` lines are comments.
 *
 *   # chan_sip with a port
 *   => sip-register 203.0.113.5 port=5060 reason="Wrong password" user=1001
 *   [Mar  5 10:00:01] NOTICE[12345] chan_sip.c: Registration from ... - Wrong password
 *
 * Expectations: `=> none`, `=> ambiguous`, `=> ref 2025-01-02T00:00:00` (reference time for
 * yearless dates), or `=> <rule> <ip> [key=value ...]` with keys port, reason (a substring),
 * user, time (local ISO time), attempts, instant. Several event lines expect several events,
 * in order.
 */
export function readCorpus(dir: string): CorpusCase[] {
  const cases: CorpusCase[] = [];
  for (const name of readdirSync(dir)
    .filter((n) => n.endsWith(".txt"))
    .sort()) {
    const text = readFileSync(join(dir, name), "utf8");
    let current: CorpusCase | null = null;
    let comment = "";
    text.split("\n").forEach((raw, i) => {
      const line = raw.replace(/\r$/, "");
      if (line.trim() === "") {
        if (current) cases.push(current);
        current = null;
        return;
      }
      if (line.startsWith("#") && (!current || current.lines.length === 0)) {
        comment = line.slice(1).trim();
        return;
      }
      if (line.startsWith("=> ")) {
        if (current && current.lines.length > 0) cases.push(current);
        if (!current || current.lines.length > 0) {
          current = { file: name, lineNo: i + 1, comment, expect: [], ambiguous: false, lines: [] };
        }
        parseExpectation(current, line.slice(3).trim(), `${name}:${i + 1}`);
        return;
      }
      if (!current) throw new Error(`${name}:${i + 1}: log line without an expectation before it`);
      current.lines.push(unescapeLine(line));
    });
    if (current) cases.push(current);
  }
  return cases;
}

// Control bytes in a corpus line are written as \x1b, \r, \n (a raw newline inside a record is
// written as two physical lines, as a log file would hold it).
function unescapeLine(line: string): string {
  return line.replace(/\\x([0-9a-fA-F]{2})/g, (_, h) => String.fromCharCode(Number.parseInt(h, 16)));
}

function parseExpectation(c: CorpusCase, text: string, where: string): void {
  if (text === "none") return;
  if (text === "ambiguous") {
    c.ambiguous = true;
    return;
  }
  const tokens = text.match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
  if (tokens[0] === "ref") {
    c.reference = tokens[1];
    return;
  }
  const [rule, ip, ...rest] = tokens;
  if (!rule || !ip) throw new Error(`${where}: expectation needs a rule id and an address`);
  const fields: Record<string, string> = {};
  for (const t of rest) {
    const eq = t.indexOf("=");
    if (eq === -1) throw new Error(`${where}: expected key=value, got ${t}`);
    fields[t.slice(0, eq)] = t.slice(eq + 1).replace(/^"(.*)"$/, "$1");
  }
  c.expect.push({ rule, ip, fields });
}
