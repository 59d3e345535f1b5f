import { Detector, type DetectorOptions } from "../detect/detector.js";
import type { FailureEvent } from "../detect/event.js";
import { LineScanner } from "./line-scanner.js";

// Asterisk writes a record (split or not) in one write: after this long with no new data, the
// split guard has seen all it will and may let its held lines go.
const QUIET_MS = 5;

/**
 * One source's path from raw bytes to failure events: a LineScanner feeding a Detector, with the
 * split guard flushed once the source goes quiet (a live source has no end of input).
 */
export class SourcePipeline {
  readonly detector: Detector;
  readonly scanner: LineScanner;
  private quiet: NodeJS.Timeout | null = null;

  constructor(
    options: DetectorOptions,
    private readonly emit: (event: FailureEvent) => void,
  ) {
    this.detector = new Detector({ ...options, clock: Date.now });
    this.scanner = new LineScanner(this.detector.literals(), {
      line: (text, offset) => this.detector.line(text, offset, emit),
    });
  }

  /** Whole lines: buf[0, end) ends with a newline. */
  data(buf: Buffer, end: number): void {
    this.scanner.scan(buf, end);
    if (this.quiet) clearTimeout(this.quiet);
    this.quiet = setTimeout(() => this.flush(), QUIET_MS);
  }

  /** Lines without their newlines (a journal entry). */
  lines(lines: readonly string[]): void {
    const buf = Buffer.from(`${lines.join("\n")}\n`, "utf8");
    this.data(buf, buf.length);
  }

  flush(): void {
    if (this.quiet) clearTimeout(this.quiet);
    this.quiet = null;
    this.detector.flush(this.emit);
  }
}
