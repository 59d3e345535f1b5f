import type { LogRecord } from "./event.js";
import type { TimestampParser } from "./timestamp.js";

/**
 * Splits a physical log line into its prefix (time, level, source file) and message, for every
 * layout Asterisk writes: the file channels' default and `[plain]` formatters with any
 * `dateformat`, the console/journal form, syslog (classic and RFC 3339 stamps), and the `[json]`
 * formatter. Returns null for a line with no prefix: a continuation of the previous record, or a
 * header. Nothing after the prefix is trusted here; rules parse the message.
 */
export class LayoutParser {
  /** Lines whose date text no parser understood; they get the reference time. */
  undated = 0;

  constructor(private readonly timestamps: TimestampParser) {}

  parse(rawLine: string): LogRecord | null {
    const line = rawLine.includes("\x1b") ? rawLine.replace(ANSI, "") : rawLine;
    const first = line.charCodeAt(0);
    if (first === 0x5b /* [ */) return this.parseBracketed(line);
    if (first === 0x7b /* { */) return this.parseJson(line);
    const m = SYSLOG.exec(line);
    if (m) return this.parseSyslogBody(m[1]!, m[2]!, m[3]!);
    return null;
  }

  // `[date] LEVEL[lwp][C-xxxxxxxx] file: msg` and its `[plain]` / console variants.
  private parseBracketed(line: string): LogRecord | null {
    const m = ASTERISK_FILE.exec(line);
    if (!m) return null;
    return this.asteriskBody(this.time(m[1]!), m[2]!, m[3]!);
  }

  private parseSyslogBody(date: string, program: string, body: string): LogRecord | null {
    const time = this.time(date);
    const m = ASTERISK_SYSLOG_BODY.exec(body);
    if (m) return this.asteriskBody(time, m[1]!, m[2]!);
    // Another program through syslog: its rules parse the body themselves.
    return { time, level: "", component: program, message: body };
  }

  private asteriskBody(time: number, level: string, rest: string): LogRecord {
    const m = ORIGIN.exec(rest);
    // Asterisk's prefix, then no `file: ` before the line ends: the record was cut by a raw
    // newline (a dialled extension in `Ext. <exten>`, say) and continues on the next line.
    if (!m) return { time, level, component: "", message: rest, broken: true };
    const component = m[1] ?? m[2]!;
    // ast_trace_log() indents its messages (`res_pjsip_session.c:  anonymous: Call ...`).
    return { time, level, component, message: m[3]!.trimStart() };
  }

  private parseJson(line: string): LogRecord | null {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return null;
    }
    const record = value as JsonRecord;
    const logmsg = record?.logmsg;
    if (typeof logmsg !== "object" || logmsg === null || typeof logmsg.message !== "string") return null;
    const message = logmsg.message.endsWith("\n") ? logmsg.message.slice(0, -1) : logmsg.message;
    return {
      time: this.time(typeof record.timestamp === "string" ? record.timestamp : ""),
      level: typeof logmsg.level === "string" ? logmsg.level : "",
      component: typeof logmsg.location?.filename === "string" ? logmsg.location.filename : "",
      message,
    };
  }

  private time(text: string): number {
    const t = this.timestamps.parse(text.trim());
    if (!Number.isNaN(t)) return t;
    this.undated++;
    return this.timestamps.reference();
  }
}

interface JsonRecord {
  timestamp?: unknown;
  logmsg?: {
    level?: unknown;
    message?: unknown;
    location?: { filename?: unknown };
  } | null;
}

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

// `[date] LEVEL[lwp]` then an optional call id, then an optional colon (console/journal form).
const ASTERISK_FILE = /^\[([^\]]{1,64})\] ([A-Z]+)\[\d+\](?:\[C-[0-9a-f]+\])?:? (.*)$/s;

// After the level: `file: msg` (default), `file:line func: msg` ([plain], console) or
// `file:line in func: msg` (syslog). Dialplan Log() writes `Ext. <exten>` as the file, where the
// extension is dialled by the caller, so it is matched lazily and never trusted.
const ORIGIN = /^(?:(Ext\. .*?)|([^\s:]+))(?::\d+ (?:in )?(?:@ )?\S*)?: (.*)$/s;

// Syslog header: classic `Mar  5 10:00:01 host prog[pid]: ` or RFC 3339 `2026-11-21T15:00:20.163564+00:00 host prog[pid]: `.
const SYSLOG =
  /^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) \S+ (?:\S*\/)?([^\s/[:]+)(?:\[\d+\])?: (.*)$/s;

// Asterisk's body inside syslog: `NOTICE[lwp][C-xxxxxxxx]: file:line in func: msg`.
const ASTERISK_SYSLOG_BODY = /^([A-Z]+)\[\d+\](?:\[C-[0-9a-f]+\])?: (.*)$/s;
