import type { LogRecord } from "./event.js";
import type { TimestampParser } from "./timestamp.js";

/**
 * Splits a physical log line into its prefix (time, level, source file) and message, for every
 * layout Asterisk writes: the file channels' default and `[plain]` formatters with any
 * `dateformat`, the console/journal form, syslog (classic and RFC 3339 stamps), and the `[json]`
 * formatter; FreeSWITCH's log file and console (also through syslog); Kamailio through syslog and
 * on stderr. Returns null for a line with no prefix: a continuation of the previous record, or a
 * header. Nothing after the prefix is trusted here; rules parse the message.
 */
export class LayoutParser {
  /** Lines whose date text no parser understood, or that carry none; they get the last (or reference) time. */
  undated = 0;
  /** Time of the last dated line, for lines that carry no time (Kamailio on stderr). */
  private lastTime: number | undefined;

  constructor(
    private readonly timestamps: TimestampParser,
    /** For a source followed live: a line without a time was written now. */
    private readonly clock?: () => number,
  ) {}

  parse(rawLine: string): LogRecord | null {
    const line = rawLine.includes("\x1b") ? rawLine.replace(ANSI, "") : rawLine;
    const first = line.charCodeAt(0);
    if (first === 0x5b /* [ */) return this.parseBracketed(line);
    if (first === 0x7b /* { */) return this.parseJson(line);
    const m = SYSLOG.exec(line);
    if (m) return this.parseSyslogBody(m[1]!, m[2]!, m[3]!);
    return this.parseFreeSwitch(line) ?? this.parseKamailioStderr(line);
  }

  // `[date] LEVEL[lwp][C-xxxxxxxx] file: msg` and its `[plain]` / console variants.
  private parseBracketed(line: string): LogRecord | null {
    // Nearly every line: prefix and origin in one pass (the same as the two steps below, whose
    // prefix can match in one way only).
    const whole = ASTERISK_FILE_WITH_ORIGIN.exec(line);
    if (whole) {
      // ast_trace_log() indents its messages (`res_pjsip_session.c:  anonymous: Call ...`).
      return {
        time: this.timeOf(whole[1]!),
        level: whole[2]!,
        component: whole[3] ?? whole[4]!,
        message: whole[5]!.trimStart(),
      };
    }
    const m = ASTERISK_FILE.exec(line);
    if (!m) return null;
    return this.asteriskBody(this.timeOf(m[1]!), m[2]!, m[3]!);
  }

  private parseSyslogBody(date: string, program: string, body: string): LogRecord | null {
    const time = this.timeOf(date);
    const m = ASTERISK_SYSLOG_BODY.exec(body);
    if (m) return this.asteriskBody(time, m[1]!, m[2]!);
    if (program === "kamailio") {
      const k = KAMAILIO_BODY.exec(body);
      if (k) return { time, level: k[1]!, component: KAMAILIO, message: k[2]! };
    } else if (program === "freeswitch") {
      // FreeSWITCH's console in the journal, its own stamp inside: the journal's is kept.
      const f = this.parseFreeSwitch(body, time);
      if (f) return f;
    }
    // Another program through syslog: its rules parse the body themselves.
    return { time, level: "", component: program, message: body };
  }

  // `[uuid ]date [idle% ][LEVEL] file:line [func() ]msg`, or the older `date [LEVEL] [TAG] [file:line] msg`.
  private parseFreeSwitch(line: string, time?: number): LogRecord | null {
    const m = FREESWITCH.exec(line);
    if (m) return { time: time ?? this.timeOf(m[1]!), level: m[2]!, component: m[3]!, message: m[4]! };
    const o = FREESWITCH_OLD.exec(line);
    if (!o) return null;
    return { time: time ?? this.timeOf(o[1]!), level: o[2]!, component: o[3]!, message: o[4]! };
  }

  // Kamailio's stderr (`-E`) carries no time: the line gets the time of the last dated one.
  private parseKamailioStderr(line: string): LogRecord | null {
    const m = KAMAILIO_STDERR.exec(line);
    if (!m) return null;
    this.undated++;
    return {
      time: this.clock ? this.clock() : (this.lastTime ?? this.timestamps.reference()),
      level: m[1]!,
      component: KAMAILIO,
      message: m[2]!,
    };
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
      time: this.timeOf(typeof record.timestamp === "string" ? record.timestamp : ""),
      level: typeof logmsg.level === "string" ? logmsg.level : "",
      component: typeof logmsg.location?.filename === "string" ? logmsg.location.filename : "",
      message,
    };
  }

  /** The time of a line's date text (undated: the last or reference time, and counted). */
  timeOf(text: string): number {
    const t = this.timestamps.parse(text.trim());
    if (!Number.isNaN(t)) {
      this.lastTime = t;
      return t;
    }
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
const ORIGIN_TEXT = String.raw`(?:(Ext\. .*?)|([^\s:]+))(?::\d+ (?:in )?(?:@ )?\S*)?: (.*)$`;
const ORIGIN = new RegExp(`^${ORIGIN_TEXT}`, "s");

const ASTERISK_FILE_WITH_ORIGIN = new RegExp(
  String.raw`^\[([^\]]{1,64})\] ([A-Z]+)\[\d+\](?:\[C-[0-9a-f]+\])?:? ${ORIGIN_TEXT}`,
  "s",
);

// Syslog header: classic `Mar  5 10:00:01 host prog[pid]: ` or RFC 3339 `2026-11-21T15:00:20.163564+00:00 host prog[pid]: `.
const SYSLOG =
  /^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) \S+ (?:\S*\/)?([^\s/[:]+)(?:\[\d+\])?: (.*)$/s;

// Asterisk's body inside syslog: `NOTICE[lwp][C-xxxxxxxx]: file:line in func: msg`.
const ASTERISK_SYSLOG_BODY = /^([A-Z]+)\[\d+\](?:\[C-[0-9a-f]+\])?: (.*)$/s;

// mod_logfile writes a session's call UUID before every physical line of its records.
const FS_UUID = "(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12} )?";

// FreeSWITCH (switch_log.c): `YYYY-MM-DD HH:MM:SS.uuuuuu [NN.NN% ][LEVEL] file:line [func() ]msg`.
// The idle-CPU field came with 1.10.7; ` func()` with SWITCH_FUNC_IN_LOG builds. The line must
// start with the stamp (or the UUID): text folded onto a new line by a SIP header starts with a blank.
const FREESWITCH = new RegExp(
  `^${FS_UUID}(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(?:\\.\\d{1,6})?) (?:\\d{1,3}\\.\\d\\d% )?\\[([A-Z]+)\\] ([\\w.-]+):\\d+ (?:[A-Za-z_]\\w*\\(\\) )?(.*)$`,
  "s",
);

// An older layout fail2ban tests (gh-2193): `MM-DD HH:MM:SS.uuuuuu [WARN] [SOFIA] [sofia_reg.c:4130] msg`.
const FREESWITCH_OLD = new RegExp(
  `^${FS_UUID}((?:\\d{4}-)?\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(?:\\.\\d{1,6})?) \\[([A-Z]+)\\] \\[[A-Z_]+\\] \\[([\\w.-]+):\\d+\\] (.*)$`,
  "s",
);

/** The component of every Kamailio record: the module's file follows attacker text (the log prefix). */
export const KAMAILIO = "kamailio";

const KAMAILIO_LEVEL = "(ALERT|BUG|CRITICAL|ERROR|WARNING|NOTICE|INFO|DEBUG)";

// Kamailio on stderr (dprint.h): `%2d(%d) LEVEL: msg`, process rank padded to two, then the pid.
const KAMAILIO_RANK = "(?: \\d|\\d{2,5})\\(\\d{1,10}\\) ";
const KAMAILIO_STDERR = new RegExp(`^${KAMAILIO_RANK}${KAMAILIO_LEVEL}: (.*)$`, "s");

// Kamailio's body inside syslog: `LEVEL: msg`; the stderr form when the journal captured stderr.
const KAMAILIO_BODY = new RegExp(`^(?:${KAMAILIO_RANK})?${KAMAILIO_LEVEL}: (.*)$`, "s");
