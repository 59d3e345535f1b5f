// The byte search under `sipban scan`, compiled to WebAssembly (AssemblyScript, SIMD): counts the
// lines of a chunk and finds the lines that hold one of the rules' literals, 16 bytes at a time.
// Everything else in a log is ordinary traffic, and this is the only code that touches its bytes.
//
// The literal search is Teddy (from Hyperscan): each literal has a 4-byte fingerprint, and the
// literals are put in 8 buckets. For fingerprint byte j, two 16-byte tables give, for a byte's
// low and high nibble, the buckets whose literals could have that byte there; `swizzle` looks up
// 16 bytes at once. A lane where all four bytes agree on a bucket is a candidate, checked against
// that bucket's literals in full. The host (src/sources/line-search.ts) builds the tables.
//
// Memory, laid out by the host and passed in as pointers:
//   masks:    4 × 32 bytes: for fingerprint byte j, the low-nibble table then the high-nibble table
//   literals: per literal, 4 × u32: where its bytes are, its length, where its fingerprint starts
//             in it, its bucket bit
//   scratch:  16 bytes
//   text:     the chunk, followed by at least 16 zero bytes (the loads read past its end)
//   out:      per line found, 2 × u32: where it starts and where its newline is

const NEWLINE: u8 = 10;

/**
 * The newlines in the text of the last findLines, counted as it searched: the chunk's line count
 * until something else searches (the parser's test for plain lines does).
 */
let newlines: u32 = 0;

export function newlinesFound(): u32 {
  return newlines;
}

/** Which of the 16 bytes of `c` are newlines, as bits. */
// @ts-ignore: decorator
@inline
function newlineBits(c: v128): u32 {
  return i8x16.bitmask(i8x16.eq(c, i8x16.splat(NEWLINE)));
}

/**
 * How often each 4-byte window of [start, end) occurs, counted by bucket (the top 16 bits of the
 * window, as a little-endian u32, times 0x9e3779b1) into 65,536 u32 at `counts`. The host picks
 * each literal's rarest window from them.
 */
export function countWindows(start: usize, end: usize, counts: usize): void {
  memory.fill(counts, 0, 65_536 << 2);
  for (let p = start; p + 4 <= end; p++) {
    const slot = counts + (<usize>((load<u32>(p) * 0x9e3779b1) >>> 16) << 2);
    store<u32>(slot, load<u32>(slot) + 1);
  }
}

// The buckets whose fingerprint byte could be each of the 16 bytes in `c`.
// @ts-ignore: decorator
@inline
function buckets(table: usize, c: v128): v128 {
  const low = i8x16.swizzle(v128.load(table), v128.and(c, i8x16.splat(0x0f)));
  const high = i8x16.swizzle(v128.load(table + 16), i8x16.shr_u(c, 4));
  return v128.and(low, high);
}

/** The start of the line that holds position p (lines end with a newline; `start` starts one). */
function lineStart(start: usize, p: usize): usize {
  const newline = i8x16.splat(NEWLINE);
  for (; p >= start + 16; p -= 16) {
    const m = i8x16.bitmask(i8x16.eq(v128.load(p - 16), newline));
    if (m != 0) return p - 16 + 32 - <usize>clz<u32>(m);
  }
  while (p > start && load<u8>(p - 1) != NEWLINE) p--;
  return p;
}

/** The position of the newline that ends the line holding p, or `end`. */
function lineEnd(p: usize, end: usize): usize {
  const newline = i8x16.splat(NEWLINE);
  for (; p + 16 <= end; p += 16) {
    const m = i8x16.bitmask(i8x16.eq(v128.load(p), newline));
    if (m != 0) return p + <usize>ctz<u32>(m);
  }
  while (p < end && load<u8>(p) != NEWLINE) p++;
  return p;
}

/** Does a literal of one of `bucketBits` have its fingerprint at `at`? */
function confirm(
  start: usize,
  end: usize,
  at: usize,
  bucketBits: u32,
  literals: usize,
  literalCount: u32,
): bool {
  for (let k: u32 = 0; k < literalCount; k++) {
    const record = literals + (<usize>k << 4);
    if ((load<u32>(record, 12) & bucketBits) == 0) continue;
    const fingerprintAt = <usize>load<u32>(record, 8);
    if (at < start + fingerprintAt) continue;
    const from = at - fingerprintAt;
    const length = <usize>load<u32>(record, 4);
    if (from + length > end) continue;
    const bytes = <usize>load<u32>(record);
    let i: usize = 0;
    while (i < length && load<u8>(from + i) == load<u8>(bytes + i)) i++;
    if (i == length) return true;
  }
  return false;
}

/**
 * Finds the lines in [start, end) that hold a literal; writes each one's start and end to `out`
 * (in order, each line once) and returns how many there are. `end` must follow a newline. Counts
 * the newlines on the way (see newlinesFound): each block of 16 bytes it reads whole, and up to
 * the newline of each line it finds (the rest of that line holds none). The count is right when
 * the bytes past `end` hold no newline: the host's padding is zeros. (The parser's test for
 * plain lines searches one line of a chunk, followed by the next: it does not use the count.)
 */
export function findLines(
  start: usize,
  end: usize,
  out: usize,
  masks: usize,
  literals: usize,
  literalCount: u32,
  scratch: usize,
): u32 {
  let found: u32 = 0;
  let lines: u32 = 0;
  let p = start;
  const none = i8x16.splat(0);
  while (p < end) {
    const block = v128.load(p);
    const hits = v128.and(
      v128.and(buckets(masks, block), buckets(masks + 32, v128.load(p + 1))),
      v128.and(buckets(masks + 64, v128.load(p + 2)), buckets(masks + 96, v128.load(p + 3))),
    );
    let next = p + 16;
    let newlineMask = newlineBits(block);
    if (v128.any_true(hits)) {
      v128.store(scratch, hits);
      let lanes = i8x16.bitmask(i8x16.ne(hits, none));
      while (lanes != 0) {
        const at = p + <usize>ctz<u32>(lanes);
        if (at >= end) break;
        if (confirm(start, end, at, <u32>load<u8>(scratch + (at - p)), literals, literalCount)) {
          const stop = lineEnd(at, end);
          store<u32>(out + (<usize>found << 3), <u32>lineStart(start, at));
          store<u32>(out + (<usize>found << 3), <u32>stop, 4);
          found++;
          // The rest of the line needs no search, and holds no newline but its own.
          next = stop + 1;
          newlineMask &= (1 << <u32>(at - p)) - 1;
          lines++;
          break;
        }
        lanes &= lanes - 1;
      }
    }
    lines += popcnt<u32>(newlineMask);
    p = next;
  }
  newlines = lines;
  return found;
}
