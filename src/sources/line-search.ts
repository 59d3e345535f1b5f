import { escapeRegExp } from "../util/escape-regexp.js";
import { align8, WASM_PAGE, wasmModule } from "../util/wasm-module.js";

/**
 * Finds, in a chunk of raw log bytes, the lines that hold at least one literal, and counts all
 * lines. Two implementations give the same answers: a WebAssembly SIMD search (assembly/
 * line-search.ts, several times faster) and a one-pass regular expression over a latin1 view of
 * the chunk, used where WebAssembly is unavailable (and, in the tests, as the reference). The
 * WebAssembly search can also parse the lines it finds (assembly/line-parse.ts).
 */
export interface LineSearch {
  /**
   * Calls `visit(start, stop, parsed)` for every line of buf[0, end) that holds a literal (`stop`
   * is the position of its newline), in order; returns the number of lines. `end` follows a
   * newline. `parsed`: where the line's record starts in `fields`, or -1 when it was not parsed.
   */
  scan(buf: Buffer, end: number, visit: (start: number, stop: number, parsed: number) => void): number;
  /** The parser's records (see assembly/line-parse.ts), valid during `visit`. */
  readonly fields: Int32Array;
}

/** What the parser needs from the rules: the reason phrases it tells apart (see setPhrases). */
export interface ParserPhrases {
  sipReasons: readonly string[];
  pjsipReasons: readonly string[];
  /**
   * Every literal that can make a line more than a dated line to the rules: a line of Asterisk's
   * layout that holds none of them (the search found it by the literal that watches dialplan
   * lines) is marked plain. Without it, no line is.
   */
  eventLiterals?: readonly string[];
}

/**
 * The search for `literals` (at least one), in WebAssembly when it can run here; with `parser`,
 * it parses the lines it finds too.
 */
export function createLineSearch(
  literals: readonly string[],
  sample: Buffer,
  parser?: ParserPhrases,
): LineSearch {
  const bytes = literals.map((l) => Buffer.from(l, "utf8"));
  return WasmLineSearch.create(bytes, sample, parser) ?? new RegExpLineSearch(bytes);
}

export class RegExpLineSearch implements LineSearch {
  private readonly pattern: RegExp;
  readonly fields = new Int32Array(0);

  constructor(literals: readonly Buffer[]) {
    this.pattern = new RegExp(literals.map((l) => escapeRegExp(l.toString("latin1"))).join("|"), "g");
  }

  scan(buf: Buffer, end: number, visit: (start: number, stop: number, parsed: number) => void): number {
    const text = buf.toString("latin1", 0, end);
    const pattern = this.pattern;
    pattern.lastIndex = 0;
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
      const start = text.lastIndexOf("\n", m.index) + 1;
      let stop = text.indexOf("\n", m.index);
      if (stop === -1) stop = end;
      visit(start, stop, -1);
      if (stop + 1 >= end) break;
      pattern.lastIndex = stop + 1;
    }
    return countNewlines(buf, end);
  }
}

function countNewlines(buf: Buffer, end: number): number {
  let n = 0;
  for (let p = buf.indexOf(NEWLINE, 0); p !== -1 && p < end; p = buf.indexOf(NEWLINE, p + 1)) n++;
  return n;
}

const NEWLINE = 0x0a;
const FINGERPRINT = 4;
const BUCKETS = 8;
// Loads read up to 19 bytes past the text; they must read zeros, not the output area.
const PADDING = 64;

interface Exports {
  memory: WebAssembly.Memory;
  dataEnd(): number;
  setPhrases(table: number, sip: number, pjsip: number): void;
  setPlain(masks: number, literals: number, count: number, scratch: number, out: number): void;
  parseLines(text: number, pairs: number, count: number, records: number, newChunk: boolean): void;
  internSetup(
    slots: number,
    slotCount: number,
    entries: number,
    limit: number,
    arena: number,
    arenaBytes: number,
  ): void;
  newlinesFound(): number;
  countWindows(start: number, end: number, counts: number): void;
  findLines(
    start: number,
    end: number,
    out: number,
    masks: number,
    literals: number,
    literalCount: number,
    scratch: number,
  ): number;
}

export class WasmLineSearch implements LineSearch {
  private memory: Uint8Array;
  private words: Uint32Array;
  fields: Int32Array;
  private capacity = 0;
  private readonly textAt: number;
  /** Where the host's tables start: after the module's own data. */
  private readonly base: number;
  /** Where the parser's records go; 0: the lines are not parsed. */
  private readonly recordsAt: number;

  /** null when WebAssembly (with SIMD) cannot run here. */
  static create(literals: readonly Buffer[], sample: Buffer, parser?: ParserPhrases): WasmLineSearch | null {
    const module = wasmModule("scan.wasm");
    if (module === null) return null;
    try {
      return new WasmLineSearch(
        new WebAssembly.Instance(module, {}).exports as unknown as Exports,
        literals,
        sample,
        parser,
      );
    } catch {
      return null;
    }
  }

  private constructor(
    private readonly wasm: Exports,
    private readonly literals: readonly Buffer[],
    sample: Buffer,
    parser: ParserPhrases | undefined,
  ) {
    // Header: the search's tables (see writeTables); then the parser's: the tables of the
    // literals that tell a plain line, the phrases, the records and the intern table.
    this.base = align8(wasm.dataEnd());
    const plainLiterals = (parser?.eventLiterals ?? []).map((l) => Buffer.from(l, "utf8"));
    const plainAt = align8(this.base + tablesSize(literals));
    const tables = plainAt + (plainLiterals.length > 0 ? tablesSize(plainLiterals) : 0);
    const phrases =
      parser && [...parser.sipReasons, ...parser.pjsipReasons].map((p) => Buffer.from(p, "latin1"));
    const phrasesAt = align8(tables);
    this.recordsAt = phrases
      ? align8(phrasesAt + phrases.length * 8 + phrases.reduce((n, p) => n + p.length, 0))
      : 0;
    const slotsAt = this.recordsAt + BATCH * RECORD_BYTES;
    const entriesAt = slotsAt + INTERN_SLOTS * 4;
    const arenaAt = entriesAt + INTERN_ENTRIES * 12;
    this.textAt = Math.ceil((phrases ? arenaAt + INTERN_ARENA : tables) / WASM_PAGE) * WASM_PAGE;
    this.memory = new Uint8Array(wasm.memory.buffer);
    this.words = new Uint32Array(wasm.memory.buffer);
    this.fields = new Int32Array(wasm.memory.buffer);
    this.reserve(SAMPLE_BYTES);
    // Each literal's fingerprint is chosen once, for both tables.
    const counts = this.windowCounts(sample.subarray(0, Math.min(sample.length, SAMPLE_BYTES)));
    const chosen = new Map<string, { offset: number; key: string }>();
    const fingerprint = (literal: Buffer) => {
      const key = literal.toString("latin1");
      let known = chosen.get(key);
      if (known === undefined) {
        known = rarestWindow(literal, counts);
        chosen.set(key, known);
      }
      return known;
    };
    writeTables(this.memory, this.base, literals, fingerprint);
    if (phrases && parser) {
      if (plainLiterals.length > 0) {
        writeTables(this.memory, plainAt, plainLiterals, fingerprint);
        wasm.setPlain(
          plainAt + MASKS,
          plainAt + LITERALS,
          plainLiterals.length,
          plainAt + SCRATCH,
          plainAt + OUT,
        );
      }
      let bytesAt = phrasesAt + phrases.length * 8;
      phrases.forEach((phrase, k) => {
        this.memory.set(phrase, bytesAt);
        this.words.set([bytesAt, phrase.length], (phrasesAt >>> 2) + k * 2);
        bytesAt += phrase.length;
      });
      wasm.setPhrases(phrasesAt, parser.sipReasons.length, parser.pjsipReasons.length);
      wasm.internSetup(slotsAt, INTERN_SLOTS, entriesAt, INTERN_ENTRIES, arenaAt, INTERN_ARENA);
    }
  }

  /**
   * How often the sample holds each 4-byte window, counted in one pass by bucket (windows that
   * share a bucket count together, which can only make a window look commoner than it is). The
   * sample goes where the text will, the counts where the output will: reserve has made room for
   * 4 bytes of output per byte of text.
   */
  private windowCounts(sample: Buffer): Uint32Array {
    this.memory.set(sample, this.textAt);
    const countsAt = this.outAt();
    this.wasm.countWindows(this.textAt, this.textAt + sample.length, countsAt);
    return new Uint32Array(this.wasm.memory.buffer, countsAt, WINDOW_BUCKETS);
  }

  scan(buf: Buffer, end: number, visit: (start: number, stop: number, parsed: number) => void): number {
    this.reserve(end);
    const text = this.textAt;
    this.memory.set(buf.subarray(0, end), text);
    this.memory.fill(0, text + end, text + end + PADDING);
    const out = this.outAt();
    const base = this.base;
    const found = this.wasm.findLines(
      text,
      text + end,
      out,
      base + MASKS,
      base + LITERALS,
      this.literals.length,
      base + SCRATCH,
    );
    // Read now: the parser's test for plain lines searches too.
    const lines = this.wasm.newlinesFound();
    const words = this.words;
    if (this.recordsAt === 0) {
      for (let i = 0, w = out >>> 2; i < found; i++, w += 2)
        visit(words[w]! - text, words[w + 1]! - text, -1);
    } else {
      const fields = this.fields;
      for (let batch = 0; batch < found; batch += BATCH) {
        const count = Math.min(BATCH, found - batch);
        this.wasm.parseLines(text, out + batch * 8, count, this.recordsAt, batch === 0);
        for (
          let i = 0, w = (out >>> 2) + batch * 2, r = this.recordsAt >>> 2;
          i < count;
          i++, w += 2, r += FIELDS
        ) {
          visit(words[w]! - text, words[w + 1]! - text, fields[r] === 0 ? -1 : r);
        }
      }
    }
    return lines;
  }

  /** Where the output pairs go: past the text's padding, on a word boundary. */
  private outAt(): number {
    return (this.textAt + this.capacity + PADDING + 7) & ~7;
  }

  /** Grows the memory to hold `bytes` of text and the output for them. */
  private reserve(bytes: number): void {
    if (bytes <= this.capacity) return;
    const capacity = Math.max(bytes, this.capacity * 2);
    // Text, padding, and at most one output pair (8 bytes) per 2 bytes of text.
    const needed = this.textAt + capacity + PADDING + 8 + capacity * 4;
    const have = this.wasm.memory.buffer.byteLength;
    if (needed > have) {
      this.wasm.memory.grow(Math.ceil((needed - have) / WASM_PAGE));
      this.memory = new Uint8Array(this.wasm.memory.buffer);
      this.words = new Uint32Array(this.wasm.memory.buffer);
      this.fields = new Int32Array(this.wasm.memory.buffer);
    }
    this.capacity = capacity;
  }
}

// The parser's records: FIELDS i32 per line (see assembly/line-parse.ts), BATCH lines at a time.
const FIELDS = 20;
const RECORD_BYTES = FIELDS * 4;
const BATCH = 4096;
// The intern table: enough for the addresses and user names of a large flood; texts beyond it
// are decoded line by line.
const INTERN_SLOTS = 1 << 17;
const INTERN_ENTRIES = 1 << 16;
const INTERN_ARENA = 2 << 20;

/** The bytes writeTables needs for `literals`. */
function tablesSize(literals: readonly Buffer[]): number {
  return LITERALS + literals.length * 16 + literals.reduce((n, l) => n + l.length, 0);
}

/**
 * Writes the search tables for `literals` at `at` (see assembly/line-search.ts): picks each
 * literal's fingerprint (its rarest 4 bytes in the sample, so ordinary lines seldom pass the
 * first test), puts literals with the same fingerprint in one bucket, and writes the masks and
 * the literals.
 */
function writeTables(
  mem: Uint8Array,
  at: number,
  literals: readonly Buffer[],
  fingerprint: (literal: Buffer) => { offset: number; key: string },
): void {
  const words = new Uint32Array(mem.buffer);
  mem.fill(0, at, at + LITERALS + literals.length * 16);
  const fingerprints = literals.map(fingerprint);
  const distinct = [...new Set(fingerprints.map((f) => f.key))];
  let bytesAt = at + LITERALS + literals.length * 16;
  literals.forEach((literal, k) => {
    const { offset } = fingerprints[k]!;
    const bucket = 1 << (distinct.indexOf(fingerprints[k]!.key) % BUCKETS);
    for (let j = 0; j < FINGERPRINT; j++) {
      const table = at + MASKS + j * 32;
      if (offset + j < literal.length) {
        const byte = literal[offset + j]!;
        mem[table + (byte & 0x0f)]! |= bucket;
        mem[table + 16 + (byte >> 4)]! |= bucket;
      } else {
        // A literal shorter than the fingerprint: any byte will do here.
        for (let n = 0; n < 32; n++) mem[table + n]! |= bucket;
      }
    }
    mem.set(literal, bytesAt);
    words.set([bytesAt, literal.length, offset, bucket], ((at + LITERALS) >>> 2) + k * 4);
    bytesAt += literal.length;
  });
}

// Enough of the input to tell common text from rare.
const SAMPLE_BYTES = 65_536;
// Offsets in a table block (see writeTables).
const MASKS = 0;
const SCRATCH = 128;
/** Where the parser's plain-line test writes what it found (8 bytes). */
const OUT = 144;
const LITERALS = 256;

/** The window of the literal whose text is rarest in the sample (see windowCounts). */
function rarestWindow(literal: Buffer, counts: Uint32Array): { offset: number; key: string } {
  const text = literal.toString("latin1");
  if (text.length <= FINGERPRINT) return { offset: 0, key: text };
  let best = 0;
  let bestCount = Number.POSITIVE_INFINITY;
  for (let offset = 0; offset + FINGERPRINT <= literal.length; offset++) {
    const count = counts[windowBucket(literal, offset)]!;
    if (count < bestCount) {
      best = offset;
      bestCount = count;
    }
  }
  return { offset: best, key: text.slice(best, best + FINGERPRINT) };
}

const WINDOW_BUCKETS = 1 << 16;

/** A 4-byte window's bucket, as the module's countWindows counts it. */
export function windowBucket(bytes: Buffer, at: number): number {
  return Math.imul(bytes.readInt32LE(at), 0x9e3779b1) >>> 16;
}
