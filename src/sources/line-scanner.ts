/** Receives the lines worth decoding, with the byte offset where each starts in the input. */
export interface LineSink {
  line(text: string, offset: number): void;
}

const NEWLINE = 0x0a;

/**
 * Finds, in raw bytes, the lines that contain at least one literal and decodes only those.
 * Most log lines are ordinary traffic: they cost a byte search per literal and no allocation.
 * Counts every line it passes.
 */
export class LineScanner {
  linesRead = 0;
  /** Bytes of input before the chunk being scanned. */
  private consumed = 0;
  private readonly needles: Buffer[];
  private readonly everyLine: boolean;
  private readonly hits: number[] = [];

  constructor(
    literals: readonly string[],
    private readonly sink: LineSink,
  ) {
    this.needles = literals.map((l) => Buffer.from(l, "utf8"));
    // A user rule without a literal has to see every line.
    this.everyLine = literals.length === 0;
  }

  /** Scans `buf[0, end)`, which must hold whole lines, each ended by a newline. */
  scan(buf: Buffer, end: number): void {
    this.countLines(buf, end);
    if (this.everyLine) {
      for (let start = 0; start < end; ) start = this.emitLine(buf, start, end);
    } else {
      for (const start of this.findHitLines(buf, end)) this.emitLine(buf, start, end);
    }
    this.consumed += end;
  }

  /** Scans a last line that had no newline at the end of the input. */
  scanLast(buf: Buffer, start: number, end: number): void {
    if (end <= start) return;
    this.linesRead++;
    const line = buf.subarray(start, end);
    if (this.everyLine || this.needles.some((n) => line.indexOf(n) !== -1)) {
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

  /** Start offsets of the lines holding a literal, ascending, each once. */
  private findHitLines(buf: Buffer, end: number): number[] {
    const hits = this.hits;
    hits.length = 0;
    let sources = 0;
    for (const needle of this.needles) {
      let p = buf.indexOf(needle, 0);
      if (p === -1 || p >= end) continue;
      sources++;
      while (p !== -1 && p < end) {
        hits.push(buf.lastIndexOf(NEWLINE, p) + 1);
        const lineEnd = buf.indexOf(NEWLINE, p);
        p = lineEnd === -1 ? -1 : buf.indexOf(needle, lineEnd + 1);
      }
    }
    if (sources > 1) {
      hits.sort((a, b) => a - b);
      let w = 0;
      for (let r = 0; r < hits.length; r++) if (r === 0 || hits[r] !== hits[r - 1]) hits[w++] = hits[r]!;
      hits.length = w;
    }
    return hits;
  }
}
