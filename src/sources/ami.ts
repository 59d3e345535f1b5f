import { randomBytes } from "node:crypto";
import { isIP, connect as netConnect, type Socket } from "node:net";
import { type ConnectionOptions, connect as tlsConnect } from "node:tls";
import type { FailureEvent } from "../detect/event.js";
import { DEFAULT_FAILURES, FAILURE_REASONS } from "../detect/security-events.js";
import { AmiGuard, type AmiGuardStats, emptyGuardStats } from "./ami-guard.js";
import { type AmiBlock, AmiFramer } from "./ami-protocol.js";

export type AmiState = "connecting" | "connected" | "logged-in" | "disconnected" | "auth-failed";

export interface AmiSourceOptions {
  host: string;
  port: number;
  username: string;
  /** Sent in the Login action only; never logged nor put in a state detail. */
  secret: string;
  /** TLS (manager.conf `[general] tlsenable`): true for the system's CAs, or Node's TLS options. */
  tls?: boolean | ConnectionOptions;
  onEvent(event: FailureEvent): void;
  /** Every change of the connection's state, with a sentence for the log. */
  onState?(state: AmiState, detail: string): void;
  /** Security event names reported as failures (default: DEFAULT_FAILURES). */
  events?: readonly string[];
  /** Weight per rule id (`ami-security-event`, `ami-injection`), as in the detect config. */
  weights?: Readonly<Record<string, number>>;
  /** Report a caught split as an instant ban. */
  banInjection?: boolean;
  /** First wait before reconnecting; doubles on each failure up to backoffMaxMs, jittered (defaults 1 s, 60 s). */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Time allowed from connecting to an accepted login (default 10 s). */
  loginTimeoutMs?: number;
  /** A Ping every so often; no answer by the next one drops the connection (default 30 s; 0 = none). */
  pingIntervalMs?: number;
  /** How far in the stream an attacker's text can reach from a cut (default 4096 bytes). */
  splitWindowBytes?: number;
  /** Quiet time after which held events are released (default 25 ms): Asterisk writes an event in one go. */
  settleMs?: number;
  /** For tests: the clock for events without a time stamp, and the jitter source. */
  now?: () => number;
  random?: () => number;
}

export interface AmiStats extends AmiGuardStats {
  /** Connections that reached a successful login. */
  logins: number;
  /** Logins the manager refused. */
  authFailures: number;
  /** Connections lost or dropped (any reason). */
  disconnects: number;
  bytesRead: number;
}

const DEFAULTS = {
  backoffMinMs: 1000,
  backoffMaxMs: 60_000,
  loginTimeoutMs: 10_000,
  pingIntervalMs: 30_000,
  splitWindowBytes: 4096,
  settleMs: 25,
};
const BANNER = "Asterisk Call Manager/";

/**
 * Follows Asterisk's security events over the manager interface (AMI): connects (TCP or TLS),
 * logs in with `Events: security`, turns failure events into FailureEvents through AmiGuard,
 * and reconnects with a jittered, doubling backoff whatever went wrong.
 */
export class AmiSource {
  private readonly options: Required<
    Pick<AmiSourceOptions, keyof typeof DEFAULTS | "now" | "random" | "onState">
  > &
    AmiSourceOptions;
  private readonly failures: ReadonlySet<string>;
  private readonly counters: AmiStats = {
    ...emptyGuardStats(),
    logins: 0,
    authFailures: 0,
    disconnects: 0,
    bytesRead: 0,
  };
  private current: AmiState = "disconnected";
  private socket: Socket | null = null;
  private framer = new AmiFramer();
  private guard: AmiGuard;
  private running = false;
  private attempt = 0;
  private loginId = "";
  private pingId: string | null = null;
  /** Why the current connection is being dropped, and the state to report. */
  private ending: { state: AmiState; detail: string } | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private loginTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private settleTimer: NodeJS.Timeout | null = null;
  private closed: Promise<void> = Promise.resolve();

  constructor(options: AmiSourceOptions) {
    for (const [what, value] of [
      ["username", options.username],
      ["secret", options.secret],
    ] as const) {
      if (/[\r\n]/.test(value) || value === "")
        throw new Error(`AMI ${what} must be non-empty and on one line (no CR or LF)`);
    }
    const unknown = (options.events ?? []).filter((e) => !Object.hasOwn(FAILURE_REASONS, e));
    if (unknown.length > 0)
      throw new Error(
        `not Asterisk security events that mean a failure: ${unknown.join(", ")}; ` +
          `choose from ${Object.keys(FAILURE_REASONS).join(", ")}`,
      );
    this.options = {
      ...options,
      backoffMinMs: options.backoffMinMs ?? DEFAULTS.backoffMinMs,
      backoffMaxMs: Math.max(options.backoffMaxMs ?? DEFAULTS.backoffMaxMs, options.backoffMinMs ?? 0),
      loginTimeoutMs: options.loginTimeoutMs ?? DEFAULTS.loginTimeoutMs,
      pingIntervalMs: options.pingIntervalMs ?? DEFAULTS.pingIntervalMs,
      splitWindowBytes: options.splitWindowBytes ?? DEFAULTS.splitWindowBytes,
      settleMs: options.settleMs ?? DEFAULTS.settleMs,
      now: options.now ?? Date.now,
      random: options.random ?? Math.random,
      onState: options.onState ?? (() => {}),
    };
    this.failures = new Set(options.events ?? DEFAULT_FAILURES);
    this.guard = this.newGuard();
  }

  get state(): AmiState {
    return this.current;
  }

  /** Counters for the daemon's status (a copy). */
  get stats(): AmiStats {
    return { ...this.counters };
  }

  /** Where it connects, for names in logs and status (`ami 127.0.0.1:5038`). */
  get name(): string {
    return `ami ${this.where()}`;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  /** Closes the connection for good; events still held are released if the stream ended cleanly. */
  async stop(): Promise<void> {
    this.running = false;
    for (const t of [this.retryTimer, this.loginTimer, this.settleTimer]) if (t) clearTimeout(t);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.retryTimer = this.loginTimer = this.settleTimer = this.pingTimer = null;
    this.endStream();
    this.socket?.destroy();
    await this.closed;
  }

  private newGuard(): AmiGuard {
    return new AmiGuard(
      {
        failures: this.failures,
        windowBytes: this.options.splitWindowBytes,
        weights: this.options.weights,
        banInjection: this.options.banInjection,
        now: this.options.now,
        emit: (e) => this.options.onEvent(e),
      },
      this.counters,
    );
  }

  private report(state: AmiState, detail: string): void {
    this.current = state;
    this.options.onState(state, detail);
  }

  private connect(): void {
    this.retryTimer = null;
    if (!this.running) return;
    const { host, port, tls } = this.options;
    this.framer = new AmiFramer();
    this.guard = this.newGuard();
    this.ending = null;
    this.pingId = null;
    this.report("connecting", `connecting to the Asterisk manager at ${this.where()}`);
    const socket = tls
      ? tlsConnect({
          ...(tls === true ? {} : tls),
          host,
          port,
          servername: (tls === true ? undefined : tls.servername) ?? (isIP(host) ? undefined : host),
        })
      : netConnect({ host, port });
    this.socket = socket;
    socket.setKeepAlive(true, 30_000);
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.once(tls ? "secureConnect" : "connect", () => {
      this.report("connected", `connected to ${this.where()}; waiting for the manager's banner`);
    });
    socket.on("data", (chunk: Buffer) => this.data(chunk));
    socket.on("error", (err: Error) => {
      this.ending ??= {
        state: "disconnected",
        detail: `connection to ${this.where()} failed: ${err.message}`,
      };
    });
    socket.on("close", () => this.onClose(socket));
    this.loginTimer = setTimeout(
      () =>
        this.drop(
          "disconnected",
          `no accepted login from ${this.where()} within ${this.options.loginTimeoutMs} ms`,
        ),
      this.options.loginTimeoutMs,
    );
  }

  private where(): string {
    const host = isIP(this.options.host) === 6 ? `[${this.options.host}]` : this.options.host;
    return `${host}:${this.options.port}${this.options.tls ? " (TLS)" : ""}`;
  }

  private data(chunk: Buffer): void {
    if (this.ending) return;
    this.counters.bytesRead += chunk.length;
    let framed: ReturnType<AmiFramer["push"]>;
    try {
      framed = this.framer.push(chunk);
    } catch (err) {
      this.drop("disconnected", `${this.where()} is no Asterisk manager: ${(err as Error).message}`);
      return;
    }
    if (framed.banner !== undefined) {
      if (!framed.banner.startsWith(BANNER)) {
        this.drop(
          "disconnected",
          `${this.where()} is no Asterisk manager (it said "${printable(framed.banner)}")`,
        );
        return;
      }
      this.login();
    }
    for (const block of framed.blocks) {
      if (this.ending) return;
      if (block.first === "response" && this.ownResponse(block)) continue;
      if (this.current !== "logged-in") {
        // Nothing but the answer to Login comes before it: the stream cannot be trusted.
        this.drop("disconnected", `unexpected data from ${this.where()} before the login was answered`);
        return;
      }
      this.guard.block(block);
    }
    if (this.guard.pending) this.armSettle();
  }

  private login(): void {
    this.loginId = `sipban-login-${randomBytes(8).toString("hex")}`;
    this.socket?.write(
      `Action: Login\r\nActionID: ${this.loginId}\r\nUsername: ${this.options.username}\r\n` +
        `Secret: ${this.options.secret}\r\nEvents: security\r\n\r\n`,
    );
  }

  /** Handles the answer to Login or Ping; false for any response sipban did not ask for. */
  private ownResponse(block: AmiBlock): boolean {
    const id = block.fields.get("actionid");
    if (id === undefined || block.repeated) return false;
    const response = (block.fields.get("response") ?? "").toLowerCase();
    if (id === this.loginId && this.current !== "logged-in") {
      this.loginId = "";
      if (this.loginTimer) clearTimeout(this.loginTimer);
      this.loginTimer = null;
      if (response !== "success") {
        this.counters.authFailures++;
        const message = printable(block.fields.get("message") ?? "no message");
        this.drop(
          "auth-failed",
          `the manager at ${this.where()} refused the login as "${this.options.username}": ${message}`,
        );
        return true;
      }
      this.attempt = 0;
      this.counters.logins++;
      this.report(
        "logged-in",
        `logged in to ${this.where()} as "${this.options.username}"; following security events`,
      );
      this.startPings();
      return true;
    }
    if (id === this.pingId) {
      this.pingId = null;
      return true;
    }
    return false;
  }

  private startPings(): void {
    const every = this.options.pingIntervalMs;
    if (every <= 0) return;
    this.pingTimer = setInterval(() => {
      if (this.pingId !== null) {
        this.drop("disconnected", `${this.where()} did not answer a Ping within ${every} ms`);
        return;
      }
      this.pingId = `sipban-ping-${randomBytes(8).toString("hex")}`;
      this.socket?.write(`Action: Ping\r\nActionID: ${this.pingId}\r\n\r\n`);
    }, every);
  }

  private armSettle(): void {
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => {
      this.settleTimer = null;
      // Part of a block is still on its way: the event it belongs to is not all here yet.
      if (this.framer.partial) this.armSettle();
      else this.guard.settle();
    }, this.options.settleMs);
  }

  /** Decides what is held when the stream ends: released after whole blocks, dropped mid-block. */
  private endStream(): void {
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = null;
    if (this.framer.partial) this.guard.abandon();
    else this.guard.settle();
  }

  private drop(state: AmiState, detail: string): void {
    this.ending ??= { state, detail };
    this.socket?.destroy();
  }

  private onClose(socket: Socket): void {
    if (socket !== this.socket) return;
    this.socket = null;
    for (const t of [this.loginTimer, this.settleTimer]) if (t) clearTimeout(t);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.loginTimer = this.settleTimer = this.pingTimer = null;
    if (!this.running) {
      this.report("disconnected", `disconnected from ${this.where()}`);
      return;
    }
    this.endStream();
    this.counters.disconnects++;
    const ending = this.ending ?? { state: "disconnected", detail: `${this.where()} closed the connection` };
    const delay = this.backoff();
    this.report(ending.state, `${ending.detail}; retrying in ${formatDelay(delay)}`);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** min·2^attempt capped at max, then jittered down by up to half so that peers spread out. */
  private backoff(): number {
    const { backoffMinMs, backoffMaxMs, random } = this.options;
    const full = Math.min(backoffMaxMs, backoffMinMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.max(1, Math.round(full * (0.5 + 0.5 * random())));
  }
}

/** Peer-written text for a log sentence: control characters shown as `?`, capped. */
function printable(text: string): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, "?");
  return clean.length > 120 ? `${clean.slice(0, 120)}…` : clean;
}

function formatDelay(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}
