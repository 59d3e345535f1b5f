import type { FailureEvent } from "./event.js";

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
  private pairing = false;
  /** The latest NOTICE-side events, to pair with the first security event when it comes. */
  private readonly recent: FailureEvent[] = [];
  private recentNext = 0;

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
    if (!this.pairing) {
      if (event.service !== "security") {
        this.recent[this.recentNext] = event;
        this.recentNext = (this.recentNext + 1) % RECENT;
        return false;
      }
      this.pairing = true;
      const ordered = [...this.recent.slice(this.recentNext), ...this.recent.slice(0, this.recentNext)];
      for (const e of ordered) this.pairNoticeWithSecurity(e);
      this.recent.length = 0;
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
