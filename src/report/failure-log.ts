import { blankEvent, type FailureEvent, type Service } from "../detect/event.js";
import type { FailureSeries } from "../policy/policy.js";
import { widened } from "../util/typed-arrays.js";
import { TextNumbers } from "./text-numbers.js";

/**
 * The failures of a scan, kept for the ban policy's replay. Stored as columns of numbers: a scan
 * of a flood holds millions of failures, and keeping each as an object made the garbage
 * collector cost more than reading them. What a failure said (reason, service, rule, user, line)
 * is kept only when asked for: it is the evidence of bans that are applied (`scan --ban`); the
 * report needs only when each address would be banned.
 */
export class FailureLog {
  private size = 0;
  /** Time and amount of each failure, side by side (see FailureSeries). */
  private marks = new Float64Array(2048);
  private weights = new Float64Array(1024);
  private attempts = new Float64Array(1024);
  /** The offender's index in the report (see OffenderReport.add). */
  private offenders = new Int32Array(1024);
  /** Bit 0: instant, bit 1: injection. */
  private flags = new Uint8Array(1024);
  private readonly details: Details | null;
  private offenderCount = 0;

  constructor(options: { details?: boolean } = {}) {
    this.details = options.details ? new Details() : null;
  }

  /** `offender`: the address's index in the report (see OffenderReport.add). */
  add(e: FailureEvent, offender: number): void {
    if (this.size === this.weights.length) this.grow();
    const i = this.size++;
    this.marks[2 * i] = e.time;
    this.marks[2 * i + 1] = e.instant ? Number.POSITIVE_INFINITY : e.weight * e.attempts;
    this.weights[i] = e.weight;
    this.attempts[i] = e.attempts;
    this.offenders[i] = offender;
    if (offender >= this.offenderCount) this.offenderCount = offender + 1;
    this.flags[i] = (e.instant ? 1 : 0) | (e.injection ? 2 : 0);
    this.details?.add(e);
  }

  /**
   * Visits every failure, address by address, each address's in time order (ties in the order
   * read): the policy decides each address on its own, and it meets every address's failures
   * together. The event passed is reused for the next visit and must not be kept.
   */
  forEachByAddress(ipOf: (offender: number) => string, visit: (e: FailureEvent) => void): void {
    const order = this.orderByAddress();
    const e = blankEvent();
    let offender = -1;
    // An index loop: iterating a typed array with for-of made an object per element here.
    for (let k = 0; k < order.length; k++) {
      const i = order[k]!;
      if (this.offenders[i] !== offender) {
        offender = this.offenders[i]!;
        e.ip = ipOf(offender);
      }
      const flags = this.flags[i]!;
      e.time = this.marks[2 * i]!;
      e.weight = this.weights[i]!;
      e.attempts = this.attempts[i]!;
      e.instant = (flags & 1) !== 0;
      e.injection = (flags & 2) !== 0 || undefined;
      this.details?.fill(e, i);
      visit(e);
    }
  }

  /**
   * Visits every address's failures, in time order (ties in the order read): what the policy
   * needs to tell when an address would first be banned (see BanPolicy.firstBanAt). The series
   * passed is reused for the next address.
   */
  forEachAddress(visit: (offender: number, failures: FailureSeries) => void): void {
    const { order, starts } = this.groups();
    const series: FailureSeries = { marks: this.marks, order, from: 0, to: 0 };
    for (let offender = 0; offender + 1 < starts.length; offender++) {
      series.from = starts[offender]!;
      series.to = starts[offender + 1]!;
      if (series.to > series.from) visit(offender, series);
    }
  }

  /** Failure indexes grouped by address (a counting sort), each group in time order. */
  private orderByAddress(): Int32Array {
    return this.groups().order;
  }

  /** `order`: failure indexes grouped by address, each group in time order; address k's group is order[starts[k], starts[k + 1]). */
  private groups(): { order: Int32Array; starts: Int32Array } {
    const { order, starts } = this.groupedByAddress();
    this.sortGroupsByTime(order, starts);
    return { order, starts };
  }

  // The steps below are functions of their own: each loop is compiled while it runs, and a
  // later loop in the same function, not yet run, made the compiled code start over.

  /** Failure indexes grouped by address (a counting sort), each group in the order read. */
  private groupedByAddress(): { order: Int32Array; starts: Int32Array } {
    const starts = runningSums(keyCounts(this.offenders, this.size, this.offenderCount));
    return { order: groupedIndexes(this.offenders, this.size, starts), starts };
  }

  /** Puts each group in time order, ties in the order read. */
  private sortGroupsByTime(order: Int32Array, starts: Int32Array): void {
    const marks = this.marks;
    // Threads stamp lines slightly out of order, and rotated files may come in any order.
    for (let k = 0; k + 1 < starts.length; k++) {
      const from = starts[k]!;
      const to = starts[k + 1]!;
      for (let j = from + 1; j < to; j++) {
        if (marks[2 * order[j]!]! < marks[2 * order[j - 1]!]!) {
          // Typed-array sort is stable: equal times keep the order they were read in.
          order.subarray(from, to).sort((a, b) => marks[2 * a]! - marks[2 * b]! || a - b);
          break;
        }
      }
    }
  }

  private grow(): void {
    const n = this.weights.length * 2;
    this.marks = widened(this.marks, 2 * n);
    this.weights = widened(this.weights, n);
    this.attempts = widened(this.attempts, n);
    this.offenders = widened(this.offenders, n);
    this.flags = widened(this.flags, n);
  }
}

/** What each failure said, in the order added. */
class Details {
  private readonly reasons: number[] = [];
  private readonly services: number[] = [];
  private readonly rules: number[] = [];
  /** -1 for none. */
  private readonly users: number[] = [];
  private readonly lines: Array<string | undefined> = [];
  private readonly texts = new TextNumbers();
  private readonly userNames = new TextNumbers();

  add(e: FailureEvent): void {
    this.reasons.push(this.texts.id(e.reason));
    this.services.push(this.texts.id(e.service));
    this.rules.push(this.texts.id(e.rule));
    this.users.push(e.user === undefined ? -1 : this.userNames.id(e.user));
    this.lines.push(e.line);
  }

  fill(e: FailureEvent, i: number): void {
    const user = this.users[i]!;
    e.reason = this.texts.text(this.reasons[i]!);
    e.service = this.texts.text(this.services[i]!) as Service;
    e.rule = this.texts.text(this.rules[i]!);
    e.user = user === -1 ? undefined : this.userNames.text(user);
    e.line = this.lines[i];
  }
}

/** How often each key occurs in `keys[0, n)` (keys in [0, keyCount)), at the key's index + 1. */
function keyCounts(keys: Int32Array, n: number, keyCount: number): Int32Array {
  const counts = new Int32Array(keyCount + 1);
  for (let i = 0; i < n; i++) counts[keys[i]! + 1]!++;
  return counts;
}

/** Counts made running sums, in place: from keyCounts, where each key's group starts (the last entry: n). */
function runningSums(counts: Int32Array): Int32Array {
  for (let k = 1; k < counts.length; k++) counts[k]! += counts[k - 1]!;
  return counts;
}

/** The indexes 0 to n - 1, grouped by their key (`starts`: see runningSums), in order within each group. */
function groupedIndexes(keys: Int32Array, n: number, starts: Int32Array): Int32Array {
  const order = new Int32Array(n);
  const next = starts.slice(0, -1);
  for (let i = 0; i < n; i++) order[next[keys[i]!]!++] = i;
  return order;
}
