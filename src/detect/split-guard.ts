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
const WINDOW_BYTES = 1024;
// A dump's header gives the packet's size; its closing line follows it.
const DUMP_SLACK = 64;

/** Told what a push decided, in this order: items dropped, a caught injector, items now safe to read. */
export interface GuardSink<T> {
  dropped(item: T): void;
  /** A split record's window has closed: its author (undefined when the format has no address there). */
  injection(injector: { ip: string; port?: number } | undefined): void;
  released(item: T): void;
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
 * Every candidate line of a scan passes through here, so nothing is allocated per push: the held lines are
 * a queue of parallel arrays, and what a push decides is told to a sink.
 */
export class SplitGuard<T> {
  // The held lines, oldest first, from index `head` on.
  private items: T[] = [];
  private ends: number[] = [];
  private head = 0;
  private quarantineUntil = -1;
  private lastStartEnd = Number.NEGATIVE_INFINITY;
  private pending: { injector?: { ip: string; port?: number }; until: number } | null = null;

  push(item: T, offset: number, length: number, signal: Signal | null, sink: GuardSink<T>): void {
    const end = offset + length;
    // The held lines that are safe now are told last, but counted first: the decisions below
    // only ever drop lines held after them.
    let safe = this.head;
    while (safe < this.items.length && this.ends[safe]! + WINDOW_BYTES <= offset) safe++;
    if (this.pending && offset >= this.pending.until) {
      const injector = this.pending.injector;
      this.pending = null;
      this.decide(item, offset, end, signal, sink);
      sink.injection(injector);
    } else {
      this.decide(item, offset, end, signal, sink);
    }
    this.release(safe, sink);
  }

  /** End of input (or the source went quiet): everything held is safe now. */
  flush(sink: GuardSink<T>): void {
    const pending = this.pending;
    this.pending = null;
    if (pending) sink.injection(pending.injector);
    this.release(this.items.length, sink);
  }

  private decide(item: T, offset: number, end: number, signal: Signal | null, sink: GuardSink<T>): void {
    if (signal?.kind === "remainder" && offset - this.lastStartEnd <= WINDOW_BYTES) {
      // Everything since the split began is the attacker's text: drop it unread.
      this.dropHeldAfter(offset - WINDOW_BYTES, sink);
      sink.dropped(item);
      // The last remainder of a split is the real one; an earlier one may be forged, and then
      // the real one, still to come, drops what the attacker wrote after it.
      this.pending = { injector: signal.injector, until: end + WINDOW_BYTES };
      this.lastStartEnd = end;
      this.quarantineUntil = end;
      return;
    }
    if (signal?.kind === "start") {
      this.quarantineUntil = Math.max(this.quarantineUntil, end + WINDOW_BYTES);
      this.lastStartEnd = end;
      sink.dropped(item);
      return;
    }
    if (signal?.kind === "dump") {
      this.quarantineUntil = Math.max(this.quarantineUntil, end + signal.bytes + DUMP_SLACK);
      sink.dropped(item);
      return;
    }
    if (offset < this.quarantineUntil) {
      sink.dropped(item);
      return;
    }
    if (signal?.kind === "security-start") this.lastStartEnd = end;
    this.items.push(item);
    this.ends.push(end);
  }

  /** Tells the held lines before index `upTo` as safe and forgets them. */
  private release(upTo: number, sink: GuardSink<T>): void {
    const from = this.head;
    this.head = upTo;
    for (let i = from; i < upTo; i++) sink.released(this.items[i]!);
    // The released front is dropped now and then, not on every push.
    if (upTo > 1024 && upTo * 2 >= this.items.length) {
      this.items.splice(0, upTo);
      this.ends.splice(0, upTo);
      this.head = 0;
    }
  }

  /** Drops the held lines that end after `limit` (held lines end in input order). */
  private dropHeldAfter(limit: number, sink: GuardSink<T>): void {
    let keep = this.items.length;
    while (keep > this.head && this.ends[keep - 1]! > limit) keep--;
    for (let i = keep; i < this.items.length; i++) sink.dropped(this.items[i]!);
    this.items.length = keep;
    this.ends.length = keep;
  }
}
