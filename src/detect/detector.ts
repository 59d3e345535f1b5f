import { Coalescer } from "./coalesce.js";
import type { FailureEvent, LogRecord } from "./event.js";
import { LayoutParser } from "./layout.js";
import { AMBIGUOUS, INCOMPLETE, type Rule } from "./rule.js";
import { SplitGuard } from "./split-guard.js";
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
  /** Called for every line that was looked at, with what became of it. */
  observe?: (line: string, outcome: LineOutcome) => void;
}

export interface DetectorStats {
  /** Lines that had a literal but matched no rule: new formats, or attempts to trick a rule. */
  unmatched: number;
  /** Lines whose text could place the address in more than one spot: nobody is blamed. */
  ambiguous: number;
  /** Lines dropped because they stood inside a split record. */
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

const MAX_LINE = 16_384;

/**
 * Turns physical log lines into failure events: prefix → split guard → rules → coalescing.
 * Stateful per input stream (split records and duplicate lines span lines): use one per file.
 */
export class Detector {
  readonly stats: DetectorStats = {
    unmatched: 0,
    ambiguous: 0,
    distrusted: 0,
    injections: 0,
    duplicates: 0,
    oversized: 0,
    undated: 0,
  };
  private readonly layout: LayoutParser;
  private readonly timestamps: TimestampParser;
  private readonly guard = new SplitGuard();
  private readonly coalescer = new Coalescer();
  private readonly byComponent = new Map<string, Rule[]>();
  private readonly anywhere: Rule[] = [];
  private readonly lineRules: Rule[] = [];
  private readonly allLiterals: string[];
  private lastTime: number;

  constructor(private readonly options: DetectorOptions) {
    this.timestamps = new TimestampParser(options.referenceTime ?? Date.now());
    this.layout = new LayoutParser(this.timestamps);
    this.lastTime = this.timestamps.reference();
    this.allLiterals = [...new Set(options.rules.flatMap((r) => r.literals))];
    for (const rule of options.rules) {
      if (rule.onLine) {
        this.lineRules.push(rule);
        continue;
      }
      if (!rule.components) {
        this.anywhere.push(rule);
        continue;
      }
      for (const c of rule.components) {
        const list = this.byComponent.get(c) ?? [];
        list.push(rule);
        this.byComponent.set(c, list);
      }
    }
  }

  /** The byte strings a line must contain for any rule to match it; empty when a rule needs every line. */
  literals(): string[] {
    return this.options.rules.some((r) => r.literals.length === 0) ? [] : this.allLiterals;
  }

  /** True while the detector needs every physical line, not only those with a literal. */
  get wantsEveryLine(): boolean {
    return this.guard.holding;
  }

  /** Feeds one physical line (without its newline) and emits the events it completes. */
  line(text: string, emit: (event: FailureEvent) => void): void {
    if (text.length > MAX_LINE) {
      this.stats.oversized++;
      return;
    }
    const line = text.endsWith("\r") ? text.slice(0, -1) : text;
    const record = this.layout.parse(line);
    const opensWindow = record !== null && isPhysicalSecurityRecord(line, record);
    const { released, injector } = this.guard.push(line, record, opensWindow);
    for (const held of released) this.read(held.line, held.record, emit);
    if (injector) {
      this.stats.injections++;
      this.stats.distrusted = this.guard.distrusted;
      this.count(
        {
          time: this.lastTime,
          ...injector,
          service: "security",
          reason: "Log injection attempt (split record)",
          rule: "security-split",
          weight: 1,
          instant: this.options.banInjection === true,
          attempts: 1,
          injection: true,
        },
        line,
        undefined,
        emit,
      );
    } else if (record === null && !released.length) {
      this.options.observe?.(line, { kind: "no-prefix" });
    }
  }

  /** Ends the input: releases lines held by the split guard. */
  flush(emit: (event: FailureEvent) => void): void {
    for (const held of this.guard.flush()) this.read(held.line, held.record, emit);
    this.stats.distrusted = this.guard.distrusted;
    this.stats.undated = this.layout.undated;
  }

  private read(line: string, record: LogRecord | null, emit: (event: FailureEvent) => void): void {
    let tried = false;
    if (record !== null) {
      this.lastTime = record.time;
      const slash = record.component.lastIndexOf("/");
      const base = slash === -1 ? record.component : record.component.slice(slash + 1);
      for (const rules of [this.byComponent.get(base), this.anywhere]) {
        if (!rules) continue;
        const result = this.tryRules(rules, record.message, line, record.time, emit);
        if (result === "done") return;
        tried ||= result === "tried";
      }
    }
    if (this.lineRules.length > 0) {
      const result = this.tryRules(this.lineRules, line, line, this.lastTime, emit);
      if (result === "done") return;
      tried ||= result === "tried";
    }
    if (record === null) {
      this.options.observe?.(line, { kind: "no-prefix" });
      return;
    }
    // Lines fed only because the split guard wanted every line are not failures that went unseen.
    if (tried || this.allLiterals.some((l) => line.includes(l))) {
      this.stats.unmatched++;
      this.options.observe?.(line, { kind: "unmatched" });
    }
  }

  /** Runs rules whose literal `text` holds: "done" once one decided, "tried" when one had its literal. */
  private tryRules(
    rules: readonly Rule[],
    text: string,
    line: string,
    time: number,
    emit: (event: FailureEvent) => void,
  ): "done" | "tried" | "none" {
    let tried = false;
    for (const rule of rules) {
      if (rule.literals.length > 0 && !rule.literals.some((l) => text.includes(l))) continue;
      tried = true;
      const hit = rule.match(text);
      if (hit === null || hit === INCOMPLETE) continue;
      if (hit === AMBIGUOUS) {
        this.stats.ambiguous++;
        this.options.observe?.(line, { kind: "ambiguous", rule: rule.id });
        return "done";
      }
      const injection = hit.injection === true;
      if (injection) this.stats.injections++;
      const event: FailureEvent = {
        time,
        ip: hit.ip,
        port: hit.port,
        service: injection ? "security" : rule.service,
        reason: hit.reason,
        user: hit.user,
        rule: injection ? "security-injection" : rule.id,
        weight: this.options.weights?.[rule.id] ?? rule.weight ?? 1,
        instant: injection ? this.options.banInjection === true : rule.instant === true,
        attempts: 1,
        callId: hit.callId,
        injection: injection || undefined,
      };
      this.count(event, line, hit.runningTries, emit);
      return "done";
    }
    return tried ? "tried" : "none";
  }

  private count(
    event: FailureEvent,
    line: string,
    runningTries: number | undefined,
    emit: (event: FailureEvent) => void,
  ): void {
    const accepted = this.coalescer.accept(event, runningTries);
    if (accepted === null) {
      this.stats.duplicates++;
      this.options.observe?.(line, { kind: "duplicate", event });
      return;
    }
    this.options.observe?.(line, { kind: "event", event: accepted });
    emit(accepted);
  }
}

// The [json] formatter escapes line breaks, so only a plain-text security record can be split.
function isPhysicalSecurityRecord(line: string, record: LogRecord): boolean {
  return line.charCodeAt(0) !== 0x7b && record.message.startsWith("SecurityEvent=");
}
