import { createHash } from "node:crypto";
import { chmodSync, lstatSync, rmSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { dirname, resolve } from "node:path";
import { createInterface } from "node:readline";
import { ensureDirectory } from "../util/ensure-directory.js";

/** A request to the running daemon: one JSON line in, one JSON line out. */
export type ControlRequest =
  | { cmd: "status" }
  | { cmd: "bans" }
  | { cmd: "ban"; ip: string; durationMs: number; reason: string }
  | { cmd: "unban"; ip: string };

export type ControlResponse = { ok: true; [key: string]: unknown } | { ok: false; error: string };

/**
 * The daemon's control socket: a unix socket only root can use (mode 0600 in a 0700 directory),
 * so `sipban bans|ban|unban|status` act through the daemon and its state and the kernel stay in step.
 */
export class ControlServer {
  private server: Server | null = null;
  /** Our socket's inode once listening (-1: none), so that close removes ours only. */
  private inode = -1;
  /** Held from claim to close: this daemon's right to the path (see takeLock). */
  private lock: Server | null = null;

  constructor(
    private readonly path: string,
    private readonly handle: (request: ControlRequest) => Promise<ControlResponse>,
    /** How long a lock held elsewhere is waited on for its daemon to answer (see takeLock). */
    private readonly lockWaitMs = 10_000,
  ) {}

  async listen(): Promise<void> {
    await this.claim();
    const server = createServer((socket) => {
      socket.on("error", () => {});
      const lines = createInterface({ input: socket });
      lines.once("line", (text) => {
        lines.close();
        let request: ControlRequest;
        try {
          request = JSON.parse(text) as ControlRequest;
        } catch {
          socket.end(`${JSON.stringify({ ok: false, error: "not JSON" })}\n`);
          return;
        }
        this.handle(request).then(
          (response) => socket.end(`${JSON.stringify(response)}\n`),
          (err: Error) => socket.end(`${JSON.stringify({ ok: false, error: err.message })}\n`),
        );
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.path, () => resolve());
    });
    chmodSync(this.path, 0o600);
    this.inode = lstatSync(this.path).ino;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    // Only our own socket: another daemon may have taken the path since (it should not, see
    // claim, but its socket is not ours to remove).
    if (this.inode !== -1 && socketInode(this.path) === this.inode) rmSync(this.path, { force: true });
    this.inode = -1;
    const lock = this.lock;
    this.lock = null;
    if (lock) await new Promise<void>((resolve) => lock.close(() => resolve()));
  }

  /**
   * Makes the path free for our socket: a socket left by a daemon that died is removed; a daemon
   * that answers there, or anything that is not a socket (a typo naming a real file), is refused.
   */
  async claim(): Promise<void> {
    // The kernel cuts longer unix socket paths short: the socket would land somewhere else.
    if (Buffer.byteLength(this.path) > MAX_SOCKET_PATH)
      throw new Error(
        `daemon.socket: ${this.path} is too long for a unix socket (${Buffer.byteLength(this.path)} bytes; at most ${MAX_SOCKET_PATH})`,
      );
    await this.takeLock();
    ensureDirectory(dirname(this.path), 0o700, "the control socket");
    const inode = socketInode(this.path);
    if (inode === null) return;
    if (inode === -1)
      throw new Error(`daemon.socket: ${this.path} exists and is not a socket; not replacing it`);
    let answer: ControlResponse | null;
    try {
      answer = await controlRequest(this.path, { cmd: "status" }, 2000);
    } catch (err) {
      throw new Error(`daemon.socket: ${this.path} is in use (${(err as Error).message})`);
    }
    if (answer !== null) throw new Error(`another sipban daemon is running (socket ${this.path})`);
    rmSync(this.path, { force: true });
  }

  /**
   * One daemon per socket path, however close together two start. Without it, two daemons could
   * both find a dead daemon's socket and both remove it, the later one removing the socket the
   * earlier had just made: both would run, one out of reach. The lock is an abstract unix socket
   * (Linux) named after the path: the kernel lets one process hold a name and frees it when that
   * process ends, however it ends, so no lock is ever left behind.
   *
   * Any user may bind an abstract name, so a lock held elsewhere is not taken at its word: it
   * stops this daemon only once a daemon answers on the path. Until then its holder may be a
   * daemon still starting (it listens after reconciling the firewall); after `lockWaitMs`, it is
   * taken for a squatter, said as a warning, and this daemon goes on without the lock. (Abstract
   * names also belong to a network namespace: daemons in two namespaces sharing one path are not
   * told apart.)
   */
  private async takeLock(): Promise<void> {
    if (this.lock !== null || process.platform !== "linux") return;
    const lock = createServer();
    try {
      await new Promise<void>((done, fail) => {
        lock.once("error", fail);
        lock.listen(lockName(this.path), () => done());
      });
      this.lock = lock;
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
    }
    for (const until = Date.now() + this.lockWaitMs; Date.now() < until; ) {
      if (socketInode(this.path) !== null && (await answers(this.path)))
        throw new Error(`another sipban daemon is running (socket ${this.path})`);
      await new Promise((done) => setTimeout(done, LOCK_POLL_MS));
    }
    process.emitWarning(
      `the lock for ${this.path} is held by a process that is no sipban daemon answering there; going on without it`,
      { code: "SIPBAN_LOCK_HELD" },
    );
  }
}

/** How often a lock held elsewhere looks for its daemon's answer. */
const LOCK_POLL_MS = 100;

/** The abstract unix socket name of the lock on the control socket `path` (see takeLock). */
export function lockName(path: string): string {
  return `\0sipban-daemon/${createHash("sha256").update(resolve(path)).digest("hex").slice(0, 32)}`;
}

/** True when a daemon answers on `path`. */
async function answers(path: string): Promise<boolean> {
  try {
    return (await controlRequest(path, { cmd: "status" }, 1000)) !== null;
  } catch {
    return false;
  }
}

/** The longest unix socket path Linux keeps whole (sun_path holds 108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * Said when the user may not reach the socket: whether a daemon listens there cannot be told
 * either (the directory may be closed to them).
 */
function notYours(path: string): Error {
  return new Error(
    `${path}: permission denied: only root may reach the daemon's control socket (run sipban as root)`,
  );
}

/** The inode of the socket at `path`; -1 when something else is there, null when nothing is. */
function socketInode(path: string): number | null {
  try {
    const info = lstatSync(path);
    return info.isSocket() ? info.ino : -1;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    if (code === "EACCES") throw notYours(path);
    throw err;
  }
}

/** Sends one request to the daemon; null when no daemon listens there. */
export function controlRequest(
  path: string,
  request: ControlRequest,
  timeoutMs = 5000,
): Promise<ControlResponse | null> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the daemon at ${path} did not answer within ${timeoutMs / 1000}s`));
    }, timeoutMs);
    let data = "";
    socket.on("connect", () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on("data", (d) => {
      data += d.toString();
    });
    socket.on("end", () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(data) as ControlResponse);
      } catch {
        reject(new Error(`the daemon at ${path} answered something that is not JSON`));
      }
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === "ENOENT" || err.code === "ECONNREFUSED") resolve(null);
      else if (err.code === "EACCES") reject(notYours(path));
      else reject(err);
    });
  });
}
