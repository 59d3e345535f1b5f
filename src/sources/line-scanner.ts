/** Receives the lines worth decoding. */
export interface LineSink {
  line(text: string): void;
  /** While true the scanner hands over every line, not only those holding a literal. */
  readonly wantsEveryLine: boolean;
}

const NEWLINE = 0x0a;

/**
 * Finds, in raw bytes, the lines that contain at least one literal and decodes only those.
 * Most log lines are ordinary traffic: they cost one byte search per literal and no
 * allocation. Counts every line it passes.
 */
export class LineScanner {
  linesRead = 0;
  private readonly needles: Buffer[];
  private readonly everyLine: boolean;
  private hits: number[] = [];

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
      for (let next = 0; next < end; ) next = this.emitLine(buf, next, end);
      return;
    }
    const hits = this.findHitLines(buf, end);
    let next = 0; // first byte not yet handed over
    for (let i = 0; i < hits.length; i++) {
      const start = hits[i]!;
      if (start < next) continue;
      next = this.emitLine(buf, start, end);
      // A record split over lines: the sink needs the lines after it too.
      while (this.sink.wantsEveryLine && next < end) next = this.emitLine(buf, next, end);
    }
  }

  /** Scans a last line that had no newline at the end of the input. */
  scanLast(buf: Buffer, start: number, end: number): void {
    if (end <= start) return;
    this.linesRead++;
    const line = buf.subarray(start, end);
    if (this.everyLine || this.sink.wantsEveryLine || this.needles.some((n) => line.indexOf(n) !== -1)) {
      this.sink.line(buf.toString("utf8", start, end));
    }
  }

  private emitLine(buf: Buffer, start: number, end: number): number {
    let stop = buf.indexOf(NEWLINE, start);
    if (stop === -1 || stop > end) stop = end;
    this.sink.line(buf.toString("utf8", start, stop));
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
      let lineEnd = -1;
      while (p !== -1 && p < end) {
        if (p > lineEnd) {
          const start = buf.lastIndexOf(NEWLINE, p) + 1;
          hits.push(start);
          lineEnd = buf.indexOf(NEWLINE, p);
          if (lineEnd === -1) lineEnd = end;
          p = buf.indexOf(needle, lineEnd + 1);
        } else {
          p = buf.indexOf(needle, p + 1);
        }
      }
    }
    if (sources > 1) {
      hits.sort((a, b) => a - b);
    }
    return hits;
  }
}
