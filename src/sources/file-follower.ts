import { createHash } from "node:crypto";
import { constants, type FSWatcher, watch } from "node:fs";
import { type FileHandle, open, readdir, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Where a follower stands in a file: JSON-serializable, to persist across restarts. */
export interface FollowPosition {
  inode: number;
  /** File offset just past the last whole line handed to onData. */
  offset: number;
  /** sha1 (hex) of the file's first line, cut at 256 bytes: tells the same file from a reused inode. */
  fingerprint: string;
}

export type FollowEvent = "rotated" | "truncated" | "missing" | "appeared" | "resumed" | "restarted";

export interface FollowerOptions {
  path: string;
  /** A saved position, or on a first run "end" (skip history) or "start" (read it). */
  start: FollowPosition | "end" | "start";
  /** Stat polling, as a safety net beside fs.watch and alone without it. Default 1000, at least 250. */
  pollIntervalMs?: number;
  /** Use fs.watch (inotify) on the file and its directory. Default true. */
  watch?: boolean;
  /**
   * Whole lines, in file order: buf[0, end) ends with '\n'. The buffer is reused once this
   * returns: copy what must outlive the call.
   */
  onData(buf: Buffer, end: number): void;
  /** After each onData: the position to persist (throttling is the caller's business). */
  onPosition?(pos: FollowPosition): void;
  onEvent?(kind: FollowEvent, detail: string): void;
  /** File system trouble; the follower retries later. Consecutive identical errors are reported once. */
  onError?(err: Error): void;
}

/** An open file being read: the path's current file, or the one rotated away from it. */
interface Tracked {
  handle: FileHandle;
  path: string;
  dev: number;
  ino: number;
  /** Size when opened. */
  size: number;
  /** Next byte to read. */
  readOffset: number;
  /** Just past the last line handed over (or skipped as too long). */
  delivered: number;
  fingerprint: string;
  /** False while the file holds less than a first line or 256 bytes. */
  fpFinal: boolean;
  closed: boolean;
}

const CHUNK = 1 << 20;
const HEAD = 256;
const END_WINDOW = 64 * 1024;
const MIN_POLL_MS = 250;
const NL = 0x0a;
const COMPRESSED = /\.(gz|bz2|xz|zst|lz4|lzma|Z|zip)$/;

/**
 * Follows one log file like `tail -F` and loses nothing across rename rotation (the old file is
 * read to its end, including lines the writer adds after the rename), copytruncate, deletion and
 * re-creation, and restarts (a saved position is found again, even under a rotated name).
 *
 * All file work runs in one queue of checks (start, watch events, the poll timer, poll()), each
 * reading what is there now; a check never throws. Idle, a check is one fstat and one stat.
 */
export class FileFollower {
  private readonly opts: FollowerOptions;
  private readonly dir: string;
  private readonly base: string;
  private readonly interval: number;
  /** Holds the partial last line at [0, filled); one spare byte to terminate a flushed line. */
  private readonly buf = Buffer.allocUnsafe(2 * CHUNK + 1);
  private readonly cap = 2 * CHUNK;
  private filled = 0;
  /** Inside a line longer than the buffer: dropping bytes up to its newline. */
  private skipping = false;
  private cur: Tracked | null = null;
  private initialized = false;
  private started = false;
  private stopped = false;
  private missing = false;
  private tail: Promise<void> = Promise.resolve();
  private queued: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private dirWatcher: FSWatcher | null = null;
  private fileWatcher: FSWatcher | null = null;
  private lastError = "";
  /** The last failure to watch the directory, reported once (it is retried on every check). */
  private dirWatchError = "";

  constructor(opts: FollowerOptions) {
    this.opts = opts;
    this.dir = dirname(opts.path);
    this.base = basename(opts.path);
    this.interval = Math.max(MIN_POLL_MS, opts.pollIntervalMs ?? 1000);
  }

  /** Opens the file (or starts waiting for it), reads what is due, then follows it. */
  async start(): Promise<void> {
    if (this.started || this.stopped) return;
    this.started = true;
    this.ensureDirWatcher();
    await this.poll();
    this.schedule();
  }

  /** Closes watchers, timers and the file, after any read in progress. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.closeWatcher("dir");
    this.closeWatcher("file");
    await this.tail;
    await this.close(this.cur);
  }

  /** The position to persist, or null while no file has been opened. */
  position(): FollowPosition | null {
    const cur = this.cur;
    if (!cur) return null;
    return { inode: cur.ino, offset: cur.delivered, fingerprint: cur.fingerprint };
  }

  /** Reads whatever is available now. Checks are queued: at most one runs, one waits. */
  poll(): Promise<void> {
    if (this.stopped) return this.tail;
    if (this.queued) return this.queued;
    const next = this.tail.then(() => {
      this.queued = null;
      return this.check();
    });
    this.queued = next;
    this.tail = next;
    return next;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.poll().then(() => this.schedule());
    }, this.interval);
  }

  private async check(): Promise<void> {
    if (this.stopped) return;
    try {
      if (!this.initialized) await this.init();
      else if (!this.cur) await this.openAppeared();
      else await this.follow(this.cur);
      this.lastError = "";
    } catch (err) {
      this.report(err as Error);
    }
    this.ensureDirWatcher();
  }

  // ---- opening -------------------------------------------------------------------------------

  private async init(): Promise<void> {
    const start = this.opts.start;
    if (typeof start === "object") {
      await this.resume(start);
    } else {
      const t = await this.openFile(this.opts.path);
      if (t && start === "end") await this.seekEnd(t);
      if (t) this.adopt(t);
      else this.setMissing();
    }
    this.initialized = true;
    if (this.cur) await this.follow(this.cur);
  }

  /** The path was missing: read it from 0 once it is there. */
  private async openAppeared(): Promise<void> {
    const t = await this.openFile(this.opts.path);
    if (!t) return this.setMissing();
    this.adopt(t);
    this.event("appeared", `${t.path}: appeared, reading it from the start`);
    this.missing = false;
    await this.follow(t);
  }

  /** Picks up from a saved position, reading what was logged while we were not running. */
  private async resume(saved: FollowPosition): Promise<void> {
    const t = await this.openFile(this.opts.path);
    try {
      if (t) await this.readHead(t);
      const sameStart = (f: Tracked) =>
        saved.offset === 0 || saved.fingerprint === "" || f.fingerprint === saved.fingerprint;
      if (t && t.ino === saved.inode && t.size >= saved.offset && sameStart(t)) {
        this.at(t, saved.offset);
        this.adopt(t);
        this.event("resumed", `${t.path}: resuming at offset ${saved.offset}`);
        return;
      }
      const sibling = await this.findSibling(saved, sameStart);
      if (sibling) {
        await this.close(t);
        this.at(sibling, saved.offset);
        this.adopt(sibling);
        this.event(
          "resumed",
          `${this.opts.path}: rotated while stopped; reading ${sibling.path} from offset ${saved.offset}, then the new file`,
        );
        return;
      }
      if (t?.fpFinal && t.fingerprint === saved.fingerprint && t.size >= saved.offset) {
        this.at(t, saved.offset);
        this.adopt(t);
        this.event(
          "resumed",
          `${t.path}: same content under a new inode, resuming at offset ${saved.offset}`,
        );
        return;
      }
      if (t) {
        this.adopt(t);
        this.event("restarted", `${t.path}: the saved position no longer applies, reading from the start`);
      } else {
        this.setMissing();
      }
    } catch (err) {
      if (this.cur !== t) await this.close(t);
      throw err;
    }
  }

  /**
   * The file we stopped in, now under a rotated name next to the path (uncompressed only): first
   * by inode, then (copytruncate) by its first line.
   */
  private async findSibling(
    saved: FollowPosition,
    sameStart: (f: Tracked) => boolean,
  ): Promise<Tracked | null> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
    const candidates = names
      .filter((n) => n !== this.base && n.startsWith(this.base) && !COMPRESSED.test(n))
      .map((n) => join(this.dir, n));
    for (const byInode of [true, false]) {
      if (!byInode && saved.fingerprint === "") break;
      for (const path of candidates) {
        let info: Awaited<ReturnType<typeof stat>>;
        try {
          info = await stat(path);
        } catch {
          continue; // rotated away meanwhile, or unreadable: not ours to report
        }
        if (!info.isFile() || info.size < saved.offset) continue;
        if (byInode && info.ino !== saved.inode) continue;
        const t = await this.openFile(path);
        if (!t) continue;
        await this.readHead(t);
        const match = byInode ? sameStart(t) : t.fpFinal && t.fingerprint === saved.fingerprint;
        if (match && t.size >= saved.offset) return t;
        await this.close(t);
      }
    }
    return null;
  }

  /** Skips history: starts after the last newline, so a line being written is read whole. */
  private async seekEnd(t: Tracked): Promise<void> {
    if (t.size === 0) return;
    const len = Math.min(t.size, END_WINDOW);
    const { bytesRead } = await t.handle.read(this.buf, 0, len, t.size - len);
    const nl = this.buf.lastIndexOf(NL, bytesRead - 1);
    let offset: number;
    if (nl !== -1) offset = t.size - len + nl + 1;
    else offset = t.size <= END_WINDOW ? 0 : t.size;
    this.at(t, offset);
    if (offset > 0) await this.readHead(t);
  }

  private at(t: Tracked, offset: number): void {
    t.readOffset = offset;
    t.delivered = offset;
  }

  private async readHead(t: Tracked): Promise<void> {
    const head = Buffer.allocUnsafe(HEAD);
    const { bytesRead } = await t.handle.read(head, 0, HEAD, 0);
    this.setFingerprint(t, head, bytesRead);
  }

  private setFingerprint(t: Tracked, buf: Buffer, n: number): void {
    const head = buf.subarray(0, Math.min(n, HEAD));
    const nl = head.indexOf(NL);
    const end = nl === -1 ? head.length : nl + 1;
    t.fingerprint = createHash("sha1").update(head.subarray(0, end)).digest("hex");
    t.fpFinal = nl !== -1 || head.length === HEAD;
  }

  /** Opens a regular file; null if it does not exist. */
  private async openFile(path: string): Promise<Tracked | null> {
    let handle: FileHandle;
    try {
      // A named pipe's open would wait for a writer, and hold the source (and its shutdown) for
      // as long; opening one, or a device, can also disturb whoever uses it: look first. Opened
      // without waiting all the same, for a pipe put at the path since (refused below); for a
      // regular file that only matters while another process holds a lease on it (EAGAIN: retried).
      if (!(await stat(path)).isFile()) throw notRegularFile(path);
      handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw describe(err, path, "open");
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw notRegularFile(path);
      return {
        handle,
        path,
        dev: info.dev,
        ino: info.ino,
        size: info.size,
        readOffset: 0,
        delivered: 0,
        fingerprint: "",
        fpFinal: false,
        closed: false,
      };
    } catch (err) {
      await handle.close().catch(() => {});
      throw describe(err, path, "stat");
    }
  }

  /** Makes `t` the file being read, and watches it. */
  private adopt(t: Tracked): void {
    this.cur = t;
    this.filled = 0;
    this.skipping = false;
    this.closeWatcher("file");
    if (this.opts.watch === false || !this.started || this.stopped) return;
    try {
      const w = watch(t.path, { persistent: true }, () => this.kick());
      w.on("error", (err) => {
        if (this.fileWatcher === w) this.closeWatcher("file");
        this.report(describe(err, t.path, "watch"));
      });
      this.fileWatcher = w;
    } catch (err) {
      // The directory watcher and the poll timer still see it.
      this.report(describe(err, t.path, "watch"));
    }
  }

  private async close(t: Tracked | null): Promise<void> {
    if (!t || t.closed) return;
    t.closed = true;
    await t.handle.close().catch((err) => this.report(describe(err, t.path, "close")));
  }

  // ---- following -----------------------------------------------------------------------------

  /** Reads the file we have, then looks at what the path names now. */
  private async follow(cur: Tracked): Promise<void> {
    await this.readAvailable(cur);
    if (this.stopped) return;
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(this.opts.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return this.setMissing();
      throw describe(err, this.opts.path, "stat");
    }
    if (info.ino === cur.ino && info.dev === cur.dev) {
      this.missing = false;
      return;
    }
    // The path names another file. The writer may still be appending to the old one (it has it
    // open until it reopens its log): keep reading the old file until the new one gets data.
    if (!info.isFile() || info.size === 0) return;
    const next = await this.openFile(this.opts.path);
    if (!next) return this.setMissing();
    try {
      await this.readAvailable(cur); // whatever reached the old file before the new one's first line
    } catch (err) {
      await this.close(next);
      throw err;
    }
    if (this.stopped) return this.close(next);
    this.flushPartial(cur);
    await this.close(cur);
    const wasMissing = this.missing;
    this.missing = false;
    this.adopt(next);
    if (wasMissing) this.event("appeared", `${next.path}: appeared again, reading it from the start`);
    else
      this.event(
        "rotated",
        `${next.path}: rotated; finished the old file (inode ${cur.ino}) at offset ${cur.readOffset}, reading the new one (inode ${next.ino}) from the start`,
      );
    await this.readAvailable(next);
  }

  /** Reads `t` up to the size it has now, in chunks, handing whole lines over. */
  private async readAvailable(t: Tracked): Promise<void> {
    let size: number;
    try {
      size = (await t.handle.stat()).size;
    } catch (err) {
      throw describe(err, t.path, "stat");
    }
    if (size < t.readOffset) {
      // copytruncate: same file, emptied under us.
      this.flushPartial(t);
      this.event(
        "truncated",
        `${t.path}: truncated (size ${size} < offset ${t.readOffset}), reading from the start`,
      );
      this.at(t, 0);
      t.fpFinal = false;
    }
    while (t.readOffset < size && !this.stopped) {
      const len = Math.min(CHUNK, this.cap - this.filled);
      let bytesRead: number;
      try {
        ({ bytesRead } = await t.handle.read(this.buf, this.filled, len, t.readOffset));
      } catch (err) {
        throw describe(err, t.path, "read");
      }
      if (bytesRead === 0) break; // shrank meanwhile: the next check sees it
      t.readOffset += bytesRead;
      this.filled += bytesRead;
      this.deliver(t);
    }
  }

  /** Hands the whole lines in the buffer over and keeps the partial rest at its front. */
  private deliver(t: Tracked): void {
    const buf = this.buf;
    if (!t.fpFinal && t.readOffset === this.filled) this.setFingerprint(t, buf, this.filled);
    if (this.skipping) {
      const nl = buf.subarray(0, this.filled).indexOf(NL);
      if (nl === -1) {
        this.filled = 0;
        return;
      }
      this.skipping = false;
      this.consume(t, nl + 1);
    }
    if (this.filled === 0) return;
    const last = buf.lastIndexOf(NL, this.filled - 1);
    if (last === -1) {
      if (this.filled >= this.cap) {
        this.report(
          new Error(`${t.path}: skipped a line longer than ${this.cap} bytes at offset ${t.delivered}`),
        );
        this.skipping = true;
        this.filled = 0;
      }
      return;
    }
    this.emit(t, last + 1);
  }

  /** A partial last line of a file we leave is a line too. */
  private flushPartial(t: Tracked): void {
    if (this.skipping) {
      this.skipping = false;
      this.filled = 0;
      t.delivered = t.readOffset;
      return;
    }
    if (this.filled === 0) return;
    this.buf[this.filled] = NL;
    this.emit(t, this.filled + 1);
  }

  private emit(t: Tracked, end: number): void {
    try {
      this.opts.onData(this.buf, end);
    } catch (err) {
      this.report(err as Error);
    }
    this.consume(t, Math.min(end, this.filled));
    if (this.opts.onPosition) {
      try {
        this.opts.onPosition({ inode: t.ino, offset: t.delivered, fingerprint: t.fingerprint });
      } catch (err) {
        this.report(err as Error);
      }
    }
  }

  /** Drops buf[0, n), done with. */
  private consume(t: Tracked, n: number): void {
    this.buf.copy(this.buf, 0, n, this.filled);
    this.filled -= n;
    t.delivered = t.readOffset - this.filled;
  }

  // ---- watching and reporting ------------------------------------------------------------------

  private kick(): void {
    void this.poll();
  }

  private ensureDirWatcher(): void {
    if (this.dirWatcher || this.opts.watch === false || !this.started || this.stopped) return;
    try {
      const w = watch(this.dir, { persistent: true }, (_kind, name) => {
        // Our file, its rotated names, or unknown (some platforms give no name).
        if (!name || String(name).startsWith(this.base)) this.kick();
      });
      w.on("error", (err) => {
        if (this.dirWatcher === w) this.closeWatcher("dir");
        this.report(describe(err, this.dir, "watch"));
      });
      this.dirWatcher = w;
      this.dirWatchError = "";
    } catch (err) {
      // Missing directory, or out of inotify watches: polling covers it; retried on each check.
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      if (code === this.dirWatchError) return;
      this.dirWatchError = code;
      if (code !== "ENOENT") this.report(describe(err, this.dir, "watch"));
    }
  }

  private closeWatcher(which: "dir" | "file"): void {
    const w = which === "dir" ? this.dirWatcher : this.fileWatcher;
    if (which === "dir") this.dirWatcher = null;
    else this.fileWatcher = null;
    try {
      w?.close();
    } catch {
      // already closed
    }
  }

  private setMissing(): void {
    if (this.missing) return;
    this.missing = true;
    this.event("missing", `${this.opts.path}: no such file; waiting for it to appear`);
  }

  private event(kind: FollowEvent, detail: string): void {
    try {
      this.opts.onEvent?.(kind, detail);
    } catch (err) {
      this.report(err as Error);
    }
  }

  private report(err: Error): void {
    if (err.message === this.lastError) return;
    this.lastError = err.message;
    try {
      this.opts.onError?.(err);
    } catch {
      // The caller's handler failed: nothing sensible left to tell.
    }
  }
}

/** An fs error in a person's words: which file, what failed, what to do. */
function describe(err: unknown, path: string, action: string): Error {
  if (!(err instanceof Error)) return new Error(`${path}: cannot ${action}: ${String(err)}`);
  if (err.message.startsWith(`${path}:`)) return err;
  const code = (err as NodeJS.ErrnoException).code;
  let hint = "will retry";
  if (code === "EACCES" || code === "EPERM")
    hint = "permission denied; run as root or add the sipban user to the asterisk group (will retry)";
  else if (code === "ENOSPC" && action === "watch")
    hint = "out of inotify watches (raise fs.inotify.max_user_watches); falling back to polling";
  return new Error(`${path}: cannot ${action} (${code ?? err.message}): ${hint}`, { cause: err });
}

function notRegularFile(path: string): Error {
  return new Error(`${path}: is not a regular file; waiting for a log file there`);
}
