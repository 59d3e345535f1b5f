import type { FailureEvent } from "../detect/event.js";
import type { Decision } from "../policy/policy.js";

const MAX_USERS = 10;

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

/** An offender while counting: reasons as two short lists (comparing beats hashing a new string). */
interface Tally extends Omit<Offender, "reasons"> {
  reasonTexts: string[];
  reasonCounts: number[];
}

/** Sums failure events per address for the offender table. */
export class OffenderReport {
  private readonly byIp = new Map<string, number>();
  private readonly list: Tally[] = [];
  failures = 0;

  /** Counts one failure; returns the address's index (see `ipOf`). */
  add(event: FailureEvent): number {
    this.failures += event.attempts;
    let index = this.byIp.get(event.ip);
    if (index === undefined) {
      index = this.list.length;
      this.list.push({
        ip: event.ip,
        failures: 0,
        reasonTexts: [],
        reasonCounts: [],
        users: [],
        services: [],
        firstSeen: event.time,
        lastSeen: event.time,
        wouldBan: false,
      });
      this.byIp.set(event.ip, index);
    }
    const o = this.list[index]!;
    o.failures += event.attempts;
    const r = o.reasonTexts.indexOf(event.reason);
    if (r === -1) {
      o.reasonTexts.push(event.reason);
      o.reasonCounts.push(event.attempts);
    } else o.reasonCounts[r]! += event.attempts;
    if (event.user !== undefined && o.users.length < MAX_USERS && !o.users.includes(event.user))
      o.users.push(event.user);
    if (!o.services.includes(event.service)) o.services.push(event.service);
    if (event.time < o.firstSeen) o.firstSeen = event.time;
    if (event.time > o.lastSeen) o.lastSeen = event.time;
    return index;
  }

  ipOf(index: number): string {
    return this.list[index]!.ip;
  }

  markBan(decision: Decision): void {
    const index = this.byIp.get(decision.ip);
    if (index !== undefined) this.markBanAt(index, decision.at);
  }

  /** The address at `index` (see `add`) would be banned at `at`, unless an earlier ban was marked. */
  markBanAt(index: number, at: number): void {
    const o = this.list[index]!;
    if (!o.wouldBan) {
      o.wouldBan = true;
      o.banAt = at;
    }
  }

  /** Offenders, most failures first. */
  offenders(): Offender[] {
    return (
      this.list
        .map(
          (t): Offender => ({
            ip: t.ip,
            failures: t.failures,
            reasons: t.reasonTexts.map((text, i) => [text, t.reasonCounts[i]!]),
            users: t.users,
            services: t.services,
            firstSeen: t.firstSeen,
            lastSeen: t.lastSeen,
            wouldBan: t.wouldBan,
            banAt: t.banAt,
          }),
        )
        // Ties by address text, compared as code units (localeCompare loads a collator for nothing).
        .sort((a, b) => b.failures - a.failures || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0))
    );
  }
}
