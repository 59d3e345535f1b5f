import { type HostPort, parseHostPort } from "../net/address.js";
import type { LayoutParser } from "./layout.js";
import { cap, hit, type Rule, type RuleHit } from "./rule.js";
import { PJSIP_REQUEST_REASONS, SIP_REGISTER_REASONS } from "./rules/asterisk.js";
import { builtinRules } from "./rules/index.js";

/**
 * Reads the lines that make up nearly all of an attack, straight from their bytes: Asterisk's
 * default file layout (`[date] LEVEL[lwp][C-xxxxxxxx] file: message`) with the six commonest
 * failure messages (chan_sip registration, PJSIP request, both "extension not found" forms, IAX2
 * "No registration for peer", the AMI login). No regular expression runs and only the strings a
 * failure keeps are made.
 *
 * It gives the general reader's answer or none. Each format is its rule's regular expression,
 * worked out by hand and anchored the same way: the fixed text at the end is found first, then
 * the address before it, then the fixed text before that, so attacker text cannot move the
 * address. Whatever does not fit exactly (another layout, a dialplan line, a malformed or
 * ambiguous message, one that could be part of a split record, a date not understood) is left
 * to the general reader, which also counts it. Only plain lines (ASCII, no ESC, no CR: see
 * isPlainLine) come here, so each byte is one character of the text the rules would see. The
 * tests compare both readers line by line on the corpus and on mutated lines.
 *
 * None of these messages can be a split record's start or remainder (each ends with Asterisk's
 * own fixed text, not a quote) or a packet dump header (each starts with Asterisk's own words):
 * the split guard's signal for them is always none.
 */
export class FastLane {
  /** What the last successful `read` found. */
  rule!: Rule;
  hit!: RuleHit;
  time = 0;
  /** Lines read here. */
  linesRead = 0;
  private readonly formats = new Map<string, Format[]>();
  private readonly addresses = new Map<string, HostPort | null>();
  private readonly pjsipReasons = PJSIP_REQUEST_REASONS.map(() => new Map<string, string>());

  /**
   * `byComponent`: the detector's rules per source file. A format is read here only when its
   * rule is the built-in one and every rule the detector would try before it rejects the
   * format's messages by their first words (so the general reader would pick the same rule).
   */
  constructor(
    private readonly layout: LayoutParser,
    byComponent: ReadonlyMap<string, readonly Rule[]>,
  ) {
    for (const format of FORMATS) {
      const rules = byComponent.get(format.component);
      const builtin = builtinRules.find((r) => r.id === format.ruleId);
      const at = rules?.indexOf(builtin!) ?? -1;
      if (at === -1) continue;
      const before = rules!.slice(0, at);
      if (!before.every((r) => format.after.includes(r.id) && builtinRules.includes(r))) continue;
      const list = this.formats.get(format.component) ?? [];
      list.push({ ...format, rule: builtin! });
      this.formats.set(format.component, list);
    }
  }

  /** True when the line buf[start, stop) was read (see `rule`, `hit`, `time`). */
  read(b: Uint8Array, start: number, stop: number): boolean {
    // `[date] LEVEL[lwp]`, an optional `[C-xxxxxxxx]` and `:`, a space.
    if (b[start] !== BRACKET_OPEN) return false;
    const dateEnd = indexOfByte(b, BRACKET_CLOSE, start + 1, Math.min(stop, start + 66));
    if (dateEnd === -1 || dateEnd === start + 1) return false;
    let p = dateEnd + 1;
    if (b[p++] !== SPACE) return false;
    const level = p;
    while (p < stop && b[p]! >= 0x41 && b[p]! <= 0x5a) p++;
    if (p === level || b[p++] !== BRACKET_OPEN) return false;
    const lwp = p;
    while (p < stop && isDigit(b[p]!)) p++;
    if (p === lwp || b[p++] !== BRACKET_CLOSE) return false;
    if (b[p] === BRACKET_OPEN) {
      if (b[p + 1] !== 0x43 /* C */ || b[p + 2] !== 0x2d /* - */) return false;
      p += 3;
      const id = p;
      while (p < stop && isLowerHex(b[p]!)) p++;
      if (p === id || b[p++] !== BRACKET_CLOSE) return false;
    }
    if (b[p] === COLON) p++;
    if (b[p++] !== SPACE) return false;
    // `file: ` (the [plain] formatter's `file:line func: ` and dialplan lines go the long way).
    const file = p;
    let base = p;
    while (p < stop && b[p] !== COLON && !isSpace(b[p]!)) {
      if (b[p] === SLASH) base = p + 1;
      p++;
    }
    if (p === file || b[p] !== COLON || b[p + 1] !== SPACE) return false;
    const formats = this.formats.get(componentName(b, base, p));
    if (formats === undefined) return false;
    p += 2;
    // The layout trims the message's start (ast_trace_log() indents).
    while (p < stop && isSpace(b[p]!)) p++;
    for (const format of formats) {
      const found = format.read(this, b, p, stop);
      if (found === null) continue;
      const time = this.layout.knownTime(latin1(b, start + 1, dateEnd));
      if (Number.isNaN(time)) return false;
      this.rule = format.rule;
      this.hit = found;
      this.time = time;
      this.linesRead++;
      return true;
    }
    return false;
  }

  /** The address a rule's `address()` makes of buf[from, to), through a cache. */
  address(b: Uint8Array, from: number, to: number, bareV6Port: boolean): HostPort | null {
    const text = latin1(b, from, to);
    const key = bareV6Port ? `${text} ` : text;
    let known = this.addresses.get(key);
    if (known === undefined) {
      known = parseHostPort(text, bareV6Port);
      if (this.addresses.size >= 65_536) this.addresses.clear();
      this.addresses.set(key, known);
    }
    return known;
  }

  /** PJSIP's reason with the method: `Failed to authenticate (INVITE)`, one shared string each. */
  pjsipReason(reason: number, method: string): string {
    const byMethod = this.pjsipReasons[reason]!;
    let text = byMethod.get(method);
    if (text === undefined) {
      text = `${PJSIP_REQUEST_REASONS[reason]!} (${method})`;
      if (byMethod.size >= 256) byMethod.clear();
      byMethod.set(method, text);
    }
    return text;
  }
}

interface FormatSpec {
  ruleId: string;
  /** The base name of the source file that writes it. */
  component: string;
  /** Rules that may come before this one for the component: they reject its messages. */
  after: readonly string[];
  /** The rule's hit for the message buf[m, stop), or null when the general reader must decide. */
  read(lane: FastLane, b: Uint8Array, m: number, stop: number): RuleHit | null;
}

interface Format extends FormatSpec {
  rule: Rule;
}

// ---------------------------------------------------------------------------------------------
// The formats. Each comment is the rule's regular expression (see rules/asterisk.ts).

const bytes = (text: string) => Buffer.from(text, "latin1");

const REGISTRATION_FROM = bytes("Registration from '");
const FAILED_FOR = bytes("' failed for '");
const DASH = bytes("' - ");
const SIP_REASONS = SIP_REGISTER_REASONS.map(bytes);

// ^Registration from '(.*)' failed for '([^'\s]+)' - (<reason>)$
function sipRegister(lane: FastLane, b: Uint8Array, m: number, stop: number): RuleHit | null {
  if (!startsWith(b, m, stop, REGISTRATION_FROM)) return null;
  const to = m + REGISTRATION_FROM.length;
  const reason = endingWith(b, to, stop, SIP_REASONS);
  if (reason === -1) return null;
  const addrEnd = stop - SIP_REASONS[reason]!.length - DASH.length;
  if (!startsWith(b, addrEnd, stop, DASH)) return null;
  const addrStart = addressStart(b, to, addrEnd);
  const toEnd = addrStart - FAILED_FOR.length;
  if (addrStart === addrEnd || toEnd < to || !startsWith(b, toEnd, addrStart, FAILED_FOR)) return null;
  const addr = lane.address(b, addrStart, addrEnd, false);
  return addr && hit(addr, SIP_REGISTER_REASONS[reason]!, sipUser(b, to, toEnd));
}

const REQUEST = bytes("Request ");
const FROM = bytes("from '");
const CALLID = bytes("' (callid: ");
const CLOSE_DASH = bytes(") - ");
const PJSIP_REASONS = PJSIP_REQUEST_REASONS.map(bytes);
const MS = bytes(" ms");

// ^Request (?:'([^'\s]*)' )?from '(.*)' failed for '([^'\s]+)' \(callid: (.*)\) - (<reason>)(?: after (\d+) tries in [\d.]+ ms)?$
// and ambiguous when "' failed for '" occurs twice.
function pjsipRequest(lane: FastLane, b: Uint8Array, m: number, stop: number): RuleHit | null {
  if (!startsWith(b, m, stop, REQUEST)) return null;
  let p = m + REQUEST.length;
  let method: string | undefined;
  if (b[p] === QUOTE) {
    const name = p + 1;
    p = name;
    while (p < stop && b[p] !== QUOTE && !isSpace(b[p]!)) p++;
    if (b[p] !== QUOTE || b[p + 1] !== SPACE) return null;
    method = latin1(b, name, p);
    p += 2;
  }
  if (!startsWith(b, p, stop, FROM)) return null;
  const from = p + FROM.length;
  // The "after N tries" variant carries a running count: the general reader handles it.
  if (endsWith(b, from, stop, MS)) return null;
  const reason = endingWith(b, from, stop, PJSIP_REASONS);
  if (reason === -1) return null;
  const callIdEnd = stop - PJSIP_REASONS[reason]!.length - CLOSE_DASH.length;
  if (!startsWith(b, callIdEnd, stop, CLOSE_DASH)) return null;
  const delimiter = indexOf(b, FAILED_FOR, m, stop);
  if (delimiter < from || indexOf(b, FAILED_FOR, delimiter + FAILED_FOR.length, stop) !== -1) return null;
  const addrStart = delimiter + FAILED_FOR.length;
  let addrEnd = addrStart;
  while (addrEnd < stop && isAddressByte(b[addrEnd]!)) addrEnd++;
  const callId = addrEnd + CALLID.length;
  if (addrEnd === addrStart || callId > callIdEnd || !startsWith(b, addrEnd, stop, CALLID)) return null;
  const addr = lane.address(b, addrStart, addrEnd, true);
  if (!addr) return null;
  return hit(
    addr,
    method ? lane.pjsipReason(reason, method) : PJSIP_REQUEST_REASONS[reason]!,
    sipUser(b, from, delimiter),
    { callId: cap(latin1(b, callId, callIdEnd), 128) },
  );
}

const CALL_FROM = bytes("Call from '");
const TO_EXTENSION = bytes(") to extension '");
const NOT_FOUND = bytes("' rejected because extension not found in context '");
const TRANSPORTS = ["UDP:", "TCP:", "TLS:", "WS:", "WSS:"].map(bytes);

/** Where `' rejected because extension not found in context '<context>'.` starts, or -1. */
function notFoundStart(b: Uint8Array, from: number, stop: number): number {
  if (stop - from < NOT_FOUND.length + 2 || b[stop - 1] !== 0x2e /* . */ || b[stop - 2] !== QUOTE) return -1;
  const quote = lastIndexOfByte(b, QUOTE, from, stop - 2);
  const start = quote + 1 - NOT_FOUND.length;
  return quote !== -1 && start >= from && startsWith(b, start, stop, NOT_FOUND) ? start : -1;
}

// ^Call from '(.*)' \((?:(UDP|TCP|TLS|WS|WSS):)?([^()\s]+)\) to extension '(.*)' rejected because extension not found in context '([^']*)'\.$
// and ambiguous when ") to extension '" occurs twice.
function callFrom(lane: FastLane, b: Uint8Array, m: number, stop: number): RuleHit | null {
  if (!startsWith(b, m, stop, CALL_FROM)) return null;
  const caller = m + CALL_FROM.length;
  const tail = notFoundStart(b, caller, stop);
  if (tail === -1) return null;
  const delimiter = indexOf(b, TO_EXTENSION, m, stop);
  const exten = delimiter + TO_EXTENSION.length;
  if (delimiter === -1 || exten > tail || indexOf(b, TO_EXTENSION, exten, stop) !== -1) return null;
  let open = delimiter;
  while (open > caller && isBracketedAddressByte(b[open - 1]!)) open--;
  // `' (` before the address, the caller's text before that.
  if (open === delimiter || b[open - 1] !== 0x28 /* ( */ || open - 3 < caller) return null;
  if (b[open - 2] !== SPACE || b[open - 3] !== QUOTE) return null;
  const transport = TRANSPORTS.find((t) => startsWith(b, open, delimiter, t) && open + t.length < delimiter);
  const addrStart = transport ? open + transport.length : open;
  const addr = lane.address(b, addrStart, delimiter, transport !== undefined);
  return addr && hit(addr, EXTENSION_NOT_FOUND, cap(latin1(b, exten, tail), 32));
}

const CALL_OPEN = bytes(": Call (");

// ^([^\s':]+): Call \((?:UDP|TCP|TLS|WS|WSS):([^()\s]+)\) to extension '(.*)' rejected because extension not found in context '([^']*)'\.$
function pjsipCall(lane: FastLane, b: Uint8Array, m: number, stop: number): RuleHit | null {
  let p = m;
  while (p < stop && b[p] !== QUOTE && b[p] !== COLON && !isSpace(b[p]!)) p++;
  if (p === m || !startsWith(b, p, stop, CALL_OPEN)) return null;
  p += CALL_OPEN.length;
  const transport = TRANSPORTS.find((t) => startsWith(b, p, stop, t));
  if (!transport) return null;
  const addrStart = p + transport.length;
  let addrEnd = addrStart;
  while (addrEnd < stop && isBracketedAddressByte(b[addrEnd]!)) addrEnd++;
  const exten = addrEnd + TO_EXTENSION.length;
  if (addrEnd === addrStart || !startsWith(b, addrEnd, stop, TO_EXTENSION)) return null;
  const tail = notFoundStart(b, exten, stop);
  if (tail === -1) return null;
  const addr = lane.address(b, addrStart, addrEnd, true);
  return addr && hit(addr, EXTENSION_NOT_FOUND, cap(latin1(b, exten, tail), 32));
}

const NO_REGISTRATION = bytes("No registration for peer '");
const PAREN_FROM = bytes("' (from ");

// ^No registration for peer '(?<user>.*)' \(from (?<addr>[^()\s]+)\)$
function iax2NoRegistration(lane: FastLane, b: Uint8Array, m: number, stop: number): RuleHit | null {
  if (!startsWith(b, m, stop, NO_REGISTRATION) || b[stop - 1] !== 0x29 /* ) */) return null;
  const peer = m + NO_REGISTRATION.length;
  let addrStart = stop - 1;
  while (addrStart > peer && isBracketedAddressByte(b[addrStart - 1]!)) addrStart--;
  const peerEnd = addrStart - PAREN_FROM.length;
  if (addrStart === stop - 1 || peerEnd < peer || !startsWith(b, peerEnd, stop, PAREN_FROM)) return null;
  const addr = lane.address(b, addrStart, stop - 1, false);
  return addr && hit(addr, "No registration for peer", cap(latin1(b, peer, peerEnd)));
}

const AMI_FAILED = bytes(" failed to authenticate as '");

// ^(\S+) failed to authenticate as '(.*)'$
function amiLogin(lane: FastLane, b: Uint8Array, m: number, stop: number): RuleHit | null {
  let p = m;
  while (p < stop && !isSpace(b[p]!)) p++;
  const user = p + AMI_FAILED.length;
  if (p === m || !startsWith(b, p, stop, AMI_FAILED) || user > stop - 1 || b[stop - 1] !== QUOTE) return null;
  const addr = lane.address(b, m, p, false);
  return addr && hit(addr, "AMI login failed", cap(latin1(b, user, stop - 1)));
}

const EXTENSION_NOT_FOUND = "Extension not found";

const FORMATS: readonly FormatSpec[] = [
  { ruleId: "sip-register", component: "chan_sip.c", after: [], read: sipRegister },
  // sip-register wants "Registration from '".
  { ruleId: "call-noext", component: "chan_sip.c", after: ["sip-register"], read: callFrom },
  { ruleId: "pjsip-request", component: "pjsip_distributor.c", after: [], read: pjsipRequest },
  { ruleId: "call-noext", component: "res_pjsip_session.c", after: [], read: callFrom },
  // call-noext wants (and its start test too) "Call from '"; the endpoint name holds no space.
  {
    ruleId: "pjsip-call-noext",
    component: "res_pjsip_session.c",
    after: ["call-noext"],
    read: pjsipCall,
  },
  { ruleId: "iax2-noreg", component: "chan_iax2.c", after: [], read: iax2NoRegistration },
  { ruleId: "ami-auth", component: "manager.c", after: [], read: amiLogin },
];

// ---------------------------------------------------------------------------------------------
// Bytes

const SPACE = 0x20;
const QUOTE = 0x27;
const COLON = 0x3a;
const SLASH = 0x2f;
const BRACKET_OPEN = 0x5b;
const BRACKET_CLOSE = 0x5d;

/** `\s` for ASCII: tab, line feed, vertical tab, form feed, carriage return, space. */
function isSpace(c: number): boolean {
  return c === SPACE || (c >= 0x09 && c <= 0x0d);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isLowerHex(c: number): boolean {
  return isDigit(c) || (c >= 0x61 && c <= 0x66);
}

/** `[^'\s]` */
function isAddressByte(c: number): boolean {
  return c !== QUOTE && !isSpace(c);
}

/** `[^()\s]` */
function isBracketedAddressByte(c: number): boolean {
  return c !== 0x28 && c !== 0x29 && !isSpace(c);
}

/** The start of the run of `[^'\s]` that ends at `end`, going no further back than `floor`. */
function addressStart(b: Uint8Array, floor: number, end: number): number {
  let p = end;
  while (p > floor && isAddressByte(b[p - 1]!)) p--;
  return p;
}

function latin1(b: Uint8Array, from: number, to: number): string {
  return (b as Buffer).toString("latin1", from, to);
}

function startsWith(b: Uint8Array, at: number, stop: number, text: Uint8Array): boolean {
  if (at < 0 || at + text.length > stop) return false;
  for (let i = 0; i < text.length; i++) if (b[at + i] !== text[i]) return false;
  return true;
}

function endsWith(b: Uint8Array, from: number, stop: number, text: Uint8Array): boolean {
  return stop - text.length >= from && startsWith(b, stop - text.length, stop, text);
}

/** The index of the first of `texts` that buf[from, stop) ends with, or -1. */
function endingWith(b: Uint8Array, from: number, stop: number, texts: readonly Uint8Array[]): number {
  const last = b[stop - 1];
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i]!;
    if (t[t.length - 1] === last && endsWith(b, from, stop, t)) return i;
  }
  return -1;
}

function indexOfByte(b: Uint8Array, c: number, from: number, to: number): number {
  for (let i = from; i < to; i++) if (b[i] === c) return i;
  return -1;
}

function lastIndexOfByte(b: Uint8Array, c: number, from: number, to: number): number {
  for (let i = to - 1; i >= from; i--) if (b[i] === c) return i;
  return -1;
}

/** The first occurrence of `text` that lies wholly within buf[from, stop), or -1. */
function indexOf(b: Uint8Array, text: Uint8Array, from: number, stop: number): number {
  const first = text[0];
  for (let i = from; i + text.length <= stop; i++) {
    if (b[i] === first && startsWith(b, i, stop, text)) return i;
  }
  return -1;
}

/** The name of the source file buf[from, to), when it is one a format is for. */
function componentName(b: Uint8Array, from: number, to: number): string {
  for (const name of COMPONENTS)
    if (to - from === name.length && startsWith(b, from, to, name)) return name.text;
  return "";
}

const COMPONENTS = [...new Set(FORMATS.map((f) => f.component))].map((text) =>
  Object.assign(bytes(text), { text }),
);

/**
 * rule.ts's `sipUser` (`/sips?:([^@;>\s]{1,64})@/`) on buf[from, to): the user part of the first
 * SIP URI in attacker-written header text.
 */
function sipUser(b: Uint8Array, from: number, to: number): string | undefined {
  for (let p = indexOf(b, SIP, from, to); p !== -1; p = indexOf(b, SIP, p + 1, to)) {
    let user = p + SIP.length;
    if (b[user] === 0x73 /* s */ && user < to) user++;
    if (user >= to || b[user] !== COLON) continue;
    user++;
    let end = user;
    while (end < to && end - user <= 64 && isUserByte(b[end]!)) end++;
    if (end > user && end - user <= 64 && end < to && b[end] === 0x40 /* @ */) return latin1(b, user, end);
  }
  return undefined;
}

const SIP = bytes("sip");

/** `[^@;>\s]` */
function isUserByte(c: number): boolean {
  return c !== 0x40 && c !== 0x3b && c !== 0x3e && !isSpace(c);
}
