import { utf8 } from "../util/decode.js";
import { createLineSearch, type LineSearch, type ParserPhrases } from "./line-search.js";

/** Receives the lines worth decoding, with the byte offset where each starts in the input. */
export interface LineSink {
  line(text: string, offset: number): void;
  /**
   * Set when the sink takes lines the WebAssembly parser read (assembly/line-parse.ts): the
   * phrases the parser needs.
   */
  readonly parser?: ParserPhrases;
  /**
   * A line the parser read, not decoded: its record starts at `fields[at]`, with positions in
   * `chunk`. Returns false to have it decoded and given to `line` instead.
   */
  parsed?(fields: Int32Array, at: number, chunk: Buffer, offset: number, length: number): boolean;
}

const NEWLINE = 0x0a;

/**
 * Finds, in raw bytes, the lines that contain at least one literal and decodes only those.
 * Most log lines are ordinary traffic: they cost a share of one pass over the bytes (see
 * LineSearch) and no allocation. Counts every line it passes.
 */
export class LineScanner {
  linesRead = 0;
  /** Lines longer than a read can hold, skipped unread (see file-reader). */
  oversized = 0;
  /** Bytes of input before the chunk being scanned. */
  private consumed = 0;
  private literals: readonly string[] = [];
  private search: LineSearch | null = null;
  private chooseLiterals: ((sample: Buffer) => readonly string[]) | null;
  private chunk: Buffer | null = null;
  private readonly visit = (start: number, stop: number, parsed: number) => {
    const chunk = this.chunk!;
    const offset = this.consumed + start;
    if (parsed >= 0 && this.sink.parsed!(this.search!.fields, parsed, chunk, offset, stop - start)) return;
    this.sink.line(utf8(chunk, start, stop), offset);
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
      this.search = createLineSearch(this.literals, sample, this.sink.parser);
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
