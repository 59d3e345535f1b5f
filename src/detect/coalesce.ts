import { blankEvent, type FailureEvent, type Service } from "./event.js";

// One attempt writes its lines within the same second; two seconds leave room for a busy logger.
const PAIR_WINDOW_MS = 2000;
const MAX_PENDING = 100_000;
const RECENT = 256;

interface Pending {
  time: number;
  /** Unpaired events by kind: a NOTICE-style line, or a security event. */
  notice: number;
  security: number;
}

/**
 * Counts one attempt once when Asterisk logs it more than once:
 * - AMI writes "tried to authenticate with nonexistent user" or "failed to pass IP ACL" and then
 *   "failed to authenticate as" for the same login: the second line is dropped.
 * - PJSIP's "after N tries" carries a running count per source (5, 6, 7, ...): a line counts
 *   the tries added since the previous one, so 5..16 counts 16, not their sum.
 * - The NOTICE line and the security event of one attempt (when one file holds both) are paired:
 *   by address, port and Call-ID for PJSIP, by address and port (SIP) or account (AMI) within
 *   two seconds otherwise.
 */
export class Coalescer {
  private amiSpecific = new Map<string, number>();
  private lastTries = new Map<string, number>();
  private pending = new Map<string, Pending>();
  /** Pairing starts with the first security event: files without them pay nothing for it. */
  private pairingStarted = false;
  /**
   * The latest NOTICE-side events, to pair with the first security event when it comes: a copy
   * of what pairing reads (the events passed in may be reused objects).
   */
  private readonly recent = new RecentEvents();

  /**
   * True once a security event has come: from then on every failure is paired (and the events
   * before it, as far as they were kept).
   */
  get pairing(): boolean {
    return this.pairingStarted;
  }

  /** Returns the event to count (with `attempts` filled in), or null when it was already counted. */
  accept(event: FailureEvent, runningTries?: number): FailureEvent | null {
    if (event.service === "ami") {
      const key = `${event.ip}|${event.user ?? ""}`;
      if (event.rule === "ami-auth") {
        const t = this.amiSpecific.get(key);
        if (t !== undefined && event.time - t <= PAIR_WINDOW_MS) {
          this.amiSpecific.delete(key);
          return null;
        }
      } else {
        this.remember(this.amiSpecific, key, event.time);
      }
    }
    if (runningTries !== undefined) {
      const last = this.lastTries.get(event.ip) ?? 0;
      event.attempts = runningTries > last ? runningTries - last : runningTries;
      this.remember(this.lastTries, event.ip, runningTries);
    }
    return this.pairNoticeWithSecurity(event) ? null : event;
  }

  private pairNoticeWithSecurity(event: FailureEvent): boolean {
    if (event.injection || event.instant) return false;
    if (!this.pairingStarted) {
      if (event.service !== "security") {
        this.recent.add(event);
        return false;
      }
      this.pairingStarted = true;
      for (const e of this.recent.drain()) this.pairNoticeWithSecurity(e);
    }
    const kind = event.service === "security" ? "security" : "notice";
    const key = pairKey(event);
    if (key === null) return false;
    const p = this.pending.get(key);
    const other = kind === "security" ? "notice" : "security";
    if (p && event.time - p.time <= PAIR_WINDOW_MS && p[other] > 0) {
      p[other]--;
      return true;
    }
    if (p && event.time - p.time <= PAIR_WINDOW_MS) {
      p[kind]++;
      p.time = event.time;
    } else {
      this.remember(this.pending, key, {
        time: event.time,
        notice: kind === "notice" ? 1 : 0,
        security: kind === "security" ? 1 : 0,
      });
    }
    return false;
  }

  private remember<V>(map: Map<string, V>, key: string, value: V): void {
    if (map.size >= MAX_PENDING) map.clear();
    map.set(key, value);
  }
}

// Which service a security event came from is in its reason: "Invalid password (SIP)".
function pairKey(event: FailureEvent): string | null {
  const service = event.service === "security" ? /\((\w+)\)$/.exec(event.reason)?.[1] : undefined;
  if (event.service === "pjsip" || service === "PJSIP") {
    return event.callId ? `p|${event.ip}|${event.port}|${event.callId}` : null;
  }
  if (event.service === "ami" || service === "AMI") return `a|${event.ip}|${event.user ?? ""}`;
  if (event.service === "sip" || service === "SIP") return `s|${event.ip}|${event.port}`;
  return null;
}

/** The last RECENT events, as much of each as pairing reads, in columns (nothing made per event). */
class RecentEvents {
  private readonly times = new Float64Array(RECENT);
  private readonly ips: string[] = [];
  private readonly ports: Array<number | undefined> = [];
  private readonly services: Service[] = [];
  private readonly reasons: string[] = [];
  private readonly users: Array<string | undefined> = [];
  private readonly callIds: Array<string | undefined> = [];
  private next = 0;
  private size = 0;

  add(e: FailureEvent): void {
    const i = this.next;
    this.times[i] = e.time;
    this.ips[i] = e.ip;
    this.ports[i] = e.port;
    this.services[i] = e.service;
    this.reasons[i] = e.reason;
    this.users[i] = e.user;
    this.callIds[i] = e.callId;
    this.next = (i + 1) % RECENT;
    if (this.size < RECENT) this.size++;
  }

  /** The events kept, oldest first, as new objects; forgets them. */
  drain(): FailureEvent[] {
    const events: FailureEvent[] = [];
    for (let k = this.size; k > 0; k--) {
      const i = (this.next - k + RECENT) % RECENT;
      const e = blankEvent();
      e.time = this.times[i]!;
      e.ip = this.ips[i]!;
      e.port = this.ports[i];
      e.service = this.services[i]!;
      e.reason = this.reasons[i]!;
      e.user = this.users[i];
      e.callId = this.callIds[i];
      events.push(e);
    }
    this.size = 0;
    return events;
  }
}
