// The floor for any Node log scanner: stream a file and count the lines that contain a needle,
// searching the raw Buffers (no decoding, no per-line allocation), one count per line, with the
// line that straddles two chunks handled on its own.
//   node dist/bench/floor.js FILE [NEEDLE]   -> prints the count
import { createReadStream } from "node:fs";
import { pathToFileURL } from "node:url";

const NEWLINE = 0x0a;

export async function countLinesContaining(path: string, needleText: string): Promise<number> {
  const needle = Buffer.from(needleText, "utf8");
  let count = 0;
  /** The start of a line that began in an earlier chunk and has not ended yet. */
  let carry: Buffer | null = null;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const firstNewline = chunk.indexOf(NEWLINE);
    if (firstNewline === -1) {
      carry = carry ? Buffer.concat([carry, chunk]) : Buffer.from(chunk);
      continue;
    }
    // The line that straddles the boundary: only it is copied.
    const head = carry
      ? Buffer.concat([carry, chunk.subarray(0, firstNewline)])
      : chunk.subarray(0, firstNewline);
    if (head.indexOf(needle) !== -1) count++;
    const lastNewline = chunk.lastIndexOf(NEWLINE);
    let p = chunk.indexOf(needle, firstNewline + 1);
    while (p !== -1 && p < lastNewline) {
      count++;
      // One per line: skip to the next line.
      p = chunk.indexOf(needle, chunk.indexOf(NEWLINE, p) + 1);
    }
    carry = lastNewline + 1 < chunk.length ? Buffer.from(chunk.subarray(lastNewline + 1)) : null;
  }
  if (carry && carry.indexOf(needle) !== -1) count++;
  return count;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, needle = "failed for"] = process.argv.slice(2);
  if (!file) {
    process.stderr.write("usage: floor FILE [NEEDLE]\n");
    process.exitCode = 2;
  } else {
    process.stdout.write(`${await countLinesContaining(file, needle)}\n`);
  }
}
