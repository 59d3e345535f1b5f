import type { FailureEvent } from "../detect/event.js";
import type { Decision } from "../policy/policy.js";

const MAX_USERS = 10;

/** What one address did, as `scan` reports it. */
export interface Offender {
  ip: string;
  failures: number;
  reasons: Map<string, number>;
  users: string[];
  services: string[];
  firstSeen: number;
  lastSeen: number;
  /** The policy bans it (and when the first ban would have started). */
  wouldBan: boolean;
  banAt?: number;
}

/** Sums failure events per address for the offender table. */
export class OffenderReport {
  private readonly byIp = new Map<string, Offender>();
  failures = 0;

  add(event: FailureEvent): void {
    this.failures += event.attempts;
    let o = this.byIp.get(event.ip);
    if (!o) {
      o = {
        ip: event.ip,
        failures: 0,
        reasons: new Map(),
        users: [],
        services: [],
        firstSeen: event.time,
        lastSeen: event.time,
        wouldBan: false,
      };
      this.byIp.set(event.ip, o);
    }
    o.failures += event.attempts;
    o.reasons.set(event.reason, (o.reasons.get(event.reason) ?? 0) + event.attempts);
    if (event.user !== undefined && o.users.length < MAX_USERS && !o.users.includes(event.user))
      o.users.push(event.user);
    if (!o.services.includes(event.service)) o.services.push(event.service);
    if (event.time < o.firstSeen) o.firstSeen = event.time;
    if (event.time > o.lastSeen) o.lastSeen = event.time;
  }

  markBan(decision: Decision): void {
    const o = this.byIp.get(decision.ip);
    if (o && !o.wouldBan) {
      o.wouldBan = true;
      o.banAt = decision.at;
    }
  }

  /** Offenders, most failures first. */
  offenders(): Offender[] {
    return [...this.byIp.values()].sort((a, b) => b.failures - a.failures || a.ip.localeCompare(b.ip));
  }
}
