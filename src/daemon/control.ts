import { chmodSync, rmSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { dirname } from "node:path";
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

  constructor(
    private readonly path: string,
    private readonly handle: (request: ControlRequest) => Promise<ControlResponse>,
  ) {}

  async listen(): Promise<void> {
    ensureDirectory(dirname(this.path), 0o700, "the control socket");
    rmSync(this.path, { force: true });
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
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.path, { force: true });
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
      else if (err.code === "EACCES")
        reject(new Error(`${path}: permission denied (the control socket is root only)`));
      else reject(err);
    });
  });
}
