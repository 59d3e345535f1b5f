import { blankEvent, type FailureEvent, type Service } from "../detect/event.js";
import type { CountedFailures } from "../policy/first-bans.js";
import type { FailureSeries } from "../policy/policy.js";
import { widened } from "../util/typed-arrays.js";
import { flatten, TextNumbers } from "./text-numbers.js";

/** User names listed per address: the first distinct ones counted. */
export const MAX_USERS = 10;

/** The most failures a log sets aside room for at once (about 50 MB); past it, it grows. */
const MAX_CAPACITY = 1 << 20;

/** A log's failures as columns (see FailureLog.columns): by failure index, and the counted ones. */
export interface FailureColumns extends CountedFailures {
  attempts: Float64Array;
  reasonIds: Int32Array;
  serviceIds: Uint8Array;
}

/** Where a FailureLog stood (see `mark`), to go back to. */
export interface LogMark {
  size: number;
  counted: number;
  addresses: number;
}

/**
 * The failures of a scan: what the offender report sums and the ban policy replays. Stored as
 * columns of numbers (addresses, reasons, services and users by their number): a scan of a
 * flood holds millions of failures, and keeping each as an object made the garbage collector
 * cost more than reading them. What else a failure said (its rule, its line) is kept only when
 * asked for: it is the evidence of bans that are applied (`scan --ban`).
 *
 * A failure is added, then counted. The detector's events are both at once; a line the
 * WebAssembly parser read is added when read (`addParsed`) and counted only when the split guard
 * lets it through (`count`), so that nothing is made per line. Only counted failures are
 * reported (in the order counted) and replayed (each address's in time order, ties in the order
 * counted). A user name is numbered only while its address may still list it (see
 * `userMatters`): a flood tries a new name on nearly every line, and keeping every one would
 * cost memory without bound.
 */
export class FailureLog {
  private size = 0;
  /** Time and amount of each failure, side by side (see FailureSeries). */
  private marks: Float64Array;
  private weights: Float64Array;
  private attempts: Float64Array;
  /** The address's number (see `address`). */
  private offenders: Int32Array;
  /** Bit 0: instant, bit 1: injection. */
  private flags: Uint8Array;
  private reasonIds: Int32Array;
  private serviceIds: Uint8Array;
  /** -1 for none. */
  private userIds: Int32Array;
  /** The failures counted, in the order counted. */
  private counted: Int32Array;
  private countedSize = 0;
  private readonly ips: string[] = [];
  private readonly byIp = new Map<string, number>();
  /** MAX_USERS per address: the first distinct user names counted, by number, in that order. */
  private userSlots = new Int32Array(256 * MAX_USERS);
  /** By address: how many of its user slots are taken. */
  private userCounts = new Uint8Array(256);
  readonly reasons = new TextNumbers();
  readonly services = new TextNumbers();
  readonly users = new TextNumbers();
  private readonly details: Details | null;

  /**
   * `capacity`: about how many failures to expect. Room for them is set aside at once: a scan of
   * a flood adds hundreds of thousands, and copying the columns at every doubling cost more than
   * writing them. Pages set aside but never written cost no memory.
   */
  constructor(options: { details?: boolean; capacity?: number } = {}) {
    this.details = options.details ? new Details() : null;
    const asked = options.capacity ?? 0;
    const n = Math.max(1024, Math.min(Number.isFinite(asked) ? Math.floor(asked) : 0, MAX_CAPACITY));
    this.marks = new Float64Array(2 * n);
    this.weights = new Float64Array(n);
    this.attempts = new Float64Array(n);
    this.offenders = new Int32Array(n);
    this.flags = new Uint8Array(n);
    this.reasonIds = new Int32Array(n);
    this.serviceIds = new Uint8Array(n);
    this.userIds = new Int32Array(n);
    this.counted = new Int32Array(n);
  }

  /** The address's number, given it when new. */
  address(ip: string): number {
    let index = this.byIp.get(ip);
    if (index === undefined) {
      index = this.ips.length;
      if (index === this.userCounts.length) {
        this.userCounts = widened(this.userCounts, index * 2);
        this.userSlots = widened(this.userSlots, index * 2 * MAX_USERS);
      }
      const copy = flatten(ip);
      this.ips.push(copy);
      this.byIp.set(copy, index);
    }
    return index;
  }

  /** The number of an address already seen. */
  find(ip: string): number | undefined {
    return this.byIp.get(ip);
  }

  ipOf(offender: number): string {
    return this.ips[offender]!;
  }

  /** Addresses numbered so far (some may have no failure counted). */
  get addressCount(): number {
    return this.ips.length;
  }

  /**
   * True when a user name tried from the address may still be listed (it has fewer than
   * MAX_USERS counted), or when every failure's user is kept (details): otherwise a failure's
   * user need not be numbered (-1 does).
   */
  userMatters(offender: number): boolean {
    return this.details !== null || this.userCounts[offender]! < MAX_USERS;
  }

  /** The user names listed for the address: the first MAX_USERS distinct ones counted. */
  usersOf(offender: number): string[] {
    const list: string[] = [];
    const base = offender * MAX_USERS;
    for (let k = base; k < base + this.userCounts[offender]!; k++)
      list.push(this.users.text(this.userSlots[k]!));
    return list;
  }

  /**
   * The failures as columns, for work over them all (see replayFirstBans, sumOffenders). Not to
   * be changed.
   */
  columns(): FailureColumns {
    return {
      marks: this.marks.subarray(0, 2 * this.size),
      offenders: this.offenders.subarray(0, this.size),
      attempts: this.attempts.subarray(0, this.size),
      reasonIds: this.reasonIds.subarray(0, this.size),
      serviceIds: this.serviceIds.subarray(0, this.size),
      counted: this.counted.subarray(0, this.countedSize),
      countedSize: this.countedSize,
      addressCount: this.ips.length,
    };
  }

  /**
   * The user names listed, as columns by address number: how many (userCounts) and, MAX_USERS
   * per address, their numbers (userSlots). Not to be changed.
   */
  userColumns(): { userCounts: Uint8Array; userSlots: Int32Array } {
    return { userCounts: this.userCounts, userSlots: this.userSlots };
  }

  /** Adds and counts one of the detector's events. */
  add(e: FailureEvent): void {
    const offender = this.address(e.ip);
    const i = this.addParsed(
      offender,
      e.time,
      e.weight,
      this.reasons.id(e.reason),
      this.services.id(e.service),
      e.user === undefined || !this.userMatters(offender) ? -1 : this.users.id(e.user),
    );
    this.attempts[i] = e.attempts;
    this.marks[2 * i + 1] = e.instant ? Number.POSITIVE_INFINITY : e.weight * e.attempts;
    this.flags[i] = (e.instant ? 1 : 0) | (e.injection ? 2 : 0);
    this.details?.add(e, i);
    this.count(i);
  }

  /**
   * Adds one failure of one attempt, not instant, its texts given by number (see `reasons`,
   * `services`, `users`, `address`): returns its index for `count`.
   */
  addParsed(
    offender: number,
    time: number,
    weight: number,
    reason: number,
    service: number,
    user: number,
  ): number {
    if (this.size === this.weights.length) this.grow();
    const i = this.size++;
    this.marks[2 * i] = time;
    this.marks[2 * i + 1] = weight;
    this.weights[i] = weight;
    this.attempts[i] = 1;
    this.offenders[i] = offender;
    this.flags[i] = 0;
    this.reasonIds[i] = reason;
    this.serviceIds[i] = service;
    this.userIds[i] = user;
    return i;
  }

  /** Counts the failure added at `index`. */
  count(index: number): void {
    if (this.countedSize === this.counted.length)
      this.counted = widened(this.counted, this.counted.length * 2);
    this.counted[this.countedSize++] = index;
    const user = this.userIds[index]!;
    if (user !== -1) this.listUser(this.offenders[index]!, user);
  }

  /** Lists the user for the address if it has a free slot and does not list it yet. */
  private listUser(offender: number, user: number): void {
    const base = offender * MAX_USERS;
    const count = this.userCounts[offender]!;
    if (count === MAX_USERS) return;
    for (let k = base; k < base + count; k++) if (this.userSlots[k] === user) return;
    this.userSlots[base + count] = user;
    this.userCounts[offender] = count + 1;
  }

  /** Where the log stands now. */
  mark(): LogMark {
    return { size: this.size, counted: this.countedSize, addresses: this.ips.length };
  }

  /** Forgets everything added since `mark` (a file to be read again). */
  rollback(mark: LogMark): void {
    if (this.details) throw new Error("a log with details cannot go back");
    this.size = mark.size;
    this.countedSize = mark.counted;
    for (const ip of this.ips.splice(mark.addresses)) this.byIp.delete(ip);
    // The users listed again from what is still counted.
    this.userCounts.fill(0);
    for (let k = 0; k < this.countedSize; k++) {
      const i = this.counted[k]!;
      if (this.userIds[i] !== -1) this.listUser(this.offenders[i]!, this.userIds[i]!);
    }
  }

  /**
   * Visits the failures counted, in the order counted, as their parts (the offender report's
   * input): address, time, attempts, reason, service and user (-1: none) numbers.
   */
  forEachCounted(
    visit: (
      offender: number,
      time: number,
      attempts: number,
      reason: number,
      service: number,
      user: number,
    ) => void,
  ): void {
    for (let k = 0; k < this.countedSize; k++) {
      const i = this.counted[k]!;
      visit(
        this.offenders[i]!,
        this.marks[2 * i]!,
        this.attempts[i]!,
        this.reasonIds[i]!,
        this.serviceIds[i]!,
        this.userIds[i]!,
      );
    }
  }

  /**
   * Visits every failure, address by address, each address's in time order (ties in the order
   * counted): the policy decides each address on its own, and it meets every address's failures
   * together. The event passed is reused for the next visit and must not be kept.
   */
  forEachByAddress(visit: (e: FailureEvent) => void): void {
    const order = this.orderByAddress();
    const e = blankEvent();
    let offender = -1;
    // An index loop: iterating a typed array with for-of made an object per element here.
    for (let k = 0; k < order.length; k++) {
      const i = order[k]!;
      if (this.offenders[i] !== offender) {
        offender = this.offenders[i]!;
        e.ip = this.ips[offender]!;
      }
      const flags = this.flags[i]!;
      e.time = this.marks[2 * i]!;
      e.weight = this.weights[i]!;
      e.attempts = this.attempts[i]!;
      e.instant = (flags & 1) !== 0;
      e.injection = (flags & 2) !== 0 || undefined;
      if (this.details) {
        const user = this.userIds[i]!;
        e.reason = this.reasons.text(this.reasonIds[i]!);
        e.service = this.services.text(this.serviceIds[i]!) as Service;
        e.user = user === -1 ? undefined : this.users.text(user);
        this.details.fill(e, i);
      }
      visit(e);
    }
  }

  /**
   * Visits every address's failures, in time order (ties in the order counted): what the policy
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

  /** Counted failures' indexes grouped by address (a counting sort), each group in the order counted. */
  private groupedByAddress(): { order: Int32Array; starts: Int32Array } {
    const starts = runningSums(keyCounts(this.offenders, this.counted, this.countedSize, this.ips.length));
    return { order: groupedIndexes(this.offenders, this.counted, this.countedSize, starts), starts };
  }

  /** Puts each group in time order, ties in the order counted. */
  private sortGroupsByTime(order: Int32Array, starts: Int32Array): void {
    const marks = this.marks;
    // Threads stamp lines slightly out of order, and rotated files may come in any order.
    for (let k = 0; k + 1 < starts.length; k++) {
      const from = starts[k]!;
      const to = starts[k + 1]!;
      for (let j = from + 1; j < to; j++) {
        if (marks[2 * order[j]!]! < marks[2 * order[j - 1]!]!) {
          // Ties keep the order counted: the stable sort keeps the group's order.
          order.subarray(from, to).sort((a, b) => marks[2 * a]! - marks[2 * b]!);
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
    this.reasonIds = widened(this.reasonIds, n);
    this.serviceIds = widened(this.serviceIds, n);
    this.userIds = widened(this.userIds, n);
  }
}

/** What else each failure said: its rule and its line, by failure index. */
class Details {
  private readonly rules: number[] = [];
  private readonly lines: Array<string | undefined> = [];
  private readonly texts = new TextNumbers();

  add(e: FailureEvent, i: number): void {
    this.rules[i] = this.texts.id(e.rule);
    this.lines[i] = e.line;
  }

  fill(e: FailureEvent, i: number): void {
    e.rule = this.texts.text(this.rules[i]!);
    e.line = this.lines[i];
  }
}

/** How often each key occurs among `keys[which[0, n)]` (keys in [0, keyCount)), at the key's index + 1. */
function keyCounts(keys: Int32Array, which: Int32Array, n: number, keyCount: number): Int32Array {
  const counts = new Int32Array(keyCount + 1);
  for (let k = 0; k < n; k++) counts[keys[which[k]!]! + 1]!++;
  return counts;
}

/** Counts made running sums, in place: from keyCounts, where each key's group starts (the last entry: n). */
function runningSums(counts: Int32Array): Int32Array {
  for (let k = 1; k < counts.length; k++) counts[k]! += counts[k - 1]!;
  return counts;
}

/** The indexes which[0, n), grouped by their key (`starts`: see runningSums), in their order within each group. */
function groupedIndexes(keys: Int32Array, which: Int32Array, n: number, starts: Int32Array): Int32Array {
  const order = new Int32Array(n);
  const next = starts.slice(0, -1);
  for (let k = 0; k < n; k++) {
    const i = which[k]!;
    order[next[keys[i]!]!++] = i;
  }
  return order;
}
