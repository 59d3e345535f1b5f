import type { Config } from "../config/schema.js";
import type { FailureEvent } from "../detect/event.js";
import { counted } from "../util/counted.js";
import type { Allowlist } from "./allowlist.js";
import { type CountedFailures, replayFirstBans } from "./first-bans.js";

export interface PolicyConfig {
  /** Failures (weighted) within `findtimeMs` that earn a ban. */
  maxretry: number;
  findtimeMs: number;
  /** First ban's length; each earlier ban of the same address multiplies it by `factor`. */
  bantimeMs: number;
  factor: number;
  maxbantimeMs: number;
  /** Addresses tracked at once; past it the least recently seen are forgotten. */
  maxTracked: number;
}

export const DEFAULT_POLICY: PolicyConfig = {
  maxretry: 5,
  findtimeMs: 10 * 60_000,
  bantimeMs: 60 * 60_000,
  factor: 2,
  maxbantimeMs: 7 * 24 * 3600_000,
  maxTracked: 250_000,
};

/** The policy section of a loaded configuration, as the engine takes it. */
export function policyConfig(config: Config): PolicyConfig {
  const p = config.policy;
  return {
    maxretry: p.maxretry,
    findtimeMs: p.findtime,
    bantimeMs: p.bantime,
    factor: p.factor,
    maxbantimeMs: p.maxbantime,
    maxTracked: p.maxTracked,
  };
}

/** One address's failures, in time order (see FailureLog.forEachAddress). */
export interface FailureSeries {
  /**
   * Failure i's time at marks[2i], and at marks[2i + 1] what it adds to the count: its weight
   * times its attempts, or Infinity for a failure that bans at once.
   */
  marks: Float64Array;
  /** The address's failures are order[from] to order[to - 1], in time order. */
  order: Int32Array;
  from: number;
  to: number;
}

/** Why an address was banned: what it did, in numbers and samples. */
export interface Evidence {
  failures: number;
  reasons: string[];
  users: string[];
  services: string[];
  firstSeen: number;
  lastSeen: number;
  /** The line of the failure that decided the ban. */
  sample?: string;
}

export interface Decision {
  ip: string;
  /** When the ban starts (the time of the failure that decided it). */
  at: number;
  until: number;
  reason: string;
  /** 1 for a first ban, 2 for the second, ... */
  offence: number;
  evidence: Evidence;
}

// Kept lean: an attacker rotating through a million addresses makes a million of these.
interface Counter {
  /** Failures inside the window, as pairs: time, weight, time, weight, ... */
  marks: number[];
  /** Shared, never changed in place (see SampleLists). */
  reasons: readonly string[];
  users: readonly string[] | null;
  services: readonly string[];
  firstSeen: number;
  failures: number;
  /** When (in insertions) it was last moved to the young end of the Map. */
  seq: number;
}

const MAX_SAMPLES = 8;
// Forgetting addresses one at a time from the front of a Map is quadratic in V8 (deleted slots
// are skipped on every iteration until the table is rebuilt): forget a slice at once.
const EVICT_SHARE = 64;

/**
 * Decides bans from failure events. Pure: it takes the time as an argument and keeps no timers,
 * so the daemon, `scan` and the tests drive it alike.
 */
export class BanPolicy {
  /** Addresses forgotten because `maxTracked` was reached. */
  evicted = 0;
  /** Failures from allowlisted addresses (never banned). */
  allowlisted = 0;
  private readonly counters = new Map<string, Counter>();
  private readonly samples = new SampleLists();
  private seq = 0;
  private readonly bannedUntil = new Map<string, number>();
  private readonly offences = new Map<string, number>();

  constructor(
    private readonly config: PolicyConfig,
    private readonly allowlist: Allowlist,
    /**
     * Bans an address had before this policy started (from the store), for escalation: those
     * that started before `before` (a replayed log must not count the ban its own failures made
     * on an earlier run).
     */
    private readonly history: (ip: string, before: number) => number = () => 0,
  ) {}

  /**
   * Seeds an active ban made elsewhere (found in the store, or made by hand). How many bans the
   * address had is asked of `history` again at its next ban, which counts this one too.
   */
  rememberBan(ip: string, until: number): void {
    this.bannedUntil.set(ip, until);
    this.offences.delete(ip);
  }

  /** Forgets an active ban (manual unban), keeping its history for escalation. */
  forgetBan(ip: string): void {
    this.bannedUntil.delete(ip);
    this.counters.delete(ip);
  }

  isBanned(ip: string, now: number): boolean {
    const until = this.bannedUntil.get(ip);
    return until !== undefined && until > now;
  }

  /** Counts one failure; returns a ban decision when this failure earns one. */
  onFailure(event: FailureEvent, now: number = event.time): Decision | null {
    if (this.allowlist.has(event.ip)) {
      this.allowlisted++;
      return null;
    }
    if (this.isBanned(event.ip, now)) return null;
    // A new counter holds this failure already (a failure of no attempts leaves `failures` at 0).
    const known = this.counters.has(event.ip);
    const c = this.touch(event, now);
    const horizon = now - this.config.findtimeMs;
    let drop = 0;
    while (drop < c.marks.length && c.marks[drop]! < horizon) drop += 2;
    if (drop > 0) c.marks.splice(0, drop);
    if (known) {
      // A new exact-size array: push would grow it to 19 slots, times a million addresses.
      c.marks = c.marks.concat(now, event.weight * event.attempts);
      c.reasons = this.samples.with(c.reasons, event.reason);
      if (event.user !== undefined) c.users = this.samples.with(c.users, event.user);
      c.services = this.samples.with(c.services, event.service);
    }
    c.failures += event.attempts;
    let sum = 0;
    for (let i = 1; i < c.marks.length; i += 2) sum += c.marks[i]!;
    if (!event.instant && sum < this.config.maxretry) return null;
    return this.decide(event, c, now);
  }

  /**
   * When this policy, fresh, would first ban `ip` for `failures` (all of its failures, in time
   * order): the time of the failure that earns the ban, or undefined. The answer onFailure
   * gives when fed them one by one (the same window, the same sum in the same order), without
   * the counters and evidence a decision carries: all a scan's report asks is who and when.
   */
  firstBanAt(ip: string, failures: FailureSeries): number | undefined {
    const { marks, order, from, to } = failures;
    if (this.allowlist.has(ip)) {
      this.allowlisted += to - from;
      return undefined;
    }
    let oldest = from;
    for (let k = from; k < to; k++) {
      const now = marks[2 * order[k]!]!;
      const horizon = now - this.config.findtimeMs;
      while (marks[2 * order[oldest]!]! < horizon) oldest++;
      let sum = 0;
      for (let j = oldest; j <= k; j++) sum += marks[2 * order[j]! + 1]!;
      // An instant failure adds Infinity: it bans whatever came before it.
      if (sum >= this.config.maxretry) return now;
    }
    return undefined;
  }

  /**
   * firstBanAt for every address of `failures` at once (each address's failures in time order,
   * ties in the order counted), by address number (NaN: no ban); `ipOf` names an address.
   * Replayed in WebAssembly where it runs: a scan asks it of thousands of addresses.
   */
  firstBans(failures: CountedFailures, ipOf: (offender: number) => string): Float64Array | undefined {
    const skip = new Uint8Array(failures.addressCount);
    for (let i = 0; i < skip.length; i++) skip[i] = this.allowlist.has(ipOf(i)) ? 1 : 0;
    const replay = replayFirstBans(failures, skip, this.config.maxretry, this.config.findtimeMs);
    if (replay === undefined) return undefined;
    this.allowlisted += replay.skipped;
    return replay.banAt;
  }

  private decide(event: FailureEvent, c: Counter, now: number): Decision {
    const previous = this.offences.get(event.ip) ?? this.history(event.ip, now);
    const duration = event.instant
      ? this.config.maxbantimeMs
      : Math.min(this.config.bantimeMs * this.config.factor ** previous, this.config.maxbantimeMs);
    const until = now + duration;
    this.bannedUntil.set(event.ip, until);
    this.offences.set(event.ip, previous + 1);
    this.counters.delete(event.ip);
    return {
      ip: event.ip,
      at: now,
      until,
      reason: event.instant
        ? event.reason
        : `${counted(c.failures, "failure")} within ${formatMs(this.config.findtimeMs)}`,
      offence: previous + 1,
      evidence: {
        failures: c.failures,
        reasons: [...c.reasons],
        users: [...(c.users ?? [])],
        services: [...c.services],
        firstSeen: c.firstSeen,
        lastSeen: now,
        sample: event.line === undefined ? undefined : event.line.slice(0, 512),
      },
    };
  }

  private touch(event: FailureEvent, now: number): Counter {
    const ip = event.ip;
    let c = this.counters.get(ip);
    if (c) {
      // Re-inserting keeps the Map in (roughly) least-recently-seen order for eviction; only
      // counters in the older half move, so a busy attacker does not churn the table.
      if (this.seq - c.seq < this.config.maxTracked / 2) return c;
      this.counters.delete(ip);
      c.seq = ++this.seq;
    } else {
      // Arrays built with their first element: an empty array grows to 17 slots on its first push.
      c = {
        marks: [now, event.weight * event.attempts],
        reasons: this.samples.with(null, event.reason),
        users: event.user === undefined ? null : this.samples.with(null, event.user),
        services: this.samples.with(null, event.service),
        firstSeen: now,
        failures: 0,
        seq: ++this.seq,
      };
      if (this.counters.size >= this.config.maxTracked) this.evictOldest();
    }
    this.counters.set(ip, c);
    return c;
  }

  private evictOldest(): void {
    let n = Math.max(1, Math.floor(this.config.maxTracked / EVICT_SHARE));
    for (const ip of this.counters.keys()) {
      this.counters.delete(ip);
      this.evicted++;
      if (--n === 0) break;
    }
  }

  /** Drops counters with no failure inside the window (call now and then to bound memory). */
  expire(now: number): void {
    const horizon = now - this.config.findtimeMs;
    for (const [ip, c] of this.counters) {
      if ((c.marks[c.marks.length - 2] ?? 0) >= horizon) break;
      this.counters.delete(ip);
    }
    for (const [ip, until] of this.bannedUntil) if (until <= now) this.bannedUntil.delete(ip);
  }

  get tracked(): number {
    return this.counters.size;
  }
}

/**
 * Short lists of samples (reasons, users, services), shared between counters: a million
 * addresses failing with "Wrong password" over SIP hold two lists between them, not two million.
 */
class SampleLists {
  private readonly lists = new Map<string, readonly string[]>();

  /** `list` with `item` added (at most MAX_SAMPLES items), as a shared list. */
  with(list: readonly string[] | null, item: string): readonly string[] {
    if (list !== null && (list.includes(item) || list.length >= MAX_SAMPLES)) return list;
    const next = list === null ? [item] : [...list, item];
    const key = next.join("\u0000");
    const shared = this.lists.get(key);
    if (shared) return shared;
    if (this.lists.size >= 100_000) this.lists.clear();
    this.lists.set(key, next);
    return next;
  }
}

/** 600000 → "10m", 3600000 → "1h". */
export function formatMs(ms: number): string {
  const units: Array<[string, number]> = [
    ["w", 7 * 24 * 3600_000],
    ["d", 24 * 3600_000],
    ["h", 3600_000],
    ["m", 60_000],
    ["s", 1000],
  ];
  for (const [unit, size] of units) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** The longest duration taken (a ban's end must stay a date: escalation doubles up to it). */
export const MAX_DURATION_MS = 100 * 365 * 86_400_000;

/** What is wrong with `text` as a duration of `ms` (see parseDuration), or undefined when nothing is. */
export function durationProblem(text: string | number, ms: number): string | undefined {
  if (Number.isNaN(ms)) return `"${text}" is not a duration (write 90s, 10m, 1h, 2d or 1w)`;
  if (!(ms > 0)) return `"${text}" is no time at all: a duration must be longer than 0`;
  if (ms > MAX_DURATION_MS) return `"${text}" is longer than 100 years`;
  return undefined;
}

/** "10m", "1h", "90s", "1w", "500ms" or a bare number of seconds → milliseconds; NaN when invalid. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$/.exec(text.trim());
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000, w: 604_800_000 }[unit]!;
  return Math.round(n * factor);
}
