import { type HostPort, parseHostAndPort } from "../net/address.js";

/**
 * One block of the manager's stream (the text up to an empty line), read with keys only at line
 * start. Nothing in AMI is escaped: values are the attacker's text wherever a SIP field is copied
 * (AccountID, SessionID), and a value holding a raw CR/LF adds lines or whole blocks.
 */
export interface AmiBlock {
  /** Byte offsets of the block in the connection's stream, from the byte after the banner. */
  start: number;
  end: number;
  /** The first value of each key, by lower-case key. */
  fields: Map<string, string>;
  /** Lower-case key of the first line (`event`, `response`), or "" when it is no `Key: value` line. */
  first: string;
  /** Every RemoteAddress value, in order (a repeated key gives several). */
  remoteAddresses: string[];
  /** A key appears more than once (in any case). */
  repeated: boolean;
  /** A line that is not `Key: value`, or holds a lone CR or LF. */
  malformed: boolean;
  /** Longer than MAX_BLOCK: skipped unread. */
  oversized: boolean;
}

/** A real security event is a few hundred bytes; anything far longer is skipped unread. */
export const MAX_BLOCK = 16_384;
const MAX_BANNER = 256;
const CRLF = Buffer.from("\r\n");
const SEPARATOR = Buffer.from("\r\n\r\n");
const KEY_LINE = /^([A-Za-z0-9_-]+): ?(.*)$/s;
const LONE_BREAK = /[\r\n]/;

/** What a chunk of bytes completed: the banner (once per connection) and whole blocks. */
export interface Framed {
  banner?: string;
  blocks: AmiBlock[];
}

/**
 * Cuts one connection's byte stream into the banner line and `\r\n\r\n`-ended blocks, keeping
 * true byte offsets (the split guard measures distances in bytes). One per connection.
 */
export class AmiFramer {
  private buf: Buffer = Buffer.alloc(0);
  /** Stream offset of buf[0] (negative until the banner is read: it is not counted). */
  private base = 0;
  /** Where the search for the next separator resumes (bytes before it hold none). */
  private searchFrom = 0;
  private bannerSeen = false;
  /** Bytes of an oversized block were thrown away; its end is still to come. */
  private discardingSince = -1;

  /** True while bytes of an unfinished block are buffered: more of it is on its way. */
  get partial(): boolean {
    return this.buf.length > 0 || this.discardingSince !== -1;
  }

  /** Feeds bytes. Throws when the peer is not an Asterisk manager (no banner). */
  push(chunk: Buffer): Framed {
    const out: Framed = { blocks: [] };
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (!this.bannerSeen) {
      const eol = this.buf.indexOf(CRLF);
      if (eol === -1) {
        if (this.buf.length > MAX_BANNER)
          throw new Error(`no manager banner in the first ${MAX_BANNER} bytes`);
        return out;
      }
      out.banner = this.buf.toString("utf8", 0, eol);
      this.bannerSeen = true;
      this.buf = this.buf.subarray(eol + 2);
      this.base = 0;
      this.searchFrom = 0;
    }
    for (;;) {
      this.skipEmptyLines();
      const sep = this.buf.indexOf(SEPARATOR, this.searchFrom);
      if (sep === -1) {
        this.searchFrom = Math.max(0, this.buf.length - (SEPARATOR.length - 1));
        if (this.buf.length > MAX_BLOCK) this.discard();
        return out;
      }
      const end = sep + SEPARATOR.length;
      if (this.discardingSince !== -1) {
        out.blocks.push(oversizedBlock(this.discardingSince, this.base + end));
        this.discardingSince = -1;
      } else {
        out.blocks.push(parseBlock(this.buf.toString("utf8", 0, sep), this.base, this.base + end));
      }
      this.advance(end);
    }
  }

  /** An empty line where a block should start ends nothing: it is skipped. */
  private skipEmptyLines(): void {
    let n = 0;
    while (this.buf[n] === 0x0d && this.buf[n + 1] === 0x0a) n += 2;
    if (n > 0) this.advance(n);
  }

  private advance(n: number): void {
    this.buf = this.buf.subarray(n);
    this.base += n;
    this.searchFrom = 0;
  }

  /** Drops the buffered bytes of a block too long to be real, keeping what a separator may start with. */
  private discard(): void {
    if (this.discardingSince === -1) this.discardingSince = this.base;
    const keep = SEPARATOR.length - 1;
    this.advance(this.buf.length - keep);
  }
}

/** Reads one block's text (without its closing empty line). */
export function parseBlock(text: string, start: number, end: number): AmiBlock {
  const block = emptyBlock(start, end);
  const lines = text.split("\r\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (LONE_BREAK.test(line)) block.malformed = true;
    const m = KEY_LINE.exec(line);
    if (!m) {
      block.malformed = true;
      continue;
    }
    const key = m[1]!.toLowerCase();
    const value = m[2]!;
    if (i === 0) block.first = key;
    if (key === "remoteaddress") block.remoteAddresses.push(value);
    if (block.fields.has(key)) block.repeated = true;
    else block.fields.set(key, value);
  }
  return block;
}

function emptyBlock(start: number, end: number): AmiBlock {
  return {
    start,
    end,
    fields: new Map(),
    first: "",
    remoteAddresses: [],
    repeated: false,
    malformed: false,
    oversized: false,
  };
}

function oversizedBlock(start: number, end: number): AmiBlock {
  return { ...emptyBlock(start, end), malformed: true, oversized: true };
}

// `IPV4/UDP/203.0.113.5/5071`, `IPV6/UDP/2001:db8::5/5060`; the transport is left out when
// Asterisk does not know it.
const ADDRESS = /^IPV[46]\/(?:[A-Z]+\/)?([^/]{1,45})\/(\d{1,5})$/;

/** The address in a security event's address value, validated and normalized; null if none. */
export function parseAmiAddress(text: string): HostPort | null {
  const m = ADDRESS.exec(text);
  if (!m) return null;
  return parseHostAndPort(m[1]!, m[2]!);
}

const TIMESTAMP = /^(\d{9,11})(?:\.(\d{1,6}))?$/;
// Asterisk 12 and later: `2024-03-05T10:00:01.101+0000`; Asterisk 11: `1368439853-500975`.
const EVENT_TV_ISO = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)([+-]\d{2}):?(\d{2})$/;
const EVENT_TV_EPOCH = /^(\d{9,11})-(\d{1,6})$/;

/**
 * When the event happened: the manager's `Timestamp:` (timestampevents = yes), else the
 * security event's EventTV, else `now`.
 */
export function eventTime(fields: ReadonlyMap<string, string>, now: number): number {
  const stamp = TIMESTAMP.exec(fields.get("timestamp") ?? "");
  if (stamp) return Number(stamp[1]) * 1000 + Math.floor(Number(`0.${stamp[2] ?? "0"}`) * 1000);
  const tv = fields.get("eventtv") ?? "";
  const iso = EVENT_TV_ISO.exec(tv);
  if (iso) {
    const ms = Date.parse(`${iso[1]}${iso[2]}:${iso[3]}`);
    if (Number.isFinite(ms)) return ms;
  }
  const epoch = EVENT_TV_EPOCH.exec(tv);
  if (epoch) return Number(epoch[1]) * 1000 + Math.floor(Number(epoch[2]!.padStart(6, "0")) / 1000);
  return now;
}
