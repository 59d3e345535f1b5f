import type { Service } from "../detect/event.js";
import type { Decision } from "../policy/policy.js";
import type { FailureLog } from "./failure-log.js";
import { sumOffenders } from "./offender-sums.js";

/** Reasons kept in an address's own slots; more go to a list of their own (rare). */
export const REASON_SLOTS = 4;
/** More than there are services. */
export const SERVICE_SLOTS = 16;

/** The report's columns, by address number (see OffenderReport), for writers that read them whole. */
export interface OffenderColumns {
  failures: Float64Array;
  firstSeen: Float64Array;
  lastSeen: Float64Array;
  /** NaN: no ban. */
  banAt: Float64Array;
  seen: Uint8Array;
  /** REASON_SLOTS per address: reason number + 1 (0: free), and its count. */
  reasonIds: Int32Array;
  reasonCounts: Float64Array;
  /** SERVICE_SLOTS per address: service number + 1 (0: free). */
  serviceIds: Uint8Array;
  /** The reasons past an address's slots, by address number: [reason number, count] pairs. */
  moreReasons: ReadonlyMap<number, readonly number[]>;
}

/** What one address did, as `scan` reports it. */
export interface Offender {
  ip: string;
  failures: number;
  /** Each reason with its count, in the order first seen. */
  reasons: Array<[reason: string, count: number]>;
  users: string[];
  services: string[];
  firstSeen: number;
  lastSeen: number;
  /** The policy bans it (and when the first ban would have started). */
  wouldBan: boolean;
  banAt?: number;
}

/**
 * Sums a scan's failures per address for the offender table, from the failure log's columns of
 * numbers, in the order the failures were counted (reasons, services and users are listed in
 * the order first seen). What is summed per address lives in columns indexed by the address's
 * number (see FailureLog.address): reasons and services by number in slots. The user names
 * listed are the log's own (see FailureLog.usersOf). The sums run in WebAssembly where they can
 * (see sumOffenders), else here, with the same result.
 */
export class OffenderReport {
  private readonly capacity: number;
  private readonly failureCounts: Float64Array;
  private readonly firstSeen: Float64Array;
  private readonly lastSeen: Float64Array;
  /** 1 for an address with a failure counted. */
  private readonly seen: Uint8Array;
  /** SERVICE_SLOTS per address: service number + 1 (0: free), in the order seen. */
  private readonly serviceIds: Uint8Array;
  /** REASON_SLOTS per address: reason number + 1 (0: free), and its count. */
  private readonly reasonIds: Int32Array;
  private readonly reasonCounts: Float64Array;
  private readonly banAt: Float64Array;
  /** Reasons past an address's slots, by address: [reason number, count] pairs. */
  private readonly moreReasons = new Map<number, number[]>();
  failures = 0;

  /** `inJavaScript`: sum without WebAssembly (for comparisons). */
  constructor(
    private readonly log: FailureLog,
    inJavaScript = false,
  ) {
    const n = log.addressCount;
    this.capacity = n;
    this.banAt = new Float64Array(n).fill(Number.NaN);
    const sums = inJavaScript ? undefined : sumOffenders(log.columns());
    if (sums) {
      this.failureCounts = sums.failures;
      this.firstSeen = sums.firstSeen;
      this.lastSeen = sums.lastSeen;
      this.seen = sums.seen;
      this.serviceIds = sums.serviceIds;
      this.reasonIds = sums.reasonIds;
      this.reasonCounts = sums.reasonCounts;
      this.failures = sums.total;
      const { moreIds, moreAttempts } = sums;
      for (let k = 0; k < moreAttempts.length; k++)
        this.countMoreReason(moreIds[2 * k]!, moreIds[2 * k + 1]!, moreAttempts[k]!);
      return;
    }
    this.failureCounts = new Float64Array(n);
    this.firstSeen = new Float64Array(n);
    this.lastSeen = new Float64Array(n);
    this.seen = new Uint8Array(n);
    this.serviceIds = new Uint8Array(n * SERVICE_SLOTS);
    this.reasonIds = new Int32Array(n * REASON_SLOTS);
    this.reasonCounts = new Float64Array(n * REASON_SLOTS);
    log.forEachCounted((offender, time, attempts, reason, service) =>
      this.add(offender, time, attempts, reason, service),
    );
  }

  /** Counts one failure. */
  private add(index: number, time: number, attempts: number, reason: number, service: number): void {
    this.failures += attempts;
    if (this.seen[index] === 0) {
      this.seen[index] = 1;
      this.firstSeen[index] = time;
      this.lastSeen[index] = time;
    } else {
      if (time < this.firstSeen[index]!) this.firstSeen[index] = time;
      if (time > this.lastSeen[index]!) this.lastSeen[index] = time;
    }
    this.failureCounts[index]! += attempts;
    this.countReason(index, reason, attempts);
    this.addService(index, service);
  }

  ipOf(index: number): string {
    return this.log.ipOf(index);
  }

  markBan(decision: Decision): void {
    const index = this.log.find(decision.ip);
    if (index !== undefined) this.markBanAt(index, decision.at);
  }

  /** The address at `index` (see `add`) would be banned at `at`, unless an earlier ban was marked. */
  markBanAt(index: number, at: number): void {
    if (Number.isNaN(this.banAt[index]!)) this.banAt[index] = at;
  }

  /** Offenders, most failures first, ties in address order (compared as code units). */
  offenders(): Offender[] {
    return this.ranked().map((i): Offender => {
      const banAt = this.banAtOf(i);
      return {
        ip: this.ipOf(i),
        failures: this.failureCounts[i]!,
        reasons: this.reasonsOf(i),
        users: this.usersOf(i),
        services: this.servicesOf(i),
        firstSeen: this.firstSeen[i]!,
        lastSeen: this.lastSeen[i]!,
        wouldBan: banAt !== undefined,
        banAt,
      };
    });
  }

  // Each offender's parts by its index (see `ranked`), for writers that make no Offender each.

  /** The columns themselves, not to be changed. */
  columns(): OffenderColumns {
    return {
      failures: this.failureCounts,
      firstSeen: this.firstSeen,
      lastSeen: this.lastSeen,
      banAt: this.banAt,
      seen: this.seen,
      reasonIds: this.reasonIds,
      reasonCounts: this.reasonCounts,
      serviceIds: this.serviceIds,
      moreReasons: this.moreReasons,
    };
  }

  /** The failure log the report sums (its addresses and texts by number). */
  get failureLog(): FailureLog {
    return this.log;
  }

  failuresOf(index: number): number {
    return this.failureCounts[index]!;
  }

  firstSeenOf(index: number): number {
    return this.firstSeen[index]!;
  }

  lastSeenOf(index: number): number {
    return this.lastSeen[index]!;
  }

  /** When the address's first ban would start, if it would be banned. */
  banAtOf(index: number): number | undefined {
    const at = this.banAt[index]!;
    return Number.isNaN(at) ? undefined : at;
  }

  /**
   * Address indexes in the report's order (see `offenders`). The comparison reads numbers first:
   * each address's first 14 characters, packed 7 to a number, so that nearly no pair of
   * addresses is told apart by comparing their strings (a flood has hundreds of thousands).
   */
  ranked(): number[] {
    const n = this.capacity;
    const heads = new Float64Array(n);
    const tails = new Float64Array(n);
    const ips: string[] = [];
    const order: number[] = [];
    for (let i = 0; i < n; i++) {
      const ip = this.ipOf(i);
      ips.push(ip);
      // An address whose failures were all distrusted, or all of a file read again.
      if (this.seen[i] === 0) continue;
      packChars(ip, heads, tails, i);
      order.push(i);
    }
    const failures = this.failureCounts;
    return order.sort(
      (a, b) =>
        failures[b]! - failures[a]! ||
        heads[a]! - heads[b]! ||
        tails[a]! - tails[b]! ||
        (ips[a]! < ips[b]! ? -1 : ips[a]! > ips[b]! ? 1 : 0),
    );
  }

  private countReason(index: number, reason: number, attempts: number): void {
    const k = slotFor(this.reasonIds, index * REASON_SLOTS, (index + 1) * REASON_SLOTS, reason + 1);
    if (k !== -1) {
      if (this.reasonIds[k] === 0) this.reasonIds[k] = reason + 1;
      this.reasonCounts[k]! += attempts;
      return;
    }
    this.countMoreReason(index, reason, attempts);
  }

  /** Counts a reason that found no free slot of the address's own. */
  private countMoreReason(index: number, reason: number, attempts: number): void {
    const more = this.moreReasons.get(index) ?? [];
    for (let j = 0; j < more.length; j += 2) {
      if (more[j] === reason) {
        more[j + 1]! += attempts;
        return;
      }
    }
    more.push(reason, attempts);
    this.moreReasons.set(index, more);
  }

  private addService(index: number, service: number): void {
    const k = slotFor(this.serviceIds, index * SERVICE_SLOTS, (index + 1) * SERVICE_SLOTS, service + 1);
    if (k !== -1) this.serviceIds[k] = service + 1;
  }

  reasonsOf(index: number): Array<[string, number]> {
    const list: Array<[string, number]> = [];
    for (let k = index * REASON_SLOTS; k < (index + 1) * REASON_SLOTS && this.reasonIds[k] !== 0; k++)
      list.push([this.log.reasons.text(this.reasonIds[k]! - 1), this.reasonCounts[k]!]);
    const more = this.moreReasons.get(index) ?? [];
    for (let k = 0; k < more.length; k += 2) list.push([this.log.reasons.text(more[k]!), more[k + 1]!]);
    return list;
  }

  usersOf(index: number): string[] {
    return this.log.usersOf(index);
  }

  servicesOf(index: number): Service[] {
    const list: Service[] = [];
    for (let k = index * SERVICE_SLOTS; k < (index + 1) * SERVICE_SLOTS && this.serviceIds[k] !== 0; k++)
      list.push(this.log.services.text(this.serviceIds[k]! - 1) as Service);
    return list;
  }
}

/**
 * The slot of `slots[from, to)` that holds `id`, else the first free one (0), else -1 (all
 * taken by others).
 */
function slotFor(slots: Int32Array | Uint8Array, from: number, to: number, id: number): number {
  for (let k = from; k < to; k++) if (slots[k] === id || slots[k] === 0) return k;
  return -1;
}

/** Characters packed into one number by `packChars`: 7 bits each, within a double's 53. */
const PACKED = 7;

/**
 * Writes the first 2 × PACKED characters of `text` as two numbers, `heads[i]` and `tails[i]`,
 * that order as the characters do compared as code units (a shorter text first). A character
 * past 125 is packed as 127 and ends the packing: texts alike up to it are compared whole.
 */
function packChars(text: string, heads: Float64Array, tails: Float64Array, i: number): void {
  let key = 0;
  let ended = false;
  for (let k = 0; k < 2 * PACKED; k++) {
    if (k === PACKED) {
      heads[i] = key;
      key = 0;
    }
    const c = ended || k >= text.length ? 0 : Math.min(text.charCodeAt(k) + 1, 127);
    if (c === 127) ended = true;
    key = key * 128 + c;
  }
  tails[i] = key;
}
