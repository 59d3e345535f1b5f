// The offender list of `sipban scan --json`, written from the report's columns (see
// src/report/offenders-json.ts, the host): a flood has thousands of offenders with a dozen fields
// each, and writing them in JavaScript cost more than reading the log's failures. The text is
// byte for byte what src/cli/scan-json.ts writes (test/offenders-json.test.ts holds the two
// together); what this cannot write the same way (a number that is not a whole one, a date
// outside years 0 to 9999) it says so before anything is written, and the host writes it all.
//
// Memory, laid out by the host (see `setup`); per offender i:
//   failures, firstSeen, lastSeen, banAt:  f64 (banAt NaN: no ban)
//   seen:          u8, 1 for an offender with a failure counted
//   reasonIds:     REASON_SLOTS × i32, reason number + 1 (0: free); reasonCounts: REASON_SLOTS × f64
//   serviceIds:    SERVICE_SLOTS × u8, service number + 1 (0: free)
//   userCounts:    u8; userSlots: MAX_USERS × i32, user numbers
//   ipTexts:       2 × u32: where the address is, as a JSON string (quoted), and its length
//   moreReasons:   2 × u32: where the reasons past its slots are, and how many (0: none); each
//                  is 16 bytes: its reason number (i32), then (8 bytes on) its count (f64)
// and per reason, service and user number, 2 × u32: where its JSON string is, and its length.

const REASON_SLOTS: usize = 4;
const SERVICE_SLOTS: usize = 16;
const MAX_USERS: usize = 10;
const DAY_MS: i64 = 86_400_000;

let count: i32 = 0;
let failures: usize = 0;
let firstSeen: usize = 0;
let lastSeen: usize = 0;
let banAt: usize = 0;
let seen: usize = 0;
let reasonIds: usize = 0;
let reasonCounts: usize = 0;
let serviceIds: usize = 0;
let userCounts: usize = 0;
let userSlots: usize = 0;
let ipTexts: usize = 0;
let reasonTexts: usize = 0;
let serviceTexts: usize = 0;
let userTexts: usize = 0;
let moreReasons: usize = 0;

/** Where the columns and texts are (see above): `n` offenders. */
export function setup(
  n: i32,
  failuresAt: usize,
  firstSeenAt: usize,
  lastSeenAt: usize,
  banAtAt: usize,
  seenAt: usize,
  reasonIdsAt: usize,
  reasonCountsAt: usize,
  serviceIdsAt: usize,
  userCountsAt: usize,
  userSlotsAt: usize,
  ipTextsAt: usize,
  reasonTextsAt: usize,
  serviceTextsAt: usize,
  userTextsAt: usize,
  moreReasonsAt: usize,
): void {
  count = n;
  failures = failuresAt;
  firstSeen = firstSeenAt;
  lastSeen = lastSeenAt;
  banAt = banAtAt;
  seen = seenAt;
  reasonIds = reasonIdsAt;
  reasonCounts = reasonCountsAt;
  serviceIds = serviceIdsAt;
  userCounts = userCountsAt;
  userSlots = userSlotsAt;
  ipTexts = ipTextsAt;
  reasonTexts = reasonTextsAt;
  serviceTexts = serviceTextsAt;
  userTexts = userTextsAt;
  moreReasons = moreReasonsAt;
}

// ---- the order: most failures first, ties by address (as texts, compared byte by byte) ----

/**
 * Writes to `order` (i32 each) the offenders with a failure counted, in the report's order, and
 * returns how many there are. `scratch`: room for as many i32.
 */
export function rank(order: usize, scratch: usize): i32 {
  let n: i32 = 0;
  for (let i: i32 = 0; i < count; i++) {
    if (load<u8>(seen + <usize>i) != 0) {
      store<i32>(order + ((<usize>n) << 2), i);
      n++;
    }
  }
  // Bottom-up merge sort: runs of `width` merged in pairs, back and forth between the two arrays.
  let from = order;
  let to = scratch;
  for (let width: i32 = 1; width < n; width <<= 1) {
    for (let start: i32 = 0; start < n; start += width << 1) {
      const middle = min(start + width, n);
      const end = min(start + (width << 1), n);
      merge(from, to, start, middle, end);
    }
    const t = from;
    from = to;
    to = t;
  }
  if (from != order) memory.copy(order, from, (<usize>n) << 2);
  return n;
}

function merge(from: usize, to: usize, start: i32, middle: i32, end: i32): void {
  let a = start;
  let b = middle;
  for (let k = start; k < end; k++) {
    let takeA: bool;
    if (a >= middle) takeA = false;
    else if (b >= end) takeA = true;
    else takeA = !before(load<i32>(from + ((<usize>b) << 2)), load<i32>(from + ((<usize>a) << 2)));
    if (takeA) {
      store<i32>(to + ((<usize>k) << 2), load<i32>(from + ((<usize>a) << 2)));
      a++;
    } else {
      store<i32>(to + ((<usize>k) << 2), load<i32>(from + ((<usize>b) << 2)));
      b++;
    }
  }
}

/** True when offender x comes before offender y. */
function before(x: i32, y: i32): bool {
  const fx = load<f64>(failures + ((<usize>x) << 3));
  const fy = load<f64>(failures + ((<usize>y) << 3));
  if (fx != fy) return fx > fy;
  // The quoted texts: the closing quote sorts below every character of an address, so that a
  // shorter address that begins another sorts first, as the texts themselves would.
  const xAt = load<u32>(ipTexts + ((<usize>x) << 3));
  const xLen = load<u32>(ipTexts + ((<usize>x) << 3) + 4);
  const yAt = load<u32>(ipTexts + ((<usize>y) << 3));
  const yLen = load<u32>(ipTexts + ((<usize>y) << 3) + 4);
  const n = min(xLen, yLen);
  for (let k: u32 = 0; k < n; k++) {
    const cx = load<u8>(<usize>(xAt + k));
    const cy = load<u8>(<usize>(yAt + k));
    if (cx != cy) return cx < cy;
  }
  return xLen < yLen;
}

// ---- what can be written here ----

/** The largest whole number written here: JavaScript writes every whole number up to it alike. */
const WHOLE_LIMIT: f64 = 9007199254740992;

function whole(x: f64): bool {
  return x == Math.trunc(x) && Math.abs(x) <= WHOLE_LIMIT;
}

/** A time (ms) this writes as JavaScript's toISOString does: whole, in years 0 to 9999. */
function writableTime(ms: f64): bool {
  // -62167219200000: 0000-01-01T00:00:00.000Z; 253402300799999: 9999-12-31T23:59:59.999Z.
  return whole(ms) && ms >= -62167219200000 && ms <= 253402300799999;
}

/** True when every number of the `n` offenders in `order` can be written here. */
export function writable(order: usize, n: i32): bool {
  for (let k: i32 = 0; k < n; k++) {
    const i = <usize>load<i32>(order + ((<usize>k) << 2));
    if (!whole(load<f64>(failures + (i << 3)))) return false;
    if (!writableTime(load<f64>(firstSeen + (i << 3)))) return false;
    if (!writableTime(load<f64>(lastSeen + (i << 3)))) return false;
    const ban = load<f64>(banAt + (i << 3));
    if (!isNaN(ban) && !writableTime(ban)) return false;
    for (let s: usize = i * REASON_SLOTS; s < (i + 1) * REASON_SLOTS; s++) {
      if (load<i32>(reasonIds + (s << 2)) == 0) break;
      if (!whole(load<f64>(reasonCounts + (s << 3)))) return false;
    }
    const more = <usize>load<u32>(moreReasons + (i << 3));
    for (let e: u32 = 0; e < load<u32>(moreReasons + (i << 3) + 4); e++)
      if (!whole(load<f64>(more + 16 * <usize>e + 8))) return false;
  }
  return true;
}

// ---- the text ----

let out: usize = 0;

function byte(c: i32): void {
  store<u8>(out, <u8>c);
  out++;
}

// The fixed texts (field names, indents), each made bytes once and then copied whole: the writer
// runs once per scan, much of it before it is compiled well, where a loop per character costs.
// By the text's address (static texts lie 16 bytes apart at least): (address, where its bytes
// are, length). Only literals may be given: the address names the text.
const LITERAL_SLOTS: usize = 256;
const LITERAL_BYTES: usize = 4096;
const literalSlots = memory.data(<i32>(LITERAL_SLOTS * 12), 4);
const literalBytes = memory.data(<i32>LITERAL_BYTES);
let literalsUsed: usize = 0;

/** ASCII text, as a JavaScript string literal would give it (for the field names). */
function ascii(text: string): void {
  const key = changetype<usize>(text);
  const slot = literalSlots + ((key >> 4) & (LITERAL_SLOTS - 1)) * 12;
  if (load<u32>(slot) != <u32>key) {
    const n = <usize>text.length;
    if (literalsUsed + n > LITERAL_BYTES) {
      for (let k = 0; k < text.length; k++) byte(text.charCodeAt(k));
      return;
    }
    const at = literalBytes + literalsUsed;
    for (let k: usize = 0; k < n; k++) store<u8>(at + k, <u8>text.charCodeAt(<i32>k));
    store<u32>(slot, <u32>key);
    store<u32>(slot, <u32>at, 4);
    store<u32>(slot, <u32>n, 8);
    literalsUsed += n;
  }
  copy(load<u32>(slot, 4), load<u32>(slot, 8));
}

function copy(at: u32, length: u32): void {
  memory.copy(out, <usize>at, <usize>length);
  out += <usize>length;
}

function text(table: usize, id: i32): void {
  copy(load<u32>(table + ((<usize>id) << 3)), load<u32>(table + ((<usize>id) << 3) + 4));
}

function wholeNumber(x: f64): void {
  let v = <i64>x;
  if (v < 0) {
    byte(0x2d);
    v = -v;
  }
  digits(<u64>v, 1);
}

/** `v` in decimal, at least `width` digits (zeros in front). */
function digits(v: u64, width: i32): void {
  let n: i32 = 1;
  for (let p: u64 = 10; p <= v && n < 20; p *= 10) n++;
  if (n < width) n = width;
  for (let k = n - 1; k >= 0; k--) {
    store<u8>(out + <usize>k, <u8>(0x30 + <i32>(v % 10)));
    v /= 10;
  }
  out += <usize>n;
}

/** `"2024-03-05T10:00:01.000Z"`, as toISOString writes it (see writableTime). */
function isoTime(ms: f64): void {
  const t = <i64>ms;
  let days = t / DAY_MS;
  let ofDay = t % DAY_MS;
  if (ofDay < 0) {
    ofDay += DAY_MS;
    days--;
  }
  // Days to a civil date (the proleptic Gregorian calendar), after Howard Hinnant's days_from_civil.
  const z = days + 719468;
  const era = (z >= 0 ? z : z - 146096) / 146097;
  const dayOfEra = z - era * 146097;
  const yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365;
  const dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
  const mp = (5 * dayOfYear + 2) / 153;
  const day = dayOfYear - (153 * mp + 2) / 5 + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  byte(0x22);
  digits(<u64>year, 4);
  byte(0x2d);
  digits(<u64>month, 2);
  byte(0x2d);
  digits(<u64>day, 2);
  byte(0x54);
  digits(<u64>(ofDay / 3_600_000), 2);
  byte(0x3a);
  digits(<u64>((ofDay / 60_000) % 60), 2);
  byte(0x3a);
  digits(<u64>((ofDay / 1000) % 60), 2);
  byte(0x2e);
  digits(<u64>(ofDay % 1000), 3);
  byte(0x5a);
  byte(0x22);
}

const FIELD = "\n      ";
const ITEM = "\n        ";

/**
 * Writes the offenders order[from], order[from + 1], ... (`n` in all) at `into`, each after
 * ",\n" (the first of all after "\n"), until `limit` bytes are passed: returns where it stopped
 * in `order`. `written` (u32) gets the bytes written.
 */
export function write(order: usize, from: i32, n: i32, into: usize, limit: usize, written: usize): i32 {
  out = into;
  let k = from;
  for (; k < n && out - into < limit; k++) {
    if (k == 0) byte(0x0a);
    else ascii(",\n");
    offender(<usize>load<i32>(order + ((<usize>k) << 2)));
  }
  store<u32>(written, <u32>(out - into));
  return k;
}

function offender(i: usize): void {
  ascii("    {");
  ascii(FIELD);
  ascii('"ip": ');
  text(ipTexts, <i32>i);
  ascii(",");
  ascii(FIELD);
  ascii('"failures": ');
  wholeNumber(load<f64>(failures + (i << 3)));
  ascii(",");
  const ban = load<f64>(banAt + (i << 3));
  ascii(FIELD);
  if (isNaN(ban)) {
    ascii('"wouldBan": false,');
  } else {
    ascii('"wouldBan": true,');
    ascii(FIELD);
    ascii('"banAt": ');
    isoTime(ban);
    ascii(",");
  }
  ascii(FIELD);
  ascii('"reasons": {');
  let reasons = 0;
  for (let s: usize = i * REASON_SLOTS; s < (i + 1) * REASON_SLOTS; s++) {
    const id = load<i32>(reasonIds + (s << 2));
    if (id == 0) break;
    if (reasons > 0) byte(0x2c);
    ascii(ITEM);
    text(reasonTexts, id - 1);
    ascii(": ");
    wholeNumber(load<f64>(reasonCounts + (s << 3)));
    reasons++;
  }
  const more = <usize>load<u32>(moreReasons + (i << 3));
  for (let e: u32 = 0; e < load<u32>(moreReasons + (i << 3) + 4); e++) {
    const entry = more + 16 * <usize>e;
    if (reasons > 0) byte(0x2c);
    ascii(ITEM);
    text(reasonTexts, load<i32>(entry));
    ascii(": ");
    wholeNumber(load<f64>(entry + 8));
    reasons++;
  }
  if (reasons == 0) ascii("},");
  else {
    ascii(FIELD);
    ascii("},");
  }
  ascii(FIELD);
  ascii('"users": ');
  const users = <usize>load<u8>(userCounts + i);
  if (users == 0) ascii("[]");
  else {
    byte(0x5b);
    for (let s: usize = i * MAX_USERS; s < i * MAX_USERS + users; s++) {
      if (s > i * MAX_USERS) byte(0x2c);
      ascii(ITEM);
      text(userTexts, load<i32>(userSlots + (s << 2)));
    }
    ascii(FIELD);
    byte(0x5d);
  }
  ascii(",");
  ascii(FIELD);
  ascii('"services": ');
  if (load<u8>(serviceIds + i * SERVICE_SLOTS) == 0) ascii("[]");
  else {
    byte(0x5b);
    for (let s: usize = i * SERVICE_SLOTS; s < (i + 1) * SERVICE_SLOTS; s++) {
      const id = <i32>load<u8>(serviceIds + s);
      if (id == 0) break;
      if (s > i * SERVICE_SLOTS) byte(0x2c);
      ascii(ITEM);
      text(serviceTexts, id - 1);
    }
    ascii(FIELD);
    byte(0x5d);
  }
  ascii(",");
  ascii(FIELD);
  ascii('"firstSeen": ');
  isoTime(load<f64>(firstSeen + (i << 3)));
  ascii(",");
  ascii(FIELD);
  ascii('"lastSeen": ');
  isoTime(load<f64>(lastSeen + (i << 3)));
  ascii("\n    }");
}

/** Where the module's own data ends: the host's layout starts after it. */
export function dataEnd(): usize {
  return __heap_base;
}
