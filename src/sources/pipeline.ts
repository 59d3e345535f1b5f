import { Detector, type DetectorOptions } from "../detect/detector.js";
import type { FailureEvent } from "../detect/event.js";
import { LineScanner } from "./line-scanner.js";

// Asterisk writes a record (split or not) in one write, read at once: this long after data
// arrived, the split guard has seen all it will of it and may let its held lines go.
const HOLD_MS = 5;

/**
 * One source's path from raw bytes to failure events: a LineScanner feeding a Detector, with the
 * split guard flushed shortly after data comes (a live source has no end of input).
 */
export class SourcePipeline {
  readonly detector: Detector;
  readonly scanner: LineScanner;
  private holdTimer: NodeJS.Timeout | null = null;

  constructor(options: DetectorOptions, emit: (event: FailureEvent) => void) {
    this.detector = new Detector({ ...options, clock: Date.now }, emit);
    this.scanner = new LineScanner((sample) => this.detector.literalsFor(sample), {
      line: (text, offset) => this.detector.line(text, offset),
    });
  }

  /** Whole lines: buf[0, end) ends with a newline. */
  data(buf: Buffer, end: number): void {
    this.scanner.scan(buf, end);
    // Not restarted by each write: a steady stream must not hold lines forever.
    this.holdTimer ??= setTimeout(() => this.flush(), HOLD_MS);
  }

  /** Lines without their newlines (a journal entry). */
  lines(lines: readonly string[]): void {
    const buf = Buffer.from(`${lines.join("\n")}\n`, "utf8");
    this.data(buf, buf.length);
  }

  flush(): void {
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    this.detector.flush();
  }
}
