import type { FailureEvent } from "../detect/event.js";
import { cap } from "../detect/rule.js";
import { FAILURE_REASONS } from "../detect/security-events.js";
import type { HostPort } from "../net/address.js";
import { type AmiBlock, eventTime, parseAmiAddress } from "./ami-protocol.js";

export const AMI_EVENT_RULE = "ami-security-event";
export const AMI_INJECTION_RULE = "ami-injection";

// Every security event carries these (main/security_events.c); AccountID is the attacker's text
// and stands before SessionID, so a raw CR/LF in it cuts the block before the addresses.
const COMMON_REQUIRED = [
  "eventtv",
  "severity",
  "service",
  "eventversion",
  "accountid",
  "sessionid",
  "localaddress",
  "remoteaddress",
];
const EXTRA_REQUIRED: Readonly<Record<string, readonly string[]>> = {
  ChallengeResponseFailed: ["challenge", "response", "expectedresponse"],
  ChallengeSent: ["challenge"],
  SuccessfulAuth: ["usingpassword"],
  RequestNotAllowed: ["requesttype"],
  RequestNotSupported: ["requesttype"],
  RequestBadFormat: ["requesttype"],
  AuthMethodNotAllowed: ["authmethod"],
  InvalidTransport: ["attemptedtransport"],
  UnexpectedAddress: ["expectedaddress"],
};

/** Every security event name Asterisk sends (EVENT_FLAG_SECURITY); all but the last two can be counted. */
export const SECURITY_EVENTS: ReadonlySet<string> = new Set([
  ...Object.keys(FAILURE_REASONS),
  "ChallengeSent",
  "SuccessfulAuth",
]);

export interface AmiGuardStats {
  /** Blocks read after login, answers to sipban's own actions left out. */
  blocks: number;
  /** Failure events passed on. */
  failures: number;
  /** Whole events that are no failure (ChallengeSent, SuccessfulAuth, other classes). */
  ignored: number;
  /** Blocks refused: a repeated key, a line that is no `Key: value`, a stray response, oversized. */
  rejected: number;
  /** Security events cut short (a required field missing): a split has begun. */
  incomplete: number;
  /** Blocks that start with neither `Event:` nor `Response:`: the remainder of a split event. */
  remainders: number;
  /** Failure events dropped because they stood within the window of a split or a rejected block. */
  distrusted: number;
  /** Split events whose author was found and reported. */
  injections: number;
  /** Splits or rejected blocks whose author could not be named without doubt. */
  unattributed: number;
}

export function emptyGuardStats(): AmiGuardStats {
  return {
    blocks: 0,
    failures: 0,
    ignored: 0,
    rejected: 0,
    incomplete: 0,
    remainders: 0,
    distrusted: 0,
    injections: 0,
    unattributed: 0,
  };
}

export interface AmiGuardOptions {
  /** Event names reported as failures. */
  failures: ReadonlySet<string>;
  /** Bytes of the stream an attacker's text can reach from a cut (see AmiGuard). */
  windowBytes: number;
  weights?: Readonly<Record<string, number>>;
  banInjection?: boolean;
  now(): number;
  emit(event: FailureEvent): void;
}

interface Held {
  event: FailureEvent;
  end: number;
}

/** Blocks around a cut: distrusted until windowBytes have passed after the last odd one. */
interface Cluster {
  lastEnd: number;
  /** The address in the last remainder: the split's author, unless something after it disputes it. */
  injector?: HostPort;
  /** A block after the remainder names another address: it may be the real remainder, disguised. */
  disputed: boolean;
}

type Verdict =
  | { kind: "failure"; event: FailureEvent }
  | { kind: "ignored" }
  | { kind: "rejected" | "incomplete" }
  | { kind: "remainder"; injector: HostPort | null };

/**
 * Turns the blocks of one manager connection into failure events, distrusting what an attacker
 * may have written. Asterisk decodes `%0D%0A` in a SIP URI user and copies it raw into AccountID,
 * so one request can cut its own event and write blocks of its choosing:
 *
 *   Event: InvalidPassword ... AccountID: x          <- the real start, cut (incomplete)
 *   Event: InvalidPassword ... RemoteAddress: victim <- forged, complete-looking
 *   y                                               <- the real remainder: no Event:, no Response:,
 *   SessionID: ... RemoteAddress: <attacker>           its last RemoteAddress is the author's
 *
 * The attacker's text can also make the cut start look complete (a forged tail of its own) or
 * add key lines inside one block (a repeated key). So every odd block (incomplete, remainder,
 * repeated key, malformed, stray response) casts distrust windowBytes both ways: failure events
 * are held until windowBytes of stream have followed them (or the stream goes quiet, `settle`),
 * and one within reach before or after an odd block is dropped. Asterisk writes an event in one
 * go, so once the stream is quiet the attacker's text is all there.
 *
 * The injection is reported for the last remainder's address, unless a block after it names
 * another address: the real remainder can be disguised as a whole event (the attacker writes an
 * `Event:` head before the real tail), and then an earlier "remainder" was forged to frame
 * someone. Doubtful splits are counted, never blamed on anyone.
 */
export class AmiGuard {
  private held: Held[] = [];
  private cluster: Cluster | null = null;

  constructor(
    private readonly options: AmiGuardOptions,
    readonly stats: AmiGuardStats,
  ) {}

  /** Something is waiting for the stream to go quiet (or for more bytes) before it is decided. */
  get pending(): boolean {
    return this.held.length > 0 || this.cluster !== null;
  }

  /** One block after login that is no answer to sipban's own actions. */
  block(b: AmiBlock): void {
    this.stats.blocks++;
    this.releaseBefore(b.start);
    const verdict = this.judge(b);
    const window = this.options.windowBytes;
    if (verdict.kind === "failure" || verdict.kind === "ignored") {
      if (this.cluster) {
        this.dispute(b);
        if (verdict.kind === "failure") this.stats.distrusted++;
        else this.stats.ignored++;
        return;
      }
      if (verdict.kind === "failure") this.held.push({ event: verdict.event, end: b.end });
      else this.stats.ignored++;
      return;
    }
    // An odd block: what lies within reach before it may be the attacker's text.
    const kept = this.held.filter((h) => h.end <= b.start - window);
    this.stats.distrusted += this.held.length - kept.length;
    this.held = kept;
    const cluster = this.cluster ?? { lastEnd: b.end, disputed: false };
    this.cluster = cluster;
    cluster.lastEnd = b.end;
    if (verdict.kind === "remainder") {
      this.stats.remainders++;
      // An attacker's text always stands before the real tail: a later remainder is the truer one.
      if (verdict.injector) {
        cluster.injector = verdict.injector;
        cluster.disputed = false;
      }
      return;
    }
    this.stats[verdict.kind]++;
    this.dispute(b);
  }

  /** The stream went quiet with no partial block: all the attacker's text has been read. */
  settle(): void {
    this.releaseBefore(Number.POSITIVE_INFINITY);
  }

  /** The connection ended inside a block: what is held cannot be cleared any more. */
  abandon(): void {
    this.stats.distrusted += this.held.length;
    this.held = [];
    if (this.cluster) {
      this.stats.unattributed++;
      this.cluster = null;
    }
  }

  private releaseBefore(offset: number): void {
    const window = this.options.windowBytes;
    let n = 0;
    while (n < this.held.length && this.held[n]!.end + window <= offset) {
      this.stats.failures++;
      this.options.emit(this.held[n]!.event);
      n++;
    }
    if (n > 0) this.held.splice(0, n);
    const cluster = this.cluster;
    if (cluster && cluster.lastEnd + window <= offset) {
      this.cluster = null;
      this.close(cluster);
    }
  }

  private close(cluster: Cluster): void {
    const injector = cluster.injector;
    if (!injector || cluster.disputed) {
      this.stats.unattributed++;
      return;
    }
    this.stats.injections++;
    this.options.emit({
      time: this.options.now(),
      ip: injector.ip,
      port: injector.port,
      service: "security",
      reason: "Log injection attempt (split AMI event)",
      rule: AMI_INJECTION_RULE,
      weight: this.options.weights?.[AMI_INJECTION_RULE] ?? 1,
      instant: this.options.banInjection === true,
      attempts: 1,
      injection: true,
    });
  }

  /** Any address after the remainder other than its own may be the real author's. */
  private dispute(b: AmiBlock): void {
    const injector = this.cluster?.injector;
    if (!injector || this.cluster!.disputed) return;
    for (const text of b.remoteAddresses) {
      if (parseAmiAddress(text)?.ip !== injector.ip) {
        this.cluster!.disputed = true;
        return;
      }
    }
  }

  private judge(b: AmiBlock): Verdict {
    if (b.oversized) return { kind: "rejected" };
    if (b.first !== "event" && b.first !== "response") {
      const last = b.remoteAddresses[b.remoteAddresses.length - 1];
      return { kind: "remainder", injector: last === undefined ? null : parseAmiAddress(last) };
    }
    // Responses to sipban's own actions never come here: any other is forged.
    if (b.malformed || b.repeated || b.first === "response") return { kind: "rejected" };
    const name = b.fields.get("event")!;
    const privilege = b.fields.get("privilege") ?? "";
    if (!SECURITY_EVENTS.has(name) && !/(?:^|,)security(?:,|$)/.test(privilege)) return { kind: "ignored" };
    for (const key of COMMON_REQUIRED) if (!b.fields.has(key)) return { kind: "incomplete" };
    for (const key of EXTRA_REQUIRED[name] ?? []) if (!b.fields.has(key)) return { kind: "incomplete" };
    const addr = parseAmiAddress(b.fields.get("remoteaddress")!);
    if (!addr || parseAmiAddress(b.fields.get("localaddress")!) === null) return { kind: "rejected" };
    if (!this.options.failures.has(name)) return { kind: "ignored" };
    const service = b.fields.get("service")!;
    const reason = FAILURE_REASONS[name] ?? name;
    return {
      kind: "failure",
      event: {
        time: eventTime(b.fields, this.options.now()),
        ip: addr.ip,
        port: addr.port,
        service: "security",
        reason: `${reason} (${cap(service, 16)})`,
        user: cap(b.fields.get("accountid")),
        rule: AMI_EVENT_RULE,
        weight: this.options.weights?.[AMI_EVENT_RULE] ?? 1,
        instant: false,
        attempts: 1,
        // PJSIP's SessionID is the SIP Call-ID.
        callId: service === "PJSIP" ? cap(b.fields.get("sessionid"), 128) : undefined,
      },
    };
  }
}
