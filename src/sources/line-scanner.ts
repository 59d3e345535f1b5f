/** Receives the lines worth decoding, with the byte offset where each starts in the input. */
export interface LineSink {
  line(text: string, offset: number): void;
}

const NEWLINE = 0x0a;

/**
 * Finds, in raw bytes, the lines that contain at least one literal and decodes only those.
 * Most log lines are ordinary traffic: they cost a share of one pass over the bytes and no
 * allocation. Counts every line it passes.
 *
 * The literals are searched in one pass: a chunk is viewed as a one-byte string (latin1, a copy
 * with no decoding) and searched with one alternation, which V8 compiles to native code. One
 * Buffer.indexOf pass per literal costs several times more once there are more than a few.
 */
export class LineScanner {
  linesRead = 0;
  /** Bytes of input before the chunk being scanned. */
  private consumed = 0;
  private literals: readonly Buffer[] = [];
  private pattern: RegExp | null = null;
  private chooseLiterals: ((sample: Buffer) => readonly string[]) | null;

  /**
   * `literals`: the byte strings to look for (none: every line is handed over), or a function
   * that picks them from the first bytes of the input.
   */
  constructor(
    literals: readonly string[] | ((sample: Buffer) => readonly string[]),
    private readonly sink: LineSink,
  ) {
    this.chooseLiterals = typeof literals === "function" ? literals : null;
    if (typeof literals !== "function") this.useLiterals(literals);
  }

  private useLiterals(literals: readonly string[]): void {
    this.literals = literals.map((l) => Buffer.from(l, "utf8"));
    this.pattern =
      literals.length === 0
        ? null
        : new RegExp(this.literals.map((l) => escapeRegExp(l.toString("latin1"))).join("|"), "g");
  }

  private ready(sample: Buffer): void {
    if (this.chooseLiterals === null) return;
    this.useLiterals(this.chooseLiterals(sample));
    this.chooseLiterals = null;
  }

  /** Scans `buf[0, end)`, which must hold whole lines, each ended by a newline. */
  scan(buf: Buffer, end: number): void {
    this.ready(buf.subarray(0, end));
    this.countLines(buf, end);
    if (this.pattern === null) {
      for (let start = 0; start < end; ) start = this.emitLine(buf, start, end);
    } else {
      const text = buf.toString("latin1", 0, end);
      const pattern = this.pattern;
      pattern.lastIndex = 0;
      for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
        const start = text.lastIndexOf("\n", m.index) + 1;
        const next = this.emitLine(buf, start, end);
        if (next >= end) break;
        pattern.lastIndex = next;
      }
    }
    this.consumed += end;
  }

  /** Scans a last line that had no newline at the end of the input. */
  scanLast(buf: Buffer, start: number, end: number): void {
    if (end <= start) return;
    this.ready(buf.subarray(start, end));
    this.linesRead++;
    const line = buf.subarray(start, end);
    if (this.pattern === null || this.literals.some((n) => line.indexOf(n) !== -1)) {
      this.sink.line(buf.toString("utf8", start, end), this.consumed + start);
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
    this.sink.line(buf.toString("utf8", start, stop), this.consumed + start);
    return stop + 1;
  }

  private countLines(buf: Buffer, end: number): void {
    let n = 0;
    let p = buf.indexOf(NEWLINE, 0);
    while (p !== -1 && p < end) {
      n++;
      p = buf.indexOf(NEWLINE, p + 1);
    }
    this.linesRead += n;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
