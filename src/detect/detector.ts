import { escapeRegExp } from "../util/escape-regexp.js";
import { Coalescer } from "./coalesce.js";
import { DateFormat } from "./dateformat.js";
import { blankEvent, type FailureEvent, type LogRecord } from "./event.js";
import { KAMAILIO, LayoutParser } from "./layout.js";
import { OFFENDER, type ParsedFailureSink, ParsedLines, REASON_NUMBER, USER_NUMBER } from "./parsed-lines.js";
import { AMBIGUOUS, DIALPLAN, INCOMPLETE, type Rule, type RuleHit } from "./rule.js";
import { splitRemainder } from "./rules/remainders.js";
import { type GuardSink, type Signal, SplitGuard } from "./split-guard.js";
import { TimestampParser } from "./timestamp.js";

/** What became of one line that contained a rule's literal (for `scan --explain`). */
export type LineOutcome =
  | { kind: "event"; event: FailureEvent }
  | { kind: "duplicate"; event: FailureEvent }
  | { kind: "ambiguous"; rule: string }
  | { kind: "unmatched" }
  | { kind: "distrusted" }
  | { kind: "no-prefix" };

export interface DetectorOptions {
  rules: readonly Rule[];
  /** Weight per rule id, overriding the rule's own. */
  weights?: Readonly<Record<string, number>>;
  /** Ban an address caught splitting a record at once, instead of counting one failure. */
  banInjection?: boolean;
  /** Reference time for yearless dates (a scanned file's modification time). */
  referenceTime?: number;
  /** Asterisk's `dateformat` when it is not one read without it (valid: see DateFormat.compile). */
  dateformat?: string;
  /** Called for every line that was looked at, with what became of it. */
  observe?: (line: string, outcome: LineOutcome) => void;
  /**
   * The source is followed live: lines that carry no time (Kamailio on stderr) happened now, and
   * a yearless date takes the year of now (not of when the detector was made).
   */
  clock?: () => number;
  /**
   * Take the lines the WebAssembly parser read (see ParsedLines): the same events, several
   * times cheaper, but without `line` (their text is never decoded). Not with `observe`. Every
   * event is then passed to `emit` in one reused object: copy what is kept of it.
   */
  parsedLines?: boolean;
  /**
   * With `parsedLines`: where the failures of parsed lines go, as numbers, without an event
   * each (see ParsedFailureSink). Still as events: AMI's lines (one login writes two, paired),
   * instant rules' lines, and every line once a security event has come. Only for an input that
   * can be read again: see ReadAgain.
   */
  parsedFailures?: ParsedFailureSink;
}

/**
 * Thrown when failures were given to `parsedFailures` and the input turns out to need every
 * failure as an event: a security event came, and the NOTICE lines before it must be paired with
 * it (see Coalescer). Read the input again with a detector without `parsedFailures`.
 */
export class ReadAgain extends Error {
  constructor() {
    super("the input must be read again, every failure as an event");
  }
}

export interface DetectorStats {
  /** Lines that had a literal but matched no rule: new formats, or attempts to trick a rule. */
  unmatched: number;
  /** Lines whose text could place the address in more than one spot: nobody is blamed. */
  ambiguous: number;
  /** Lines dropped because they stood inside a split record or a packet dump. */
  distrusted: number;
  /** Split or forged records caught; their authors are reported with reason "Log injection attempt". */
  injections: number;
  /** Attempts logged twice (AMI's two lines, a NOTICE and its security event) counted once. */
  duplicates: number;
  /** Lines longer than the limit, skipped unread. */
  oversized: number;
  /** Lines whose date no parser understood. */
  undated: number;
}

/**
 * A line read and judged, waiting for the split guard to say it is safe. A class, so that every
 * candidate has the same shape (the hot path reads them by the hundred thousand); recycled once
 * the guard has decided, so that a scan allocates none per line. A rule's hit is kept field by
 * field: a line the WebAssembly parser read never has a hit object made for it.
 */
class Candidate {
  line: string | undefined = undefined;
  time = 0;
  /** The rule that took the line; the hit's fields below are set only with it. */
  rule: Rule | undefined = undefined;
  ip = "";
  port: number | undefined = undefined;
  reason = "";
  user: string | undefined = undefined;
  callId: string | undefined = undefined;
  runningTries: number | undefined = undefined;
  injection = false;
  ambiguous: string | undefined = undefined;
  unmatched = false;
  /** A rule saw the start of its record but not its end: the record was split. */
  incomplete = false;
  noPrefix = false;

  /** Ready for a new line (undefined for a line the WebAssembly parser read: never decoded). */
  reset(line: string | undefined, time: number): this {
    this.line = line;
    this.time = time;
    this.rule = undefined;
    this.user = undefined;
    this.callId = undefined;
    this.runningTries = undefined;
    this.injection = false;
    this.ambiguous = undefined;
    this.unmatched = false;
    this.incomplete = false;
    this.noPrefix = false;
    return this;
  }

  take(rule: Rule, hit: RuleHit): void {
    this.rule = rule;
    this.ip = hit.ip;
    this.port = hit.port;
    this.reason = hit.reason;
    this.user = hit.user;
    this.callId = hit.callId;
    this.runningTries = hit.runningTries;
    this.injection = hit.injection === true;
  }
}

const MAX_LINE = 16_384;
const START: Signal = { kind: "start" };
const SECURITY_START: Signal = { kind: "security-start" };

// Dumps of raw packets: pjproject's "Error processing N bytes packet" and `pjsip set logger`.
// Anchored at the message's start, so attacker text inside another message cannot open one.
const DUMP_HEADER =
  /^(?:\S+\s+)?(?:Error processing (\d{1,5}) bytes packet from |<--- (?:Received|Transmitting) SIP (?:request|response) \((\d{1,5}) bytes\) )/;
// A UDP datagram is at most this big: no dump covers more.
const MAX_DUMP_BYTES = 65_535;

const ASTERISK_FILE_LINE = /^\[[^\]\n]{1,64}\] [A-Z]+\[\d+\]/;
// Lines of the layouts other programs write (FreeSWITCH's log, syslog, Kamailio's stderr).
const OTHER_LAYOUT_LINE =
  /^(?:(?:[0-9a-f-]{36} )?\d{4}-\d\d-\d\d[ T]\d\d:\d\d|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d |\d\d-\d\d \d\d:\d\d:\d\d\.| ?\d+\(\d+\) [A-Z]+: )/;

/** True when the sample's lines are Asterisk's file layout (`[date] LEVEL[lwp] ...`) and no other. */
function isAsteriskLogFile(sample: Buffer): boolean {
  const lines = sample.toString("latin1", 0, Math.min(sample.length, 1 << 20)).split("\n", 2000);
  let asterisk = 0;
  for (const line of lines) {
    if (ASTERISK_FILE_LINE.test(line)) asterisk++;
    else if (OTHER_LAYOUT_LINE.test(line)) return false;
  }
  return asterisk > 0;
}

interface ComponentRules {
  rules: readonly Rule[] | undefined;
  /** A dialplan Log() line (`Ext. <exten>`). */
  dialplan: boolean;
}

/** True when `text` contains one of the literals, or there are none. */
function hasAny(text: string, literals: readonly string[]): boolean {
  if (literals.length === 0) return true;
  for (const l of literals) if (text.includes(l)) return true;
  return false;
}

/** Byte strings of lines that guard others (dumps, split dialplan lines), fed along with the rules' literals. */
const DUMP_LITERALS = ["bytes packet from ", "<--- Received SIP ", "<--- Transmitting SIP "];
const GUARD_LITERALS = [...DUMP_LITERALS, " Ext. "];
/**
 * Texts that make a line a signal to the split guard whatever rules are on (see `signal`): the
 * end of a "Call from" line (a remainder even with the call rules off) and the security log's.
 */
const SIGNAL_TEXTS = ["rejected because", "SecurityEvent=", "RemoteAddress="];

/** The literals of `all` that find every line any of them does (one that contains another finds no more). */
function minimalLiterals(all: readonly string[]): string[] {
  const distinct = [...new Set(all)];
  return distinct.filter((l) => !distinct.some((o) => o !== l && l.includes(o)));
}

/** All counters at zero. */
export function emptyStats(): DetectorStats {
  return {
    unmatched: 0,
    ambiguous: 0,
    distrusted: 0,
    injections: 0,
    duplicates: 0,
    oversized: 0,
    undated: 0,
  };
}

/**
 * Turns log lines into failure events: prefix → rules → split guard → coalescing. Only lines that
 * hold a literal need to be fed (with their byte offset in the input). Stateful per input stream
 * (split records and duplicate lines span lines): use one per file.
 */
export class Detector {
  readonly stats: DetectorStats = emptyStats();
  private readonly layout: LayoutParser;
  private readonly timestamps: TimestampParser;
  private readonly guard = new SplitGuard<Candidate>();
  private readonly coalescer = new Coalescer();
  private readonly byComponent = new Map<string, Rule[]>();
  private readonly dialplan: Rule[] = [];
  private readonly anywhere: Rule[] = [];
  private readonly lineRules: Rule[] = [];
  /** Any rule's literal, in one pattern. */
  private readonly anyLiteral: RegExp | null;
  private readonly componentRules = new Map<string, ComponentRules>();
  private lastTime: number;
  private readonly parsedLines: ParsedLines | null = null;
  /** Candidates the guard is done with, for the next lines. */
  private readonly pool: Candidate[] = [];
  /** With parsed lines, every event is made in this one object (see DetectorOptions.parsedLines). */
  private readonly scratch: FailureEvent | null = null;
  private readonly parsedFailures: ParsedFailureSink | null = null;
  /** A failure was given to `parsedFailures`. */
  private gaveParsed = false;
  /** A parsed record's numbers (see ParsedLines.numbers). */
  private readonly numbers = new Int32Array(3);
  /**
   * By the parser's rule number (see ParsedLines.ruleNumber): the rule's weight and its
   * service's number, for `parsedFailures`. An array, not a map: it is read for every failure.
   */
  private readonly parsedRuleNumbers: Array<{ weight: number; service: number } | undefined> = [];

  constructor(
    private readonly options: DetectorOptions,
    /** Receives each failure, once, when the split guard has let its line through. */
    private readonly emit: (event: FailureEvent) => void,
  ) {
    this.timestamps = new TimestampParser(
      options.referenceTime ?? Date.now(),
      options.clock,
      options.dateformat === undefined ? undefined : DateFormat.compile(options.dateformat),
    );
    this.layout = new LayoutParser(this.timestamps, options.clock);
    this.lastTime = this.timestamps.reference();
    const allLiterals = [...new Set(options.rules.flatMap((r) => r.literals))];
    this.anyLiteral = allLiterals.length === 0 ? null : new RegExp(allLiterals.map(escapeRegExp).join("|"));
    for (const rule of options.rules) {
      if (rule.onLine) this.lineRules.push(rule);
      else if (!rule.components) this.anywhere.push(rule);
      else
        for (const c of rule.components) {
          if (c === DIALPLAN) {
            this.dialplan.push(rule);
            continue;
          }
          const list = this.byComponent.get(c) ?? [];
          list.push(rule);
          this.byComponent.set(c, list);
        }
    }
    if (options.parsedLines && !options.observe) {
      // A line holding none of these is a dated line and nothing else to this detector.
      const eventLiterals = minimalLiterals([
        ...options.rules.flatMap((r) => r.literals),
        ...DUMP_LITERALS,
        ...SIGNAL_TEXTS,
      ]);
      const parsed = new ParsedLines((component) => this.rulesOf(component).rules, eventLiterals);
      if (!parsed.idle) {
        this.parsedLines = parsed;
        this.scratch = blankEvent();
        this.parsedFailures = options.parsedFailures ?? null;
      }
    }
  }

  /** The phrases the WebAssembly parser needs, when this detector takes its lines (see LineSink). */
  get parser() {
    return this.parsedLines?.phrases;
  }

  /** The byte strings a line must contain to be fed; empty when a rule needs every line. */
  literals(): string[] {
    return this.literalsOf(this.options.rules);
  }

  /**
   * The literals worth searching for in an input that starts with `sample`. A file written by
   * Asterisk's own logger holds no FreeSWITCH or Kamailio lines (their rules need their own
   * layouts), and every literal less makes the one-pass search over all bytes cheaper.
   */
  literalsFor(sample: Buffer): string[] {
    if (!isAsteriskLogFile(sample)) return this.literals();
    return this.literalsOf(
      this.options.rules.filter((r) => r.service !== "freeswitch" && r.service !== "kamailio"),
    );
  }

  private literalsOf(rules: readonly Rule[]): string[] {
    if (rules.some((r) => r.literals.length === 0)) return [];
    return minimalLiterals([...rules.flatMap((r) => r.literals), ...GUARD_LITERALS]);
  }

  /** Feeds one line (without its newline) that starts at byte `offset` of the input. */
  line(text: string, offset: number): void {
    if (text.length > MAX_LINE) {
      this.stats.oversized++;
      return;
    }
    const crlf = text.endsWith("\r");
    const line = crlf ? text.slice(0, -1) : text;
    const record = this.layout.parse(line);
    const candidate = this.judge(line, record);
    // Kamailio writes LF, but raw SIP text it copies into a message (a folded Call-ID in the
    // stock log prefix, a malformed header in a core error) carries CRLF: such a line is the
    // attacker's, and so are its neighbours.
    const signal: Signal | null =
      crlf && record?.component === KAMAILIO ? START : this.signal(line, record, candidate);
    this.guard.push(candidate, offset, text.length + 1, signal, this.settled);
  }

  /**
   * Feeds a line the WebAssembly parser read, as `line` would (its text, if decoded, would make
   * the same candidate): false when its record is not to be used, and the line must be fed to
   * `line` instead.
   */
  parsed(fields: Int32Array, at: number, chunk: Buffer, offset: number, length: number): boolean {
    const lines = this.parsedLines;
    if (lines === null) return false;
    // Read first, always: the next record may say its date is this one's.
    const date = lines.dateText(fields, at, chunk);
    if (lines.plain(fields, at)) {
      // What `line` makes of it: a candidate with its time and nothing else, which can only be
      // dropped (and counted as distrusted).
      this.lastTime = this.layout.timeOf(date);
      this.guard.pushNumber(-1, offset, length + 1, this.settled);
      return true;
    }
    const rule = lines.rule(fields, at);
    if (!rule) return false;
    const sink = this.parsedFailures;
    if (sink !== null && rule.service !== "ami" && rule.instant !== true && !this.coalescer.pairing) {
      const numbers = this.numbers;
      if (!lines.numbers(fields, at, chunk, sink, numbers)) return false;
      const time = this.layout.timeOf(date);
      this.lastTime = time;
      const { weight, service } = this.parsedRule(lines.ruleNumber(fields, at), rule, sink);
      const index = sink.addParsed(
        numbers[OFFENDER]!,
        time,
        weight,
        numbers[REASON_NUMBER]!,
        service,
        numbers[USER_NUMBER]!,
      );
      this.gaveParsed = true;
      this.guard.pushNumber(index, offset, length + 1, this.settled);
      return true;
    }
    const c = this.candidate(undefined, 0);
    if (!lines.read(fields, at, chunk, c)) {
      this.pool.push(c);
      return false;
    }
    const time = this.layout.timeOf(date);
    this.lastTime = time;
    c.time = time;
    c.rule = rule;
    // A parsed line is a whole record of its kind: it says nothing about its neighbours.
    this.guard.push(c, offset, length + 1, null, this.settled);
    return true;
  }

  private parsedRule(
    number: number,
    rule: Rule,
    sink: ParsedFailureSink,
  ): { weight: number; service: number } {
    let known = this.parsedRuleNumbers[number];
    if (known === undefined) {
      known = { weight: this.weightOf(rule), service: sink.services.id(rule.service) };
      this.parsedRuleNumbers[number] = known;
    }
    return known;
  }

  private weightOf(rule: Rule): number {
    return this.options.weights?.[rule.id] ?? rule.weight ?? 1;
  }

  /** Ends the input, or the source has gone quiet: releases what the split guard holds. */
  flush(): void {
    this.guard.flush(this.settled);
    this.stats.undated = this.layout.undated;
  }

  /** Where the split guard's decisions go. */
  private readonly settled: GuardSink<Candidate> = {
    dropped: (c) => {
      this.stats.distrusted++;
      this.options.observe?.(c.line ?? "", { kind: "distrusted" });
      this.pool.push(c);
    },
    injection: (injector) => {
      this.stats.injections++;
      if (!injector) return;
      this.count(
        {
          time: this.lastTime,
          ip: injector.ip,
          port: injector.port,
          service: "security",
          reason: "Log injection attempt (split record)",
          rule: "security-split",
          weight: 1,
          instant: this.options.banInjection === true,
          attempts: 1,
          injection: true,
        },
        "(split record)",
        undefined,
      );
    },
    released: (c) => {
      this.finish(c);
      this.pool.push(c);
    },
    // A parsed line pushed as a number: -1 for a plain line, else its failure's index.
    droppedNumber: () => {
      this.stats.distrusted++;
    },
    releasedNumber: (n) => {
      if (n >= 0) this.parsedFailures!.count(n);
    },
  };

  private candidate(line: string | undefined, time: number): Candidate {
    return (this.pool.pop() ?? new Candidate()).reset(line, time);
  }

  /** Reads one line on its own: which rule takes it, and what it yields. */
  private judge(line: string, record: LogRecord | null): Candidate {
    const time = record?.time ?? this.lastTime;
    if (record) this.lastTime = record.time;
    const c = this.candidate(line, time);
    let tried = false;
    if (record && !record.broken) {
      const { rules, dialplan } = this.rulesOf(record.component);
      if (rules && this.tryRules(rules, record.message, c)) return c;
      if (dialplan && this.tryRules(this.dialplan, record.message, c)) return c;
      if (this.tryRules(this.anywhere, record.message, c)) return c;
      tried = c.unmatched;
    }
    if (this.lineRules.length > 0) {
      const incomplete = c.incomplete;
      if (this.tryRules(this.lineRules, line, c)) return c;
      // Only a rule on the message can see that a record was cut short.
      c.incomplete = incomplete;
      tried ||= c.unmatched;
    }
    if (record === null) {
      c.noPrefix = true;
      c.unmatched = false;
      c.incomplete = false;
      return c;
    }
    c.unmatched = tried || this.containsLiteral(line);
    return c;
  }

  private containsLiteral(line: string): boolean {
    return this.anyLiteral?.test(line) === true;
  }

  /** The rules for a component as the server printed it (`res_pjsip/pjsip_distributor.c`). */
  private rulesOf(component: string): ComponentRules {
    let known = this.componentRules.get(component);
    if (known === undefined) {
      const slash = component.lastIndexOf("/");
      const base = slash === -1 ? component : component.slice(slash + 1);
      known = { rules: this.byComponent.get(base), dialplan: base.startsWith("Ext. ") };
      // Dialplan components carry the dialled extension: as many as callers like.
      if (this.componentRules.size >= 1024) this.componentRules.clear();
      this.componentRules.set(component, known);
    }
    return known;
  }

  /**
   * The first rule that takes the text decides: true when one did (a hit, or an ambiguous line),
   * with the result in `c`. Otherwise `c.unmatched` tells whether a rule tried and failed, and
   * `c.incomplete` whether one saw only a record's start.
   */
  private tryRules(rules: readonly Rule[], text: string, c: Candidate): boolean {
    for (const rule of rules) {
      if (!hasAny(text, rule.literals)) continue;
      const hit = rule.match(text);
      if (hit === AMBIGUOUS || (hit !== null && hit !== INCOMPLETE)) {
        if (hit === AMBIGUOUS) c.ambiguous = rule.id;
        else c.take(rule, hit);
        // What earlier rules saw no longer matters.
        c.incomplete = false;
        c.unmatched = false;
        return true;
      }
      if (hit === INCOMPLETE) c.incomplete = true;
      c.unmatched = true;
    }
    return false;
  }

  /** What the line says about its neighbours (see SplitGuard). */
  private signal(line: string, record: LogRecord | null, c: Candidate): Signal | null {
    // A cheap test before the regex: nearly no line has it (and "bytes" is found faster than " bytes").
    const dump = record && line.includes("bytes") ? DUMP_HEADER.exec(record.message) : null;
    if (dump) return { kind: "dump", bytes: Math.min(Number(dump[1] ?? dump[2]), MAX_DUMP_BYTES) };
    // The [json] formatter escapes line breaks: its records are never split over lines.
    const json = line.charCodeAt(0) === 0x7b;
    if (json) return null;
    // A remainder first: an attacker may dress the real remainder up as the start of a record.
    const remainder = splitRemainder(line, record);
    if (remainder) return { kind: "remainder", injector: remainder.injector };
    if (record?.broken || c.incomplete) return START;
    if (record?.message.startsWith("SecurityEvent=")) return SECURITY_START;
    return null;
  }

  /** A line the guard let through: count it (once) and tell the observer. */
  private finish(c: Candidate): void {
    if (c.ambiguous) {
      this.stats.ambiguous++;
      this.options.observe?.(c.line ?? "", { kind: "ambiguous", rule: c.ambiguous });
      return;
    }
    const rule = c.rule;
    if (!rule) {
      if (c.noPrefix) this.options.observe?.(c.line ?? "", { kind: "no-prefix" });
      else if (c.unmatched) {
        this.stats.unmatched++;
        this.options.observe?.(c.line ?? "", { kind: "unmatched" });
      }
      return;
    }
    const injection = c.injection;
    if (injection) this.stats.injections++;
    const event = this.scratch ?? blankEvent();
    event.time = c.time;
    event.ip = c.ip;
    event.port = c.port;
    event.service = injection ? "security" : rule.service;
    event.reason = c.reason;
    event.user = c.user;
    event.rule = injection ? "security-injection" : rule.id;
    event.weight = this.weightOf(rule);
    event.instant = injection ? this.options.banInjection === true : rule.instant === true;
    event.attempts = 1;
    event.callId = c.callId;
    event.injection = injection || undefined;
    event.line = c.line;
    this.count(event, c.line ?? "", c.runningTries);
  }

  private count(event: FailureEvent, line: string, runningTries: number | undefined): void {
    const accepted = this.coalescer.accept(event, runningTries);
    // The failures given as numbers were not seen by the pairing that has just started.
    if (this.gaveParsed && this.coalescer.pairing) throw new ReadAgain();
    if (accepted === null) {
      this.stats.duplicates++;
      this.options.observe?.(line, { kind: "duplicate", event });
      return;
    }
    this.options.observe?.(line, { kind: "event", event: accepted });
    this.emit(accepted);
  }
}
