import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import { BanManager } from "../bans/ban-manager.js";
import { loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import type { FailureEvent } from "../detect/event.js";
import { buildRules } from "../detect/ruleset.js";
import { createBackend, type FirewallBackend } from "../firewall/backend.js";
import { normalizeIp } from "../net/address.js";
import { Allowlist } from "../policy/allowlist.js";
import { BanPolicy, type Decision, policyConfig } from "../policy/policy.js";
import { AmiSource } from "../sources/ami.js";
import { FileFollower, type FollowPosition } from "../sources/file-follower.js";
import { JournaldSource } from "../sources/journald.js";
import { SourcePipeline } from "../sources/pipeline.js";
import { type BanRecord, StateStore } from "../store/state.js";
import { type ControlRequest, type ControlResponse, ControlServer } from "./control.js";

// Positions are written this long after they change (not on a clock: an idle daemon sleeps).
const SAVE_POSITIONS_AFTER_MS = 250;
// With inotify working, a file's stat check is only a safety net.
const FILE_CHECK_EVERY_MS = 5000;
const MAX_TIMER_MS = 2 ** 31 - 1;
// A longer line on stdin is dropped, as the file follower drops one longer than its buffer.
const MAX_STDIN_LINE = 1 << 20;

interface RunningSource {
  name: string;
  state: string;
  /** Line sources have a pipeline; the AMI source reports its own counters. */
  pipeline?: SourcePipeline;
  stats?: () => object;
  stop(): Promise<void> | void;
}

export interface DaemonOptions {
  /** The file the configuration came from, re-read on reload (SIGHUP). */
  configPath?: string;
  logger: Logger;
  /** Replaces the configured backend (tests run it inside a namespace). */
  backend?: FirewallBackend;
}

/**
 * `sipban watch`: follows the sources, counts failures, bans within milliseconds and keeps the
 * kernel in step with the recorded bans. Order of work for a ban: decide (policy), record
 * (SQLite, committed), apply (one kernel batch), log. On start the recorded bans are reconciled
 * with the kernel, adding what is missing and removing what is stale, never re-banning all.
 */
export class Daemon {
  private config: Config;
  private readonly log: Logger;
  private readonly store: StateStore;
  private readonly backend: FirewallBackend;
  private allowlist: Allowlist;
  private readonly manager: BanManager;
  private policy: BanPolicy;
  private sources: RunningSource[] = [];
  private control: ControlServer | null = null;
  private timers: NodeJS.Timeout[] = [];
  private pendingDecisions: Decision[] = [];
  /** Kernel work runs one piece at a time, in order. */
  private applying: Promise<void> = Promise.resolve();
  private draining: Promise<void> | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private positionTimer: NodeJS.Timeout | null = null;
  private positions = new Map<string, string>();
  private positionsDirty = false;
  private readonly startedAt = Date.now();
  private bansApplied = 0;
  private failuresSeen = 0;

  constructor(
    config: Config,
    private readonly options: DaemonOptions,
  ) {
    this.config = config;
    this.log = options.logger;
    this.store = new StateStore(config.state.path);
    this.backend = options.backend ?? createBackend(config.firewall);
    this.allowlist = new Allowlist(config.allowlist);
    this.manager = new BanManager(this.store, this.backend, this.allowlist);
    this.policy = this.newPolicy();
  }

  async start(): Promise<void> {
    try {
      await this.startParts();
    } catch (err) {
      // Whatever started is stopped, so that the process can end with the error.
      await this.stop().catch(() => {});
      throw err;
    }
  }

  private async startParts(): Promise<void> {
    const now = Date.now();
    // Before touching the firewall: a second daemon on the same socket stops here.
    this.control = new ControlServer(this.config.daemon.socket, (r) => this.handle(r));
    await this.control.claim();
    const result = await this.manager.reconcile(now);
    this.log.info({ ...result, backend: this.backend.name }, "firewall reconciled with the recorded bans");
    await this.control.listen();
    for (const source of this.config.sources) await this.startSource(source);
    this.timers.push(
      setInterval(() => void this.reconcile(), this.config.daemon.reconcileEvery),
      // Counters with no failure inside the window are dropped now and then, not per event.
      setInterval(() => this.policy.expire(Date.now()), Math.max(60_000, this.config.policy.findtime)),
    );
    this.scheduleExpiry();
    this.log.info(
      { sources: this.sources.map((s) => s.name), socket: this.config.daemon.socket },
      "sipban watching",
    );
  }

  /** Stops reading, finishes pending work, saves positions. Bans stay in the kernel. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const t of [this.expiryTimer, this.positionTimer]) if (t) clearTimeout(t);
    for (const s of this.sources) {
      await s.stop();
      s.pipeline?.flush();
    }
    await (this.draining ?? this.drain());
    await this.applying;
    this.savePositions();
    await this.control?.close();
    this.store.close();
    this.log.info("sipban stopped; bans stay in the firewall");
  }

  /** Re-reads the configuration; a broken one is reported and the running one kept. */
  reload(): void {
    if (!this.options.configPath) {
      this.log.warn("reload asked, but no configuration file was given");
      return;
    }
    let next: Config;
    try {
      next = loadConfig(this.options.configPath);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "new configuration refused; the running one stays");
      return;
    }
    // The detectors hold their rules and the state of split records: they are built once.
    if (
      JSON.stringify(next.sources) !== JSON.stringify(this.config.sources) ||
      JSON.stringify(next.firewall) !== JSON.stringify(this.config.firewall) ||
      JSON.stringify(next.detect) !== JSON.stringify(this.config.detect)
    ) {
      this.log.warn("sources, detection rules and firewall settings change only with a restart");
    }
    this.config = {
      ...next,
      sources: this.config.sources,
      detect: this.config.detect,
      firewall: this.config.firewall,
      state: this.config.state,
      daemon: this.config.daemon,
    };
    this.allowlist = new Allowlist(next.allowlist);
    this.manager.useAllowlist(this.allowlist);
    this.policy = this.newPolicy();
    this.log.info("configuration reloaded");
  }

  private newPolicy(): BanPolicy {
    const policy = new BanPolicy(policyConfig(this.config), this.allowlist, (ip, before) =>
      this.store.offences(ip, before),
    );
    const now = Date.now();
    for (const ban of this.store.activeBanEnds(now))
      policy.rememberBan(ban.ip, ban.until === 0 ? Number.MAX_SAFE_INTEGER : ban.until);
    return policy;
  }

  private pipeline(): SourcePipeline {
    return new SourcePipeline(
      {
        rules: buildRules(this.config.detect),
        weights: this.config.detect.weights,
        banInjection: this.config.detect.banInjection,
        dateformat: this.config.detect.dateformat,
      },
      (e) => this.onFailure(e),
    );
  }

  private async startSource(source: Config["sources"][number]): Promise<void> {
    if ("file" in source) {
      const key = `file:${source.file}`;
      const saved = this.store.position(key);
      const pipeline = this.pipeline();
      const entry: RunningSource = {
        name: source.file,
        state: "starting",
        pipeline,
        stop: () => follower.stop(),
      };
      const follower = new FileFollower({
        path: source.file,
        pollIntervalMs: FILE_CHECK_EVERY_MS,
        start: saved ? (JSON.parse(saved) as FollowPosition) : source.from,
        onData: (buf, end) => pipeline.data(buf, end),
        onPosition: (pos) => this.rememberPosition(key, JSON.stringify(pos)),
        onEvent: (kind, detail) => {
          entry.state = kind === "missing" ? "waiting for the file" : "following";
          this.log.info({ source: source.file, event: kind }, detail);
        },
        onError: (err) =>
          this.log.warn({ source: source.file, err: err.message }, "cannot read the log file; retrying"),
      });
      this.sources.push(entry);
      await follower.start();
      if (entry.state === "starting") entry.state = "following";
      return;
    }
    if ("journald" in source) {
      const { match, directory } = source.journald;
      // Another directory is another journal: its cursor is kept apart.
      const key = `journald:${directory === undefined ? "" : `${directory}:`}${match.join(",")}`;
      const pipeline = this.pipeline();
      const entry: RunningSource = {
        name: `journald ${source.journald.match.join(" ")}`.trim(),
        state: "following",
        pipeline,
        stop: () => journal.stop(),
      };
      const journal = new JournaldSource({
        match,
        directory,
        cursor: this.store.position(key),
        onEntry: (lines, cursor) => {
          pipeline.lines(lines);
          this.rememberPosition(key, cursor);
        },
        onExit: (code, stderr) => {
          if (this.timers.length === 0) return;
          entry.state = `journalctl exited (${code ?? stderr})`;
          this.log.error({ code, stderr }, "journalctl stopped; the journal is no longer followed");
        },
      });
      journal.start();
      this.sources.push(entry);
      return;
    }
    if ("ami" in source) {
      this.startAmi(source.ami);
      return;
    }
    this.startStdin();
  }

  /** Lines piped in. A chunk may end inside a line: that part waits for the rest. */
  private startStdin(): void {
    const pipeline = this.pipeline();
    const entry: RunningSource = {
      name: "stdin",
      state: "following",
      pipeline,
      stop: () => {
        process.stdin.off("data", onData);
        process.stdin.off("end", onEnd);
      },
    };
    let held = Buffer.alloc(0);
    // Inside a line longer than MAX_STDIN_LINE: dropping bytes up to its newline.
    let skipping = false;
    const onData = (chunk: Buffer) => {
      let buf = held.length > 0 ? Buffer.concat([held, chunk]) : chunk;
      if (skipping) {
        const nl = buf.indexOf(0x0a);
        pipeline.scanner.skip(nl === -1 ? buf.length : nl + 1);
        buf = buf.subarray(nl === -1 ? buf.length : nl + 1);
        skipping = nl === -1;
      }
      const end = buf.lastIndexOf(0x0a) + 1;
      if (end > 0) pipeline.data(buf, end);
      // A copy: the rest of a line, not the whole chunk, is kept.
      held = Buffer.from(buf.subarray(end));
      if (held.length > MAX_STDIN_LINE) {
        pipeline.scanner.skip(held.length);
        held = Buffer.alloc(0);
        skipping = true;
      }
    };
    const onEnd = () => {
      pipeline.scanner.scanLast(held, 0, held.length);
      pipeline.flush();
      entry.state = "ended";
    };
    process.stdin.on("data", onData);
    process.stdin.on("end", onEnd);
    this.sources.push(entry);
  }

  private startAmi(a: Extract<Config["sources"][number], { ami: unknown }>["ami"]): void {
    const entry: RunningSource = {
      name: "",
      state: "connecting",
      stop: () => ami.stop(),
      stats: () => ami.stats,
    };
    const ami = new AmiSource({
      host: a.host,
      port: a.port,
      username: a.username,
      secret: a.secret,
      tls:
        a.tls === false
          ? undefined
          : a.tls === true
            ? true
            : {
                ca: a.tls.ca ? readFileSync(a.tls.ca) : undefined,
                servername: a.tls.servername,
                rejectUnauthorized: a.tls.rejectUnauthorized,
              },
      events: a.events,
      weights: this.config.detect.weights,
      banInjection: this.config.detect.banInjection,
      onEvent: (e) => this.onFailure(e),
      onState: (state, detail) => {
        entry.state = state;
        const level = state === "auth-failed" ? "error" : state === "disconnected" ? "warn" : "info";
        this.log[level]({ source: entry.name, state }, detail);
      },
    });
    entry.name = ami.name;
    this.sources.push(entry);
    ami.start();
  }

  private rememberPosition(key: string, value: string): void {
    this.positions.set(key, value);
    this.positionsDirty = true;
    this.positionTimer ??= setTimeout(() => {
      this.positionTimer = null;
      this.savePositions();
    }, SAVE_POSITIONS_AFTER_MS);
  }

  private savePositions(): void {
    if (!this.positionsDirty) return;
    this.positionsDirty = false;
    for (const [key, value] of this.positions) this.store.setPosition(key, value);
  }

  private onFailure(event: FailureEvent): void {
    this.failuresSeen += event.attempts;
    const decision = this.policy.onFailure(event, event.time);
    if (!decision) return;
    this.pendingDecisions.push(decision);
    this.draining ??= this.drain();
  }

  /**
   * Applies pending decisions. Those made while reading one chunk, and those that pile up while
   * the kernel works on a batch, go in together as the next batch (one nft transaction).
   */
  private async drain(): Promise<void> {
    // Let the rest of the chunk being read add its decisions first.
    await Promise.resolve();
    while (this.pendingDecisions.length > 0) {
      const batch = this.pendingDecisions;
      this.pendingDecisions = [];
      await this.exclusive(() => this.apply(batch)).catch((err: Error) => {
        this.log.error(
          { err: err.message },
          "could not apply bans to the firewall; the next reconcile retries",
        );
      });
    }
    this.draining = null;
  }

  /** Runs kernel work after what is already queued; a failure does not stop what comes next. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.applying.then(work);
    this.applying = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Wakes up when the next ban ends (the kernel lifts nftables and ipset bans by itself too). */
  private scheduleExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    const next = this.store.nextExpiry();
    if (next === null) return;
    const delay = Math.min(Math.max(next - Date.now(), 0) + 10, MAX_TIMER_MS);
    this.expiryTimer = setTimeout(() => void this.expire(), delay);
  }

  private async apply(decisions: Decision[]): Promise<void> {
    const now = Date.now();
    // A ban runs its full length from now, even when the lines were read late (after a restart).
    const bans: BanRecord[] = decisions.map((d) => ({
      ip: d.ip,
      since: now,
      until: now + (d.until - d.at),
      reason: d.reason,
      origin: "policy",
      evidence: d.evidence,
    }));
    // Records before the kernel: a ban announced here is never lost.
    const { added } = await this.manager.apply(bans, now);
    this.savePositions();
    if (added.length > 0) this.scheduleExpiry();
    this.bansApplied += added.length;
    for (const ban of added) {
      this.log.warn(
        { ip: ban.ip, until: new Date(ban.until).toISOString(), reason: ban.reason, evidence: ban.evidence },
        "banned",
      );
    }
  }

  private async expire(): Promise<void> {
    try {
      const now = Date.now();
      const lifted = await this.exclusive(() => this.manager.expire(now));
      for (const ip of lifted) this.log.info({ ip }, "ban ended");
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "could not lift ended bans");
    }
    this.scheduleExpiry();
  }

  private async reconcile(): Promise<void> {
    try {
      // In line with applies: a ban recorded between reading the store and the kernel is no stray.
      const result = await this.exclusive(() => this.manager.reconcile(Date.now()));
      if (result.added > 0 || result.removed > 0)
        this.log.warn(result, "firewall repaired: it did not hold the recorded bans");
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "reconcile failed; retrying later");
    }
  }

  private async handle(request: ControlRequest): Promise<ControlResponse> {
    const now = Date.now();
    switch (request.cmd) {
      case "status":
        return {
          ok: true,
          pid: process.pid,
          uptimeMs: now - this.startedAt,
          backend: this.backend.name,
          sources: this.sources.map((s) => ({
            name: s.name,
            state: s.state,
            ...(s.pipeline
              ? { linesRead: s.pipeline.scanner.linesRead, ...s.pipeline.detector.stats }
              : s.stats?.()),
          })),
          activeBans: this.store.countActiveBans(now),
          bansApplied: this.bansApplied,
          failuresSeen: this.failuresSeen,
          tracked: this.policy.tracked,
          evicted: this.policy.evicted,
        };
      case "bans":
        return {
          ok: true,
          bans: this.store.activeBans(now),
          inFirewall: (await this.backend.list()).map((e) => e.ip),
        };
      case "ban": {
        const ip = normalizeIp(request.ip);
        if (ip === null) return { ok: false, error: `"${request.ip}" is not an IP address` };
        const ban: BanRecord = {
          ip,
          since: now,
          until: now + request.durationMs,
          reason: request.reason,
          origin: "manual",
        };
        const result = await this.exclusive(() => this.manager.apply([ban], now));
        if (result.added.length === 1) {
          this.scheduleExpiry();
          this.policy.rememberBan(ip, ban.until);
          this.log.warn(
            { ip, until: new Date(ban.until).toISOString(), reason: ban.reason },
            "banned by hand",
          );
          return { ok: true, banned: ban };
        }
        return {
          ok: true,
          skipped: result.skipped[0]?.why ?? "not banned",
          existing: this.store.activeBan(ip, now) ?? null,
        };
      }
      case "unban": {
        const ip = normalizeIp(request.ip);
        if (ip === null) return { ok: false, error: `"${request.ip}" is not an IP address` };
        const existed = await this.exclusive(() => this.manager.unban(ip));
        this.policy.forgetBan(ip);
        this.scheduleExpiry();
        this.log.warn({ ip }, "unbanned by hand");
        return { ok: true, existed };
      }
    }
  }
}
