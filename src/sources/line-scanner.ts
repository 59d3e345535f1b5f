import { createLineSearch, type LineSearch } from "./line-search.js";

/** Receives the lines worth decoding, with the byte offset where each starts in the input. */
export interface LineSink {
  line(text: string, offset: number): void;
}

const NEWLINE = 0x0a;

type Slice = (this: Buffer, start: number, end: number) => string;

// Buffer's own UTF-8 decoder without the argument checks of `toString`, which cost more than
// decoding a log line. Not in Node's documented API, hence the fallback.
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: Slice }).utf8Slice;

/** buf[start, end) decoded as UTF-8 (start <= end <= buf.length). */
function utf8(buf: Buffer, start: number, end: number): string {
  return utf8Slice !== undefined ? utf8Slice.call(buf, start, end) : buf.toString("utf8", start, end);
}

/**
 * Finds, in raw bytes, the lines that contain at least one literal and decodes only those.
 * Most log lines are ordinary traffic: they cost a share of one pass over the bytes (see
 * LineSearch) and no allocation. Counts every line it passes.
 */
export class LineScanner {
  linesRead = 0;
  /** Bytes of input before the chunk being scanned. */
  private consumed = 0;
  private literals: readonly string[] = [];
  private search: LineSearch | null = null;
  private chooseLiterals: ((sample: Buffer) => readonly string[]) | null;
  private chunk: Buffer | null = null;
  private readonly visit = (start: number, stop: number) => {
    this.sink.line(utf8(this.chunk!, start, stop), this.consumed + start);
  };

  /**
   * `literals`: the byte strings to look for (none: every line is handed over), or a function
   * that picks them from the first bytes of the input.
   */
  constructor(
    literals: readonly string[] | ((sample: Buffer) => readonly string[]),
    private readonly sink: LineSink,
  ) {
    this.chooseLiterals = typeof literals === "function" ? literals : null;
    if (typeof literals !== "function") this.literals = literals;
  }

  /** Picks the literals (if a function does) and builds the search, from the input's first bytes. */
  private ready(sample: Buffer): void {
    if (this.chooseLiterals !== null) {
      this.literals = this.chooseLiterals(sample);
      this.chooseLiterals = null;
    }
    if (this.search === null && this.literals.length > 0)
      this.search = createLineSearch(this.literals, sample);
  }

  /** Scans `buf[0, end)`, which must hold whole lines, each ended by a newline. */
  scan(buf: Buffer, end: number): void {
    this.ready(buf.subarray(0, end));
    if (this.search === null) {
      for (let start = 0; start < end; ) start = this.emitLine(buf, start, end);
    } else {
      this.chunk = buf;
      this.linesRead += this.search.scan(buf, end, this.visit);
      this.chunk = null;
    }
    this.consumed += end;
  }

  /** Scans a last line that had no newline at the end of the input. */
  scanLast(buf: Buffer, start: number, end: number): void {
    if (end <= start) return;
    this.ready(buf.subarray(start, end));
    this.linesRead++;
    const line = buf.subarray(start, end);
    if (this.literals.length === 0 || this.literals.some((n) => line.includes(n, 0, "utf8"))) {
      this.sink.line(utf8(buf, start, end), this.consumed + start);
    }
    this.consumed += end - start;
  }

  /** Skips bytes that are not scanned (a line too long to hold), keeping offsets true. */
  skip(bytes: number): void {
    this.consumed += bytes;
  }

  private emitLine(buf: Buffer, start: number, end: number): number {
    let stop = buf.indexOf(NEWLINE, start);
    if (stop === -1 || stop > end) stop = end;
    this.linesRead++;
    this.sink.line(utf8(buf, start, stop), this.consumed + start);
    return stop + 1;
  }
}
