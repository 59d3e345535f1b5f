/**
 * What a line says about the lines around it.
 * - `start`: a record that begins on this line but does not end on it (an attacker-written field
 *   held a raw newline). The lines that follow within the window are the attacker's.
 * - `security-start`: a security record begins here; a remainder may follow.
 * - `remainder`: the end of a record whose start stood on an earlier line. The last remainder of
 *   a split names its author (`injector`), if the format carries an address there.
 * - `dump`: a debug dump of a raw packet follows (pjproject, `pjsip set logger`): the next `bytes`
 *   bytes are packet content, never log records.
 */
export type Signal =
  | { kind: "start" }
  | { kind: "security-start" }
  | { kind: "remainder"; injector?: { ip: string; port?: number } }
  | { kind: "dump"; bytes: number };

// The attacker has about 200 bytes of header to forge lines with (36 in PJSIP's user name), so
// every line of a split record lies within this many bytes of its start and of its remainder.
export const WINDOW_BYTES = 1024;
// A dump's header gives the packet's size; its closing line follows it.
const DUMP_SLACK = 64;

/** What a push decided: items now safe to read (in order), items dropped, and a caught injector. */
export interface GuardResult<T> {
  released: T[];
  dropped: T[];
  /** Set once a split record's window has closed: its author (undefined address when the format has none there). */
  injection?: { injector?: { ip: string; port?: number } };
}

/**
 * Guards against log records split by raw newlines and against packet dumps. Asterisk decodes
 * `%0A` in a SIP URI user and writes it raw (into the security log, for one), so one REGISTER can
 * write a record's start, forged lines, and the record's real remainder:
 *
 *   [..] SECURITY[..] res_security_log.c: SecurityEvent="...",AccountID="x   <- start (maybe with a forged, complete-looking tail)
 *   [..] NOTICE[..] chan_sip.c: Registration from '' failed for '<victim>' - Wrong password   <- forged
 *   ",SessionID="...",LocalAddress="...",RemoteAddress="IPV4/UDP/<attacker>/5060"             <- real remainder
 *
 * Lines are identified by their byte offset in the input. Every candidate line is held until
 * WINDOW_BYTES have followed it; a remainder drops what is held within the window before it, a
 * start or a dump drops what comes within the window after it. Only lines that hold a rule's
 * literal need to pass through here: the others can never be events.
 *
 * Every line of a scan passes through here, so nothing is allocated per push: the held lines are
 * a queue of parallel arrays, and each push returns the same result object, refilled (read it
 * before the next push).
 */
export class SplitGuard<T> {
  // The held lines, oldest first, from index `head` on.
  private items: T[] = [];
  private ends: number[] = [];
  private head = 0;
  private quarantineUntil = -1;
  private lastStartEnd = Number.NEGATIVE_INFINITY;
  private pending: { injector?: { ip: string; port?: number }; until: number } | null = null;
  private readonly result: GuardResult<T> = { released: [], dropped: [], injection: undefined };

  push(item: T, offset: number, length: number, signal: Signal | null): GuardResult<T> {
    const end = offset + length;
    const result = this.reset();
    this.releaseBefore(offset, result.released);
    if (this.pending && offset >= this.pending.until) {
      result.injection = { injector: this.pending.injector };
      this.pending = null;
    }
    if (signal?.kind === "remainder" && offset - this.lastStartEnd <= WINDOW_BYTES) {
      // Everything since the split began is the attacker's text: drop it unread.
      this.dropHeldAfter(offset - WINDOW_BYTES, result.dropped);
      result.dropped.push(item);
      // The last remainder of a split is the real one; an earlier one may be forged, and then
      // the real one, still to come, drops what the attacker wrote after it.
      this.pending = { injector: signal.injector, until: end + WINDOW_BYTES };
      this.lastStartEnd = end;
      this.quarantineUntil = end;
      return result;
    }
    if (signal?.kind === "start") {
      this.quarantineUntil = Math.max(this.quarantineUntil, end + WINDOW_BYTES);
      this.lastStartEnd = end;
      result.dropped.push(item);
      return result;
    }
    if (signal?.kind === "dump") {
      this.quarantineUntil = Math.max(this.quarantineUntil, end + signal.bytes + DUMP_SLACK);
      result.dropped.push(item);
      return result;
    }
    if (offset < this.quarantineUntil) {
      result.dropped.push(item);
      return result;
    }
    if (signal?.kind === "security-start") this.lastStartEnd = end;
    this.items.push(item);
    this.ends.push(end);
    return result;
  }

  /** End of input (or the source went quiet): everything held is safe now. */
  flush(): GuardResult<T> {
    const result = this.reset();
    for (let i = this.head; i < this.items.length; i++) result.released.push(this.items[i]!);
    this.clearHeld();
    if (this.pending) result.injection = { injector: this.pending.injector };
    this.pending = null;
    return result;
  }

  private reset(): GuardResult<T> {
    const r = this.result;
    r.released.length = 0;
    r.dropped.length = 0;
    r.injection = undefined;
    return r;
  }

  private releaseBefore(offset: number, into: T[]): void {
    let i = this.head;
    while (i < this.items.length && this.ends[i]! + WINDOW_BYTES <= offset) into.push(this.items[i++]!);
    if (i === this.items.length) this.clearHeld();
    else if (i > 1024 && i * 2 > this.items.length) {
      // A source that never goes quiet: drop the released front now and then.
      this.items.splice(0, i);
      this.ends.splice(0, i);
      this.head = 0;
    } else this.head = i;
  }

  /** Moves the held lines that end after `limit` into `into` (held lines end in input order). */
  private dropHeldAfter(limit: number, into: T[]): void {
    let keep = this.items.length;
    while (keep > this.head && this.ends[keep - 1]! > limit) keep--;
    for (let i = keep; i < this.items.length; i++) into.push(this.items[i]!);
    this.items.length = keep;
    this.ends.length = keep;
  }

  private clearHeld(): void {
    this.items.length = 0;
    this.ends.length = 0;
    this.head = 0;
  }
}
