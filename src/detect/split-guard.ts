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

/**
 * Told what a push decided, in this order: items dropped, a caught injector, items now safe to
 * read. A line pushed as a number (see `pushNumber`) comes back as that number.
 */
export interface GuardSink<T> {
  dropped(item: T): void;
  /** A split record's window has closed: its author (undefined when the format has no address there). */
  injection(injector: { ip: string; port?: number } | undefined): void;
  released(item: T): void;
  droppedNumber(n: number): void;
  releasedNumber(n: number): void;
}

/** In `numbers`: the slot holds an item, not a number. */
const ITEM = -0x8000_0000;

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
 * a ring of parallel arrays, and what a push decides is told to a sink.
 */
export class SplitGuard<T> {
  // The held lines, oldest first: `count` of them from slot `head` on (slots wrap around).
  private items: Array<T | undefined> = new Array(64).fill(undefined);
  /** What a slot holds: a number pushed (see `pushNumber`), or ITEM. */
  private numbers = new Int32Array(64);
  private ends = new Float64Array(64);
  private head = 0;
  private count = 0;
  private quarantineUntil = -1;
  private lastStartEnd = Number.NEGATIVE_INFINITY;
  private pending: { injector?: { ip: string; port?: number }; until: number } | null = null;

  push(item: T, offset: number, length: number, signal: Signal | null, sink: GuardSink<T>): void {
    this.pushHeld(item, ITEM, offset, length, signal, sink);
  }

  /**
   * Pushes a line that says nothing about its neighbours, as a number (not negative, or -1) that
   * stands for it: a line that costs no object. The sink gets the number back.
   */
  pushNumber(n: number, offset: number, length: number, sink: GuardSink<T>): void {
    this.pushHeld(undefined, n, offset, length, null, sink);
  }

  private pushHeld(
    item: T | undefined,
    n: number,
    offset: number,
    length: number,
    signal: Signal | null,
    sink: GuardSink<T>,
  ): void {
    const end = offset + length;
    // The held lines that are safe now are told last, but counted first: the decisions below
    // only ever drop lines held after them.
    let safe = 0;
    while (safe < this.count && this.endAt(safe) + WINDOW_BYTES <= offset) safe++;
    if (this.pending && offset >= this.pending.until) {
      const injector = this.pending.injector;
      this.pending = null;
      this.decide(item, n, offset, end, signal, sink);
      sink.injection(injector);
    } else {
      this.decide(item, n, offset, end, signal, sink);
    }
    this.release(safe, sink);
  }

  /** End of input (or the source went quiet): everything held is safe now. */
  flush(sink: GuardSink<T>): void {
    const pending = this.pending;
    this.pending = null;
    if (pending) sink.injection(pending.injector);
    this.release(this.count, sink);
  }

  private decide(
    item: T | undefined,
    n: number,
    offset: number,
    end: number,
    signal: Signal | null,
    sink: GuardSink<T>,
  ): void {
    // Lines pushed as numbers carry no signal.
    if (signal?.kind === "remainder" && offset - this.lastStartEnd <= WINDOW_BYTES) {
      // Everything since the split began is the attacker's text: drop it unread.
      this.dropHeldAfter(offset - WINDOW_BYTES, sink);
      sink.dropped(item as T);
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
      sink.dropped(item as T);
      return;
    }
    if (signal?.kind === "dump") {
      this.quarantineUntil = Math.max(this.quarantineUntil, end + signal.bytes + DUMP_SLACK);
      sink.dropped(item as T);
      return;
    }
    if (offset < this.quarantineUntil) {
      if (n === ITEM) sink.dropped(item as T);
      else sink.droppedNumber(n);
      return;
    }
    if (signal?.kind === "security-start") this.lastStartEnd = end;
    this.hold(item, n, end);
  }

  /** The end of the k-th held line (0: the oldest). */
  private endAt(k: number): number {
    return this.ends[(this.head + k) & (this.ends.length - 1)]!;
  }

  private hold(item: T | undefined, n: number, end: number): void {
    if (this.count === this.ends.length) this.grow();
    const slot = (this.head + this.count) & (this.ends.length - 1);
    this.items[slot] = item;
    this.numbers[slot] = n;
    this.ends[slot] = end;
    this.count++;
  }

  /** Doubles the ring, the held lines from slot 0 on. */
  private grow(): void {
    const size = this.ends.length;
    const items: Array<T | undefined> = new Array(size * 2).fill(undefined);
    const numbers = new Int32Array(size * 2);
    const ends = new Float64Array(size * 2);
    for (let k = 0; k < this.count; k++) {
      const slot = (this.head + k) & (size - 1);
      items[k] = this.items[slot];
      numbers[k] = this.numbers[slot]!;
      ends[k] = this.ends[slot]!;
    }
    this.items = items;
    this.numbers = numbers;
    this.ends = ends;
    this.head = 0;
  }

  /** Tells the oldest `count` held lines as safe and forgets them. */
  private release(count: number, sink: GuardSink<T>): void {
    const mask = this.ends.length - 1;
    for (let k = 0; k < count; k++) {
      const slot = this.head;
      const item = this.items[slot] as T;
      const n = this.numbers[slot]!;
      this.items[slot] = undefined;
      this.head = (slot + 1) & mask;
      this.count--;
      if (n === ITEM) sink.released(item);
      else sink.releasedNumber(n);
    }
  }

  /** Drops the held lines that end after `limit` (held lines end in input order). */
  private dropHeldAfter(limit: number, sink: GuardSink<T>): void {
    let keep = this.count;
    while (keep > 0 && this.endAt(keep - 1) > limit) keep--;
    const mask = this.ends.length - 1;
    for (let k = keep; k < this.count; k++) {
      const slot = (this.head + k) & mask;
      const item = this.items[slot] as T;
      const n = this.numbers[slot]!;
      this.items[slot] = undefined;
      if (n === ITEM) sink.dropped(item);
      else sink.droppedNumber(n);
    }
    this.count = keep;
  }
}
