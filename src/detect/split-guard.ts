import type { LogRecord } from "./event.js";
import { splitRemainderAddress } from "./rules/security.js";

/** A physical line with its parsed prefix (null: the line had none). */
export interface HeldLine {
  line: string;
  record: LogRecord | null;
}

// The attacker has about 200 bytes of To header to forge a record with, so the remainder of a
// split record starts within this many bytes and lines of the record that was split.
const WINDOW_BYTES = 512;
const WINDOW_LINES = 4;

/**
 * Guards against records split by raw newlines. Asterisk decodes `%0A` in a SIP URI user and
 * writes it raw into the security log, so one REGISTER can write
 *
 *   [..] SECURITY[..] res_security_log.c: SecurityEvent="...",AccountID="x   <- real start, maybe with a forged tail
 *   [..] NOTICE[..] chan_sip.c: Registration from '' failed for '<victim>' - Wrong password   <- forged
 *   ",SessionID="...",LocalAddress="...",RemoteAddress="IPV4/UDP/<attacker>/5060"            <- real remainder, no prefix
 *
 * A security record is therefore held, with the lines after it, until enough bytes have
 * followed that its remainder could no longer come. If a line without a prefix comes first,
 * everything held is dropped unread and the remainder's address is reported as an injector.
 */
export class SplitGuard {
  private held: Array<HeldLine & { opensWindow: boolean; bytesAfter: number; linesAfter: number }> = [];

  /** Lines dropped because they stood inside a split record. */
  distrusted = 0;

  /** True while lines are held: the caller must then feed every physical line, not only hits. */
  get holding(): boolean {
    return this.held.length > 0;
  }

  /**
   * Feeds one physical line. Returns the lines now safe to read (in order), or, when the line
   * closes a split record, the injector's address.
   */
  push(
    line: string,
    record: LogRecord | null,
    opensWindow: boolean,
  ): { released: HeldLine[]; injector?: { ip: string; port?: number } } {
    if (record === null && this.held.length > 0) {
      this.distrusted += this.held.length;
      this.held = [];
      const injector = splitRemainderAddress(line) ?? undefined;
      return { released: [], injector };
    }
    for (const h of this.held) {
      h.bytesAfter += line.length + 1;
      h.linesAfter++;
    }
    if (this.held.length === 0 && !opensWindow) return { released: [{ line, record }] };
    this.held.push({ line, record, opensWindow, bytesAfter: 0, linesAfter: 0 });
    return { released: this.release(false) };
  }

  /** Releases everything held (end of input, or the source has been quiet long enough). */
  flush(): HeldLine[] {
    return this.release(true);
  }

  private release(all: boolean): HeldLine[] {
    const out: HeldLine[] = [];
    while (this.held.length > 0) {
      const front = this.held[0]!;
      const open = front.opensWindow && front.bytesAfter < WINDOW_BYTES && front.linesAfter < WINDOW_LINES;
      if (open && !all) break;
      this.held.shift();
      out.push({ line: front.line, record: front.record });
    }
    return out;
  }
}
