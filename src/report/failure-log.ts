import type { FailureEvent, Service } from "../detect/event.js";

/**
 * The failures of a scan, kept for the ban policy's replay in time order (rotated files may be
 * given in any order, and threads stamp lines slightly out of order). Stored as columns of
 * numbers, with strings interned: a scan of a flood holds millions of failures, and keeping
 * each as an object (with its line) made the garbage collector cost more than reading them.
 * Lines are kept only when asked for (the sample in a ban's evidence).
 */
export class FailureLog {
  private size = 0;
  private times = new Float64Array(1024);
  private weights = new Float64Array(1024);
  private attempts = new Float64Array(1024);
  /** The offender's index in the report; interned strings: reason, service, rule, user (-1 for none). */
  private offenders = new Int32Array(1024);
  private reasons = new Int32Array(1024);
  private services = new Int32Array(1024);
  private rules = new Int32Array(1024);
  private users = new Int32Array(1024);
  /** Bit 0: instant, bit 1: injection. */
  private flags = new Uint8Array(1024);
  private readonly lines: Array<string | undefined> | null;
  // Reasons, services and rules: a few dozen texts, each seen over and over.
  private readonly reasonNames = new Interned();
  private readonly serviceNames = new Interned();
  private readonly ruleNames = new Interned();
  /** User names are attacker-written: as many as the attacker likes. */
  private readonly userNames = new Interned();
  private sorted = true;

  constructor(options: { keepLines?: boolean } = {}) {
    this.lines = options.keepLines ? [] : null;
  }

  get length(): number {
    return this.size;
  }

  /** `offender`: the address's index in the report (see OffenderReport.add). */
  add(e: FailureEvent, offender: number): void {
    if (this.size === this.times.length) this.grow();
    const i = this.size++;
    if (i > 0 && e.time < this.times[i - 1]!) this.sorted = false;
    this.times[i] = e.time;
    this.weights[i] = e.weight;
    this.attempts[i] = e.attempts;
    this.offenders[i] = offender;
    this.reasons[i] = this.reasonNames.id(e.reason);
    this.services[i] = this.serviceNames.id(e.service);
    this.rules[i] = this.ruleNames.id(e.rule);
    this.users[i] = e.user === undefined ? -1 : this.userNames.id(e.user);
    this.flags[i] = (e.instant ? 1 : 0) | (e.injection ? 2 : 0);
    this.lines?.push(e.line);
  }

  /**
   * Visits every failure in time order (ties in the order read). The event passed is rebuilt
   * for each visit and must not be kept.
   */
  forEachInTimeOrder(ipOf: (offender: number) => string, visit: (e: FailureEvent) => void): void {
    const order = new Int32Array(this.size);
    for (let i = 0; i < this.size; i++) order[i] = i;
    // Typed-array sort is stable, so equal times keep the order they were read in.
    if (!this.sorted) order.sort((a, b) => this.times[a]! - this.times[b]!);
    for (const i of order) {
      const user = this.users[i]!;
      const flags = this.flags[i]!;
      visit({
        time: this.times[i]!,
        ip: ipOf(this.offenders[i]!),
        service: this.serviceNames.text(this.services[i]!) as Service,
        reason: this.reasonNames.text(this.reasons[i]!),
        user: user === -1 ? undefined : this.userNames.text(user),
        rule: this.ruleNames.text(this.rules[i]!),
        weight: this.weights[i]!,
        instant: (flags & 1) !== 0,
        attempts: this.attempts[i]!,
        injection: (flags & 2) !== 0 || undefined,
        line: this.lines?.[i],
      });
    }
  }

  private grow(): void {
    const n = this.times.length * 2;
    const widen = <T extends Float64Array | Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.times = widen(this.times, (k) => new Float64Array(k));
    this.weights = widen(this.weights, (k) => new Float64Array(k));
    this.attempts = widen(this.attempts, (k) => new Float64Array(k));
    this.offenders = widen(this.offenders, (k) => new Int32Array(k));
    this.reasons = widen(this.reasons, (k) => new Int32Array(k));
    this.services = widen(this.services, (k) => new Int32Array(k));
    this.rules = widen(this.rules, (k) => new Int32Array(k));
    this.users = widen(this.users, (k) => new Int32Array(k));
    this.flags = widen(this.flags, (k) => new Uint8Array(k));
  }
}

/** Strings numbered in the order first seen. */
class Interned {
  private readonly texts: string[] = [];
  private readonly ids = new Map<string, number>();
  private last = "";
  private lastId = -1;

  id(text: string): number {
    // Runs of the same text are the common case, and comparing is cheaper than hashing a new string.
    if (text === this.last) return this.lastId;
    let id = this.ids.get(text);
    if (id === undefined) {
      id = this.texts.length;
      // A flat copy: a sliced string would keep its whole log line alive.
      const copy = flatten(text);
      this.texts.push(copy);
      this.ids.set(copy, id);
    }
    this.last = text;
    this.lastId = id;
    return id;
  }

  text(id: number): string {
    return this.texts[id]!;
  }
}

/** A copy of `text` that shares no memory with the string it was cut from. */
function flatten(text: string): string {
  return text.length < 13 ? text : (" " + text).slice(1);
}
