import { type FileHandle, open, stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import type { LineScanner } from "./line-scanner.js";

const CHUNK = 1 << 20;
const GZ_CHUNK = 1 << 16;

/** A file that cannot be scanned, with words for the user. */
export class InputError extends Error {}

/**
 * Reads a whole log (a plain file, a rotated `.gz`, or `-` for standard input) through a
 * LineScanner in large chunks, carrying a partial last line over to the next chunk. `opened`: the
 * file, already open (see openInput), read from its start whatever was read of it before: a
 * file read twice must be the same file both times, even if it is rotated in between.
 */
export async function scanInput(path: string, scanner: LineScanner, opened?: FileHandle): Promise<void> {
  if (path === "-") return scanStream(process.stdin, scanner);
  const handle = opened ?? (await openInput(path));
  try {
    if (path.endsWith(".gz")) {
      // The file's stream ends with the scan, however it ends (a scanner that stops it, or asks
      // for the file again, would otherwise leave it reading), and its errors are the gunzip's.
      // Not the handle's own stream: that one closes the handle when it ends.
      const file = Readable.from(chunksOf(handle, opened ? 0 : null));
      const gunzip = file.pipe(createGunzip());
      file.once("error", (err) => gunzip.destroy(err));
      try {
        return await scanStream(gunzip, scanner, path);
      } finally {
        file.destroy();
      }
    }
    const buf = Buffer.allocUnsafe(CHUNK * 2);
    const state: ReadState = { skipping: false };
    let filled = 0;
    let first = true;
    // A handle opened here may be a named pipe, which is read where it stands.
    let position: number | null = opened ? 0 : null;
    for (;;) {
      const { bytesRead } = await handle.read(buf, filled, buf.length - filled, position);
      if (position !== null) position += bytesRead;
      if (first) {
        rejectBinary(buf.subarray(0, bytesRead), path);
        first = false;
      }
      if (bytesRead === 0) break;
      filled += bytesRead;
      filled = scanWhole(buf, filled, scanner, state);
    }
    scanRest(buf, filled, scanner, state);
  } finally {
    if (!opened) await handle.close();
  }
}

/** The file's bytes from `from` (null: where it stands, as a named pipe is read), a chunk at a time. */
async function* chunksOf(handle: FileHandle, from: number | null): AsyncGenerator<Buffer> {
  for (let position = from; ; ) {
    // A file stream's size: the gunzip stream holds several, and a pipe gives no more at a time.
    const buf = Buffer.allocUnsafe(GZ_CHUNK);
    const { bytesRead } = await handle.read(buf, 0, GZ_CHUNK, position);
    if (bytesRead === 0) return;
    if (position !== null) position += bytesRead;
    yield buf.subarray(0, bytesRead);
  }
}

/** What checkInput found of an input. */
export interface InputInfo {
  /** The time a yearless date is read against: the file's last change (now for a pipe). */
  mtime: number;
  /** The file itself (device and inode), whatever path names it; undefined for a pipe. */
  identity?: string;
  /** Its size in bytes (0 for a pipe). */
  size: number;
}

/** Checks that `path` can be scanned. */
export async function checkInput(path: string): Promise<InputInfo> {
  if (path === "-") return { mtime: Date.now(), size: 0 };
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new InputError(`${path}: no such file`);
    if (code === "EACCES")
      throw new InputError(`${path}: permission denied (run as root or add yourself to the asterisk group)`);
    throw new InputError(`${path}: cannot read (${code ?? String(err)})`);
  }
  if (info.isDirectory()) throw new InputError(`${path}: is a directory, not a log file`);
  // A pipe (`mkfifo`, `<(zcat ...)`) can be opened for reading once: opening it to check would
  // take its writer's data away, or wait for a writer. It is read when its turn comes.
  if (!info.isFile()) return { mtime: Date.now(), size: 0 };
  await (await openInput(path)).close();
  return { mtime: info.mtimeMs, identity: `${info.dev}:${info.ino}`, size: info.size };
}

/** Opens an input for reading; what stops it is an InputError with words for the user. */
export async function openInput(path: string): Promise<FileHandle> {
  try {
    return await open(path, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EACCES")
      throw new InputError(`${path}: permission denied (run as root or add yourself to the asterisk group)`);
    throw new InputError(`${path}: cannot open (${code ?? String(err)})`);
  }
}

/** Where a read is: in the middle of a line too long to hold, whose bytes are skipped to its end. */
interface ReadState {
  skipping: boolean;
}

// Hands the whole lines in buf[0, filled) to the scanner and moves the partial rest to the front.
function scanWhole(buf: Buffer, filled: number, scanner: LineScanner, state: ReadState): number {
  if (state.skipping) {
    const end = buf.subarray(0, filled).indexOf(0x0a);
    if (end === -1) {
      scanner.skip(filled);
      return 0;
    }
    scanner.skip(end + 1);
    state.skipping = false;
    buf.copy(buf, 0, end + 1, filled);
    filled -= end + 1;
    if (filled === 0) return 0;
  }
  const lastNewline = buf.lastIndexOf(0x0a, filled - 1);
  if (lastNewline === -1) {
    // One line longer than the buffer: skip it whole, to its end, rather than grow without bound.
    if (filled === buf.length) {
      scanner.linesRead++;
      scanner.oversized++;
      scanner.skip(filled);
      state.skipping = true;
      return 0;
    }
    return filled;
  }
  scanner.scan(buf, lastNewline + 1);
  const rest = filled - (lastNewline + 1);
  buf.copy(buf, 0, lastNewline + 1, filled);
  return rest;
}

async function scanStream(stream: NodeJS.ReadableStream, scanner: LineScanner, path = "-"): Promise<void> {
  const buf = Buffer.allocUnsafe(CHUNK * 2);
  const state: ReadState = { skipping: false };
  let filled = 0;
  let first = true;
  // What the scanner throws goes on as it is; the stream's errors are the input's.
  let fromScanner: unknown;
  try {
    for await (const piece of stream as AsyncIterable<Buffer>) {
      let offset = 0;
      if (first) {
        rejectBinary(piece, path);
        first = false;
      }
      while (offset < piece.length) {
        const n = Math.min(piece.length - offset, buf.length - filled);
        piece.copy(buf, filled, offset, offset + n);
        filled += n;
        offset += n;
        try {
          filled = scanWhole(buf, filled, scanner, state);
        } catch (err) {
          fromScanner = err;
          throw err;
        }
      }
    }
  } catch (err) {
    if (err instanceof InputError || (fromScanner !== undefined && err === fromScanner)) throw err;
    throw new InputError(`${path}: ${(err as Error).message}`);
  }
  scanRest(buf, filled, scanner, state);
}

/** The input's last bytes, after its last newline: a last line, or the end of one too long. */
function scanRest(buf: Buffer, filled: number, scanner: LineScanner, state: ReadState): void {
  if (state.skipping) scanner.skip(filled);
  else scanner.scanLast(buf, 0, filled);
}

function rejectBinary(head: Buffer, path: string): void {
  const probe = head.subarray(0, 8192);
  if (probe.includes(0)) throw new InputError(`${path}: looks like a binary file, not a text log`);
}
