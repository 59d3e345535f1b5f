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

interface Held<T> {
  item: T;
  offset: number;
  end: number;
}

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
 */
export class SplitGuard<T> {
  private held: Held<T>[] = [];
  private quarantineUntil = -1;
  private lastStartEnd = Number.NEGATIVE_INFINITY;
  private pending: { injector?: { ip: string; port?: number }; until: number } | null = null;

  push(item: T, offset: number, length: number, signal: Signal | null): GuardResult<T> {
    const end = offset + length;
    const result: GuardResult<T> = { released: this.releaseBefore(offset), dropped: [] };
    if (this.pending && offset >= this.pending.until) {
      result.injection = { injector: this.pending.injector };
      this.pending = null;
    }
    if (signal?.kind === "remainder" && offset - this.lastStartEnd <= WINDOW_BYTES) {
      // Everything since the split began is the attacker's text: drop it unread.
      const keep = this.held.filter((h) => h.end <= offset - WINDOW_BYTES);
      result.dropped.push(...this.held.filter((h) => h.end > offset - WINDOW_BYTES).map((h) => h.item), item);
      this.held = keep;
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
    this.held.push({ item, offset, end });
    return result;
  }

  /** End of input (or the source went quiet): everything held is safe now. */
  flush(): GuardResult<T> {
    const result: GuardResult<T> = { released: this.held.map((h) => h.item), dropped: [] };
    this.held = [];
    if (this.pending) result.injection = { injector: this.pending.injector };
    this.pending = null;
    return result;
  }

  private releaseBefore(offset: number): T[] {
    let n = 0;
    while (n < this.held.length && this.held[n]!.end + WINDOW_BYTES <= offset) n++;
    if (n === 0) return [];
    return this.held.splice(0, n).map((h) => h.item);
  }
}
