import type { FailureEvent, Service } from "../detect/event.js";
import type { Decision } from "../policy/policy.js";
import { widened } from "../util/typed-arrays.js";
import { flatten, TextNumbers } from "./text-numbers.js";

const MAX_USERS = 10;
/** Reasons kept in an address's own slots; more go to a list of their own (rare). */
const REASON_SLOTS = 4;
/** More than there are services. */
const SERVICE_SLOTS = 16;

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
 * Sums failure events per address for the offender table. Every failure of a scan passes
 * through `add`, for thousands of addresses in turn: what is counted per address lives in
 * columns indexed by the address's index (reasons and services by their number in
 * `TextNumbers`, user names as texts in ten slots each), so that counting one failure reads a few
 * adjacent entries instead of chasing an object, its lists and their strings.
 */
export class OffenderReport {
  private readonly byIp = new Map<string, number>();
  private readonly ips: string[] = [];
  private capacity = 256;
  private failureCounts = new Float64Array(this.capacity);
  private firstSeen = new Float64Array(this.capacity);
  private lastSeen = new Float64Array(this.capacity);
  /** SERVICE_SLOTS per address: service number + 1 (0: free), in the order seen. */
  private serviceIds = new Uint8Array(this.capacity * SERVICE_SLOTS);
  /** REASON_SLOTS per address: reason number + 1 (0: free), and its count. */
  private reasonIds = new Int32Array(this.capacity * REASON_SLOTS);
  private reasonCounts = new Float64Array(this.capacity * REASON_SLOTS);
  /**
   * MAX_USERS per address: the names, the first `userCounts[k]` of them set. Texts, not numbers:
   * telling a name from at most ten others costs less than looking it up among all (a flood
   * tries a new name on nearly every line), and names seen once are not kept anywhere.
   */
  private readonly userNames: string[] = [];
  private userCounts = new Uint8Array(this.capacity);
  private banAt = new Float64Array(this.capacity).fill(Number.NaN);
  /** Reasons past an address's slots, by address: [reason number, count] pairs. */
  private readonly moreReasons = new Map<number, number[]>();
  private readonly reasons = new TextNumbers();
  private readonly services = new TextNumbers();
  failures = 0;

  /** Counts one failure; returns the address's index (see `ipOf`). */
  add(event: FailureEvent): number {
    const attempts = event.attempts;
    const time = event.time;
    this.failures += attempts;
    let index = this.byIp.get(event.ip);
    if (index === undefined) {
      index = this.ips.length;
      if (index === this.capacity) this.grow();
      this.ips.push(event.ip);
      this.byIp.set(event.ip, index);
      this.firstSeen[index] = time;
      this.lastSeen[index] = time;
    } else {
      if (time < this.firstSeen[index]!) this.firstSeen[index] = time;
      if (time > this.lastSeen[index]!) this.lastSeen[index] = time;
    }
    this.failureCounts[index]! += attempts;
    this.countReason(index, this.reasons.id(event.reason), attempts);
    this.addService(index, this.services.id(event.service));
    if (event.user !== undefined && this.userCounts[index]! < MAX_USERS) this.addUser(index, event.user);
    return index;
  }

  ipOf(index: number): string {
    return this.ips[index]!;
  }

  markBan(decision: Decision): void {
    const index = this.byIp.get(decision.ip);
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
        ip: this.ips[i]!,
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
    const n = this.ips.length;
    const heads = new Float64Array(n);
    const tails = new Float64Array(n);
    for (let i = 0; i < n; i++) packChars(this.ips[i]!, heads, tails, i);
    const failures = this.failureCounts;
    const ips = this.ips;
    const order: number[] = [];
    for (let i = 0; i < n; i++) order.push(i);
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

  private addUser(index: number, user: string): void {
    const base = index * MAX_USERS;
    const count = this.userCounts[index]!;
    for (let k = base; k < base + count; k++) if (this.userNames[k] === user) return;
    // Slots up to this address's are made first (empty): the list never has holes.
    for (let k = this.userNames.length; k < base; k++) this.userNames.push("");
    this.userNames[base + count] = flatten(user);
    this.userCounts[index] = count + 1;
  }

  reasonsOf(index: number): Array<[string, number]> {
    const list: Array<[string, number]> = [];
    for (let k = index * REASON_SLOTS; k < (index + 1) * REASON_SLOTS && this.reasonIds[k] !== 0; k++)
      list.push([this.reasons.text(this.reasonIds[k]! - 1), this.reasonCounts[k]!]);
    const more = this.moreReasons.get(index) ?? [];
    for (let k = 0; k < more.length; k += 2) list.push([this.reasons.text(more[k]!), more[k + 1]!]);
    return list;
  }

  usersOf(index: number): string[] {
    const list: string[] = [];
    for (let k = index * MAX_USERS; k < index * MAX_USERS + this.userCounts[index]!; k++)
      list.push(this.userNames[k]!);
    return list;
  }

  servicesOf(index: number): Service[] {
    const list: Service[] = [];
    for (let k = index * SERVICE_SLOTS; k < (index + 1) * SERVICE_SLOTS && this.serviceIds[k] !== 0; k++)
      list.push(this.services.text(this.serviceIds[k]! - 1) as Service);
    return list;
  }

  private grow(): void {
    const n = this.capacity * 2;
    this.failureCounts = widened(this.failureCounts, n);
    this.firstSeen = widened(this.firstSeen, n);
    this.lastSeen = widened(this.lastSeen, n);
    this.serviceIds = widened(this.serviceIds, n * SERVICE_SLOTS);
    this.reasonIds = widened(this.reasonIds, n * REASON_SLOTS);
    this.reasonCounts = widened(this.reasonCounts, n * REASON_SLOTS);
    this.userCounts = widened(this.userCounts, n);
    this.banAt = widened(this.banAt, n, Number.NaN);
    this.capacity = n;
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
