// The writer process of the watch benchmark's intake part: appends chan_sip failure lines to a log
// file at a fixed rate, in blocks (one write each), like a very busy Asterisk.
//
//   node dist/bench/watch-writer.js <log> <lines per second> <seconds>
//
// Every line has the same length (addresses 198.18.100.100 to 198.18.199.199, 10,000 of them,
// from the benchmark range), so the file's size tells how many lines it holds. Prints JSON lines
// on stdout: {"at","written"} about every 250 ms, then {"done":true,"written","bytes","startedAt","endedAt"}.
import { closeSync, openSync, writeSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Lines per write. */
export const WRITER_BLOCK = 500;
const ADDRESSES = 10_000;

/** The i-th fixed-width address: 198.18.1xx.1xx. */
export function writerAddress(i: number): string {
  const n = i % ADDRESSES;
  return `198.18.${100 + Math.floor(n / 100)}.${100 + (n % 100)}`;
}

/** Local time as Asterisk stamps it: "2024-03-05 12:34:56". */
export function asteriskStamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A chan_sip failure line for `ip`, with its newline. */
export function failureLine(stamp: string, ip: string): string {
  return `[${stamp}] NOTICE[4242] chan_sip.c: Registration from '<sip:1001@192.0.2.10>' failed for '${ip}:5060' - Wrong password\n`;
}

/** The byte length of every line this writer writes. */
export const WRITER_LINE_BYTES = Buffer.byteLength(failureLine(asteriskStamp(new Date()), writerAddress(0)));

async function main(): Promise<void> {
  const [log, rateArg, secondsArg] = process.argv.slice(2);
  const rate = Number(rateArg);
  const seconds = Number(secondsArg);
  if (!log || !(rate > 0) || !(seconds > 0) || seconds > 60)
    throw new Error("usage: watch-writer.js <log> <lines per second> <seconds (at most 60)>");
  const total = Math.ceil((rate * seconds) / WRITER_BLOCK) * WRITER_BLOCK;
  const blocksPerCycle = ADDRESSES / WRITER_BLOCK;
  let cacheStamp = "";
  const cache = new Map<number, Buffer>();
  const block = (k: number): Buffer => {
    const stamp = asteriskStamp(new Date());
    if (stamp !== cacheStamp) {
      cache.clear();
      cacheStamp = stamp;
    }
    const slot = k % blocksPerCycle;
    let buf = cache.get(slot);
    if (!buf) {
      let text = "";
      for (let j = 0; j < WRITER_BLOCK; j++)
        text += failureLine(stamp, writerAddress(slot * WRITER_BLOCK + j));
      buf = Buffer.from(text);
      cache.set(slot, buf);
    }
    return buf;
  };

  const fd = openSync(log, "a");
  let written = 0;
  let bytes = 0;
  let blocks = 0;
  const startedAt = Date.now();
  const t0 = performance.now();
  let lastReport = t0;
  try {
    while (written < total) {
      const elapsed = performance.now() - t0;
      if (elapsed > seconds * 1000 + 10_000) break; // cannot keep the rate at all: give up
      const due = Math.min(total, Math.floor((rate * elapsed) / 1000 / WRITER_BLOCK) * WRITER_BLOCK);
      while (written < due) {
        const buf = block(blocks++);
        let off = 0;
        while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
        written += WRITER_BLOCK;
        bytes += buf.length;
      }
      const now = performance.now();
      if (now - lastReport >= 250) {
        lastReport = now;
        process.stdout.write(`${JSON.stringify({ at: Date.now(), written })}\n`);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    closeSync(fd);
  }
  process.stdout.write(`${JSON.stringify({ done: true, written, bytes, startedAt, endedAt: Date.now() })}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
