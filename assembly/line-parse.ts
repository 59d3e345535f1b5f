// The parser under `sipban scan`, compiled with the search (assembly/line-search.ts) into one
// WebAssembly module: it reads the lines the search found while their bytes are still here, and
// takes apart the failure messages that fill attack logs, so that the host decodes almost no
// text for them (a changed date, PJSIP's Call-ID, each address and user once). It knows one
// layout, Asterisk's default file layout (`[date] LEVEL[lwp][C-id] file: msg`), and eight
// messages (chan_sip's registration, PJSIP's request, the three "to extension" calls, IAX2's
// unknown peer, AMI's three failed logins). Each is the grammar of its rule in
// src/detect/rules/asterisk.ts, anchored at both ends the same way. A line it is not sure of, in
// any detail, it leaves to the host's rules: leaving a line costs time, never an answer
// (test/line-parse.test.ts holds the two to the same results).
//
// A line of the layout that holds none of the rules' literals (the search found it by the literal
// that watches dialplan lines) is marked PLAIN: to the rules it is a dated line and nothing else.
//
// Memory, laid out by the host:
//   phrases: per phrase, 2 × u32 (where its bytes are, its length): chan_sip's registration
//            reasons, then PJSIP's request reasons (see setPhrases)
//   records: per line, RECORD_FIELDS × i32 (see R_* below); positions are offsets in the text
//   intern:  the table that numbers address and user texts (see internSetup)

import { findLines } from "./line-search";

const RECORD_FIELDS: usize = 20;

// Record fields. R_RULE is 0 for a line left to the host.
const R_RULE: i32 = 0;
const R_REASON: i32 = 1;
const R_STAMP_AT: i32 = 2;
const R_STAMP_LEN: i32 = 3;
/** 1 when the date text is the same as the previous parsed line's (in this chunk). */
const R_STAMP_SAME: i32 = 4;
const R_ADDR_AT: i32 = 5;
const R_ADDR_LEN: i32 = 6;
const R_ADDR_ID: i32 = 7;
/** R_USER_LEN is -1 when the line names no user. */
const R_USER_AT: i32 = 8;
const R_USER_LEN: i32 = 9;
const R_USER_ID: i32 = 10;
/** PJSIP's method (-1: none) and Call-ID. */
const R_METHOD_AT: i32 = 11;
const R_METHOD_LEN: i32 = 12;
const R_METHOD_ID: i32 = 13;
const R_CALLID_AT: i32 = 14;
const R_CALLID_LEN: i32 = 15;

// Rules (R_RULE), as the host numbers them.
const SIP_REGISTER = 1;
const PJSIP_REQUEST = 2;
const CALL_FROM = 3;
const CALL_FROM_TRANSPORT = 4;
const PJSIP_CALL = 5;
const IAX2_NOREG = 6;
const AMI_AUTH = 7;
const AMI_NOUSER = 8;
const AMI_ACL = 9;
/** A line of the layout that holds no literal but the one that finds dialplan lines: nothing to the rules. */
const PLAIN = 10;

// Kinds of interned text: the same bytes read under another rule are another key.
const KEY_ADDRESS: u8 = 1;
const KEY_ADDRESS_BARE_V6_PORT: u8 = 2;
const KEY_SIP_USER: u8 = 3;
const KEY_EXTENSION: u8 = 4;
const KEY_PEER: u8 = 5;
const KEY_METHOD: u8 = 6;
const KEY_AMI_USER: u8 = 7;

// Longer lines are rare and left to the host, which caps them itself.
const MAX_LINE: usize = 4096;

const SPACE: u8 = 0x20;
const QUOTE: u8 = 0x27;

let phrases: usize = 0;
let sipReasons: u32 = 0;
let pjsipReasons: u32 = 0;
let textAt: usize = 0;
let previousStampAt: usize = 0;
let previousStampLen: usize = 0;
// The search's tables for every literal that can make a line more than plain text (see setPlain).
let plainMasks: usize = 0;
let plainLiterals: usize = 0;
let plainLiteralCount: u32 = 0;
let plainScratch: usize = 0;
let plainOut: usize = 0;

/** Where the module's own data (its fixed texts) ends: the host lays out its memory after it. */
export function dataEnd(): usize {
  return __heap_base;
}

/** Where the reason phrases are: `sip` of chan_sip's, then `pjsip` of PJSIP's. */
export function setPhrases(table: usize, sip: u32, pjsip: u32): void {
  phrases = table;
  sipReasons = sip;
  pjsipReasons = pjsip;
}

/**
 * Where the search tables (see findLines) for the literals of the rules and of the dump headers
 * are, with 16 bytes of scratch and 8 bytes of output: a line of the layout that holds none of
 * them is marked PLAIN. Without this call no line is.
 */
export function setPlain(masks: usize, literals: usize, count: u32, scratch: usize, out: usize): void {
  plainMasks = masks;
  plainLiterals = literals;
  plainLiteralCount = count;
  plainScratch = scratch;
  plainOut = out;
}

/** Does the line [start, newline) hold none of the literals given to setPlain? */
function plainLine(start: usize, newline: usize): bool {
  if (plainLiteralCount == 0) return false;
  return findLines(start, newline + 1, plainOut, plainMasks, plainLiterals, plainLiteralCount, plainScratch) == 0;
}

/**
 * Parses `count` lines whose (start, newline) pairs are at `pairs`, writing one record each to
 * `records`. `newChunk`: the text is new (no previous date to compare with).
 */
export function parseLines(text: usize, pairs: usize, count: u32, records: usize, newChunk: bool): void {
  textAt = text;
  if (newChunk) previousStampLen = 0;
  for (let i: u32 = 0; i < count; i++) {
    const start = <usize>load<u32>(pairs + (<usize>i << 3));
    const stop = <usize>load<u32>(pairs + (<usize>i << 3), 4);
    const record = records + <usize>i * RECORD_FIELDS * 4;
    const rule = parseLine(start, stop, record);
    store<i32>(record + R_RULE * 4, rule);
  }
}

// @ts-ignore: decorator
@inline
function field(record: usize, index: i32, value: i32): void {
  store<i32>(record + (<usize>index << 2), value);
}

/** A position in memory, written as an offset in the text. */
// @ts-ignore: decorator
@inline
function position(record: usize, index: i32, at: usize): void {
  field(record, index, <i32>(at - textAt));
}

/** Do the bytes at p spell `s` (ASCII)? The caller keeps p + s.length within the line. */
function spells(p: usize, s: string): bool {
  const n = s.length;
  for (let i = 0; i < n; i++) if (load<u8>(p + <usize>i) != <u8>s.charCodeAt(i)) return false;
  return true;
}

/** Does [p, end) hold `s` at p? */
// @ts-ignore: decorator
@inline
function has(p: usize, end: usize, s: string): bool {
  return p + <usize>s.length <= end && spells(p, s);
}

/**
 * The first position in [from, end) where `s` (2 bytes or more) starts, or 0 (positions in the
 * text are never 0). 16 positions at a time, by its first two bytes; the loads may read past
 * `end` (memory is there: the next lines, or the text's padding), never a match.
 */
function find(from: usize, end: usize, s: string): usize {
  const n = <usize>s.length;
  if (from + n > end) return 0;
  const first = i8x16.splat(<i8>s.charCodeAt(0));
  const second = i8x16.splat(<i8>s.charCodeAt(1));
  const last = end - n;
  for (let p = from; p <= last; p += 16) {
    let m = i8x16.bitmask(v128.and(i8x16.eq(v128.load(p), first), i8x16.eq(v128.load(p + 1), second)));
    while (m != 0) {
      const at = p + <usize>ctz<u32>(m);
      if (at > last) return 0;
      if (spells(at, s)) return at;
      m &= m - 1;
    }
  }
  return 0;
}

/** Printable ASCII only, and no `=`: no control bytes, no UTF-8, no security-log text. */
function plain(start: usize, end: usize): bool {
  const low = i8x16.splat(0x20);
  const del = i8x16.splat(0x7f);
  const equals = i8x16.splat(0x3d);
  let p = start;
  for (; p + 16 <= end; p += 16) {
    const v = v128.load(p);
    // Signed: bytes of 0x80 and above are below 0x20 too.
    const bad = v128.or(i8x16.lt_s(v, low), v128.or(i8x16.eq(v, del), i8x16.eq(v, equals)));
    if (v128.any_true(bad)) return false;
  }
  for (; p < end; p++) {
    const c = load<u8>(p);
    if (c < 0x20 || c >= 0x7f || c == 0x3d) return false;
  }
  return true;
}

// @ts-ignore: decorator
@inline
function isUpper(c: u8): bool {
  return c >= 0x41 && c <= 0x5a;
}

// @ts-ignore: decorator
@inline
function isDigit(c: u8): bool {
  return c >= 0x30 && c <= 0x39;
}

/** `[^()\s]` on printable ASCII. */
// @ts-ignore: decorator
@inline
function isAddressByte(c: u8): bool {
  return c != SPACE && c != 0x28 && c != 0x29;
}

// Components, by the base name of the file the server printed.
const CHAN_SIP = 1;
const PJSIP_DISTRIBUTOR = 2;
const PJSIP_SESSION = 3;
const CHAN_IAX2 = 4;
const MANAGER = 5;

function componentOf(start: usize, end: usize): i32 {
  let base = start;
  for (let p = start; p < end; p++) if (load<u8>(p) == 0x2f /* / */) base = p + 1;
  const n = end - base;
  if (n == 10 && spells(base, "chan_sip.c")) return CHAN_SIP;
  if (n == 19 && spells(base, "pjsip_distributor.c")) return PJSIP_DISTRIBUTOR;
  if (n == 19 && spells(base, "res_pjsip_session.c")) return PJSIP_SESSION;
  if (n == 11 && spells(base, "chan_iax2.c")) return CHAN_IAX2;
  if (n == 9 && spells(base, "manager.c")) return MANAGER;
  return 0;
}

/**
 * `[date] LEVEL[lwp][C-xxxxxxxx] file: msg` (the layout's regex in src/detect/layout.ts, in its
 * default form only), then the message by its component. Returns the rule, or 0.
 */
function parseLine(start: usize, end: usize, record: usize): i32 {
  if (end - start > MAX_LINE || end - start < 24) return 0;
  if (load<u8>(start) != 0x5b /* [ */ || !plain(start, end)) return 0;
  // The date: 1 to 64 bytes up to the first `]`.
  let p = start + 1;
  while (p < end && p <= start + 65 && load<u8>(p) != 0x5d) p++;
  const stampLen = p - start - 1;
  if (p >= end || load<u8>(p) != 0x5d || stampLen < 1 || stampLen > 64) return 0;
  const stampAt = start + 1;
  p++;
  if (load<u8>(p++) != SPACE) return 0;
  const level = p;
  while (p < end && isUpper(load<u8>(p))) p++;
  if (p == level || p >= end || load<u8>(p++) != 0x5b) return 0;
  const lwp = p;
  while (p < end && isDigit(load<u8>(p))) p++;
  if (p == lwp || p >= end || load<u8>(p++) != 0x5d) return 0;
  if (has(p, end, "[C-")) {
    p += 3;
    const id = p;
    while (p < end && (isDigit(load<u8>(p)) || (load<u8>(p) >= 0x61 && load<u8>(p) <= 0x66))) p++;
    if (p == id || p >= end || load<u8>(p++) != 0x5d) return 0;
  }
  if (p >= end || load<u8>(p++) != SPACE) return 0;
  let component = 0;
  if (has(p, end, "Ext. ")) {
    // A dialplan line: the layout's `(Ext\. .*?)` origin ends at the first ": ", which must be there.
    p = find(p + 5, end, ": ");
    if (p == 0) return 0;
  } else {
    // `[^\s:]+: `, then the message without its leading blanks (ast_trace_log indents).
    const file = p;
    while (p < end && load<u8>(p) != SPACE && load<u8>(p) != 0x3a) p++;
    if (p == file || !has(p, end, ": ")) return 0;
    component = componentOf(file, p);
  }
  p += 2;
  while (p < end && load<u8>(p) == SPACE) p++;

  let rule = 0;
  if (component == CHAN_SIP && has(p, end, "Registration from '")) rule = sipRegister(p, end, record);
  else if (component == PJSIP_DISTRIBUTOR && has(p, end, "Request ")) rule = pjsipRequest(p, end, record);
  else if ((component == CHAN_SIP || component == PJSIP_SESSION) && has(p, end, "Call from '"))
    rule = callFrom(p, end, record);
  else if (component == PJSIP_SESSION) rule = pjsipCall(p, end, record);
  else if (component == CHAN_IAX2 && has(p, end, "No registration for peer '")) rule = iax2NoReg(p, end, record);
  else if (component == MANAGER) rule = ami(p, end, record);
  if (rule == 0) {
    if (!plainLine(start, end)) return 0;
    rule = PLAIN;
  }

  position(record, R_STAMP_AT, stampAt);
  field(record, R_STAMP_LEN, <i32>stampLen);
  const same =
    previousStampLen == stampLen && sameText(previousStampAt, stampAt, stampLen) ? 1 : 0;
  field(record, R_STAMP_SAME, same);
  previousStampAt = stampAt;
  previousStampLen = stampLen;
  return rule;
}

/** The reason phrase `[from, from + count)` that ends the message right after `before`: its index, or -1. */
function endingReason(message: usize, end: usize, from: u32, count: u32, before: string): i32 {
  for (let k: u32 = 0; k < count; k++) {
    const entry = phrases + (<usize>(from + k) << 3);
    const at = <usize>load<u32>(entry);
    const n = <usize>load<u32>(entry, 4);
    const tail = n + <usize>before.length;
    if (end - message < tail) continue;
    if (sameText(end - n, at, n) && spells(end - tail, before)) return <i32>k;
  }
  return -1;
}

/** Writes the address text [at, stop) (a field of the record) with its key. */
function address(record: usize, at: usize, stop: usize, bareV6Port: bool): void {
  position(record, R_ADDR_AT, at);
  field(record, R_ADDR_LEN, <i32>(stop - at));
  field(record, R_ADDR_ID, intern(bareV6Port ? KEY_ADDRESS_BARE_V6_PORT : KEY_ADDRESS, at, stop - at));
}

function user(record: usize, at: usize, stop: usize, kind: u8): void {
  position(record, R_USER_AT, at);
  field(record, R_USER_LEN, <i32>(stop - at));
  field(record, R_USER_ID, intern(kind, at, stop - at));
}

function noUser(record: usize): void {
  field(record, R_USER_AT, 0);
  field(record, R_USER_LEN, -1);
  field(record, R_USER_ID, -1);
}

/** The user part of a SIP URI in [from, end): /sips?:([^@;>\s]{1,64})@/, the first match. */
function sipUser(record: usize, from: usize, end: usize): void {
  for (let i = from; i + 5 <= end; i++) {
    if (load<u8>(i) != 0x73 /* s */) continue;
    let u: usize;
    if (has(i, end, "sips:")) u = i + 5;
    else if (spells(i, "sip:")) u = i + 4;
    else continue;
    let k = u;
    while (k < end && k - u <= 64) {
      const c = load<u8>(k);
      if (c == 0x40 /* @ */ || c == 0x3b /* ; */ || c == 0x3e /* > */ || c == SPACE) break;
      k++;
    }
    if (k < end && load<u8>(k) == 0x40 && k > u && k - u <= 64) {
      user(record, u, k, KEY_SIP_USER);
      return;
    }
  }
  noUser(record);
}

function noMethod(record: usize): void {
  field(record, R_METHOD_AT, 0);
  field(record, R_METHOD_LEN, -1);
  field(record, R_METHOD_ID, -1);
  field(record, R_CALLID_AT, 0);
  field(record, R_CALLID_LEN, 0);
}

// ^Registration from '(.*)' failed for '([^'\s]+)' - (reasons)$
// The reason is fixed and last, so the address is the run of address bytes before it.
function sipRegister(m: usize, end: usize, record: usize): i32 {
  const reason = endingReason(m, end, 0, sipReasons, "' - ");
  if (reason < 0) return 0;
  const entry = phrases + (<usize>reason << 3);
  const close = end - <usize>load<u32>(entry, 4) - 4;
  let a = close;
  while (a > m && load<u8>(a - 1) != QUOTE && load<u8>(a - 1) != SPACE) a--;
  const to = m + 19;
  if (a == close || a < to + 14 || !spells(a - 14, "' failed for '")) return 0;
  field(record, R_REASON, reason);
  address(record, a, close, false);
  sipUser(record, to, a - 14);
  noMethod(record);
  return SIP_REGISTER;
}

// ^Request (?:'([^'\s]*)' )?from '(.*)' failed for '([^'\s]+)' \(callid: (.*)\) - (reasons)$
// (without "after N tries": that running count is the host's). The From and the Call-ID are
// the caller's, on both sides of the address: "' failed for '" must occur once.
function pjsipRequest(m: usize, end: usize, record: usize): i32 {
  let p = m + 8;
  let methodAt: usize = 0;
  let methodLen: i32 = -1;
  if (p < end && load<u8>(p) == QUOTE) {
    let j = p + 1;
    while (j < end && load<u8>(j) != QUOTE && load<u8>(j) != SPACE) j++;
    if (!has(j, end, "' from '")) return 0;
    methodAt = p + 1;
    methodLen = <i32>(j - methodAt);
    p = j + 8;
  } else if (has(p, end, "from '")) p += 6;
  else return 0;
  const reason = endingReason(m, end, sipReasons, pjsipReasons, ") - ");
  if (reason < 0) return 0;
  const close = end - <usize>load<u32>(phrases + (<usize>(sipReasons + reason) << 3), 4) - 4;
  // From the quote that opens the From: the delimiter may start there, and then the rule sees it twice.
  const failed = find(p - 1, end, "' failed for '");
  if (failed < p || find(failed + 1, end, "' failed for '") != 0) return 0;
  const a = failed + 14;
  let j = a;
  while (j < end && load<u8>(j) != QUOTE && load<u8>(j) != SPACE) j++;
  if (j == a || !has(j, end, "' (callid: ") || j + 11 > close) return 0;
  field(record, R_REASON, reason);
  address(record, a, j, true);
  sipUser(record, p, failed);
  position(record, R_METHOD_AT, methodAt);
  field(record, R_METHOD_LEN, methodLen);
  field(record, R_METHOD_ID, methodLen > 0 ? intern(KEY_METHOD, methodAt, <usize>methodLen) : -1);
  position(record, R_CALLID_AT, j + 11);
  field(record, R_CALLID_LEN, <i32>(close - j - 11));
  return PJSIP_REQUEST;
}

const REJECTED = "' rejected because extension not found in context '";

/** The dialled extension: from `at` to the fixed end `... in context '<c>'.`; 0 when the end is not that. */
function extensionEnd(at: usize, end: usize): usize {
  if (end - at < 2 || load<u8>(end - 1) != 0x2e || load<u8>(end - 2) != QUOTE) return 0;
  let c = end - 2;
  while (c > at && load<u8>(c - 1) != QUOTE) c--;
  const n = <usize>REJECTED.length;
  if (c < at + n || !spells(c - n, REJECTED)) return 0;
  return c - n;
}

/** `(?:(UDP|TCP|TLS|WS|WSS):)?` at the start of [at, stop): the length taken, 0 if none. */
function transport(at: usize, stop: usize): usize {
  let n: usize = 0;
  if (has(at, stop, "UDP:") || has(at, stop, "TCP:") || has(at, stop, "TLS:") || has(at, stop, "WSS:")) n = 4;
  else if (has(at, stop, "WS:")) n = 3;
  // The address after it needs a byte: otherwise the regex takes the whole run as the address.
  return n > 0 && at + n < stop ? n : 0;
}

// ^Call from '(.*)' \((?:(UDP|TCP|TLS|WS|WSS):)?([^()\s]+)\) to extension '(.*)' rejected because
// extension not found in context '([^']*)'\.$  with ") to extension '" once.
function callFrom(m: usize, end: usize, record: usize): i32 {
  const to = find(m, end, ") to extension '");
  if (to == 0 || find(to + 1, end, ") to extension '") != 0) return 0;
  let b = to;
  while (b > m && isAddressByte(load<u8>(b - 1))) b--;
  if (b == to || b < m + 14 || !spells(b - 3, "' (")) return 0;
  const extension = to + 16;
  const extensionStop = extensionEnd(extension, end);
  if (extensionStop == 0) return 0;
  const t = transport(b, to);
  address(record, b + t, to, t > 0);
  user(record, extension, extensionStop, KEY_EXTENSION);
  field(record, R_REASON, 0);
  noMethod(record);
  return t > 0 ? CALL_FROM_TRANSPORT : CALL_FROM;
}

// ^([^\s':]+): Call \((?:UDP|TCP|TLS|WS|WSS):([^()\s]+)\) to extension '(.*)' rejected because
// extension not found in context '([^']*)'\.$
function pjsipCall(m: usize, end: usize, record: usize): i32 {
  let k = m;
  while (k < end && load<u8>(k) != SPACE && load<u8>(k) != QUOTE && load<u8>(k) != 0x3a) k++;
  if (k == m || !has(k, end, ": Call (")) return 0;
  const run = k + 8;
  let stop = run;
  while (stop < end && isAddressByte(load<u8>(stop))) stop++;
  const t = transport(run, stop);
  if (t == 0 || !has(stop, end, ") to extension '")) return 0;
  const extension = stop + 16;
  const extensionStop = extensionEnd(extension, end);
  if (extensionStop == 0) return 0;
  address(record, run + t, stop, true);
  user(record, extension, extensionStop, KEY_EXTENSION);
  field(record, R_REASON, 0);
  noMethod(record);
  return PJSIP_CALL;
}

// ^No registration for peer '(.*)' \(from ([^()\s]+)\)$
function iax2NoReg(m: usize, end: usize, record: usize): i32 {
  if (load<u8>(end - 1) != 0x29) return 0;
  let a = end - 1;
  while (a > m && isAddressByte(load<u8>(a - 1))) a--;
  const peer = m + 26;
  if (a == end - 1 || a < peer + 8 || !spells(a - 8, "' (from ")) return 0;
  address(record, a, end - 1, false);
  user(record, peer, a - 8, KEY_PEER);
  field(record, R_REASON, 0);
  noMethod(record);
  return IAX2_NOREG;
}

// ^(\S+) failed to authenticate as '(.*)'$, and the same with "tried to authenticate with
// nonexistent user" and "failed to pass IP ACL as": AMI's address, then the user the caller gave.
function ami(m: usize, end: usize, record: usize): i32 {
  let k = m;
  while (k < end && load<u8>(k) != SPACE) k++;
  if (k == m || load<u8>(end - 1) != QUOTE) return 0;
  let rule = 0;
  let u: usize = 0;
  if (has(k, end, " failed to authenticate as '")) {
    rule = AMI_AUTH;
    u = k + 28;
  } else if (has(k, end, " tried to authenticate with nonexistent user '")) {
    rule = AMI_NOUSER;
    u = k + 46;
  } else if (has(k, end, " failed to pass IP ACL as '")) {
    rule = AMI_ACL;
    u = k + 27;
  } else return 0;
  // The user's closing quote is the line's last byte, after the opening one.
  if (u > end - 1) return 0;
  address(record, m, k, false);
  user(record, u, end - 1, KEY_AMI_USER);
  field(record, R_REASON, 0);
  noMethod(record);
  return rule;
}

// ---------------------------------------------------------------------------------------------
// Interning: each distinct (kind, text) gets a number, so that the host parses an address or
// decodes a user once, not on every line. Open addressing; the keys are copied to an arena. When
// the table is full, new texts get -1 (the host reads them itself) for the rest of the input.

let slots: usize = 0;
let slotMask: u32 = 0;
let slotLimit: u32 = 0;
let entries: usize = 0;
let entryLimit: u32 = 0;
let entryCount: u32 = 0;
let arena: usize = 0;
let arenaSize: usize = 0;
let arenaUsed: usize = 0;

// The table starts small (a file with a few addresses touches little memory) and doubles when
// half full, up to the slots the host set aside.
const FIRST_SLOTS: u32 = 4096;

/** The table's memory: up to `slotCount` (a power of two) u32 slots, `limit` entries of 3 × u32, an arena. */
export function internSetup(
  slotAt: usize,
  slotCount: u32,
  entryAt: usize,
  limit: u32,
  arenaAt: usize,
  arenaBytes: usize,
): void {
  slots = slotAt;
  slotLimit = slotCount;
  entries = entryAt;
  entryLimit = limit;
  arena = arenaAt;
  arenaSize = arenaBytes;
  slotMask = (slotCount < FIRST_SLOTS ? slotCount : FIRST_SLOTS) - 1;
  memory.fill(slots, 0, (<usize>slotMask + 1) << 2);
  entryCount = 0;
  arenaUsed = 0;
}

/** Doubles the slots and puts every entry back. */
function grow(): void {
  slotMask = (slotMask << 1) | 1;
  memory.fill(slots, 0, (<usize>slotMask + 1) << 2);
  for (let e: u32 = 0; e < entryCount; e++) {
    let slot = load<u32>(entries + <usize>e * 12) & slotMask;
    while (load<u32>(slots + (<usize>slot << 2)) != 0) slot = (slot + 1) & slotMask;
    store<u32>(slots + (<usize>slot << 2), e + 1);
  }
}

// Texts are hashed and compared 8 bytes at a time: an address or user name is one to three
// words, where a byte at a time made the table cost as much as the parse. Loads may run up to 7
// bytes past a text (into its line, the chunk's padding, or the arena's next key): the bytes
// past it are masked off.
const MIX: u64 = 0x9e3779b97f4a7c15;

/** The bytes at [at, at + length) in 8-byte words, the last one masked to its bytes. */
@inline
function word(at: usize, k: usize, length: usize): u64 {
  const w = load<u64>(at + k);
  const left = length - k;
  return left >= 8 ? w : w & ((<u64>1 << (<u64>left << 3)) - 1);
}

function hashText(kind: u8, at: usize, length: usize): u32 {
  let h: u64 = (<u64>kind << 32) ^ <u64>length;
  for (let k: usize = 0; k < length; k += 8) {
    h = (h ^ word(at, k, length)) * MIX;
    h ^= h >> 29;
  }
  h *= MIX;
  return <u32>(h >> 32);
}

/** True when the `length` bytes at `a` and at `b` are the same. */
function sameText(a: usize, b: usize, length: usize): bool {
  for (let k: usize = 0; k < length; k += 8) if (word(a, k, length) != word(b, k, length)) return false;
  return true;
}

function intern(kind: u8, at: usize, length: usize): i32 {
  const h = hashText(kind, at, length);
  let slot = h & slotMask;
  while (true) {
    const taken = load<u32>(slots + (<usize>slot << 2));
    if (taken == 0) break;
    const entry = entries + <usize>(taken - 1) * 12;
    const keyAt = <usize>load<u32>(entry, 4);
    if (
      load<u32>(entry) == h &&
      <usize>load<u32>(entry, 8) == length + 1 &&
      load<u8>(keyAt) == kind &&
      sameText(keyAt + 1, at, length)
    )
      return <i32>(taken - 1);
    slot = (slot + 1) & slotMask;
  }
  if (entryCount >= entryLimit || arenaUsed + length + 1 > arenaSize) return -1;
  if (entryCount * 2 >= slotMask && slotMask + 1 < slotLimit) {
    grow();
    slot = h & slotMask;
    while (load<u32>(slots + (<usize>slot << 2)) != 0) slot = (slot + 1) & slotMask;
  }
  const keyAt = arena + arenaUsed;
  store<u8>(keyAt, kind);
  memory.copy(keyAt + 1, at, length);
  arenaUsed += length + 1;
  const entry = entries + <usize>entryCount * 12;
  store<u32>(entry, h);
  store<u32>(entry, <u32>keyAt, 4);
  store<u32>(entry, <u32>(length + 1), 8);
  entryCount++;
  store<u32>(slots + (<usize>slot << 2), entryCount);
  return <i32>(entryCount - 1);
}
