/**
 * What protects an admin from a slip: a socket path that names a real file, a second daemon, a
 * ban that would last beyond any date, dry-run words in a JSON report. Dry-run firewall, no root.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import Database from "better-sqlite3";
import { ControlServer, controlRequest, lockName } from "../src/daemon/control.js";
import {
  type CommandResult,
  NOBODY,
  requireNobodyOrSkip,
  runCommand,
  sipbanCommand,
} from "./helpers/command.js";
import { cliFor, killAndWait, spawnWatch, writeTestConfig } from "./helpers/daemon-config.js";
import { failureLine } from "./helpers/log-lines.js";
import { tempDir } from "./helpers/temp-dir.js";
import { waitFor } from "./helpers/wait.js";

/** A dry-run configuration reading `messages.log` in `dir`; `socket` replaces the daemon's socket path. */
function setup(t: TestContext, socket?: string): { dir: string; config: string } {
  const dir = tempDir(t, "sipban-safety-");
  writeFileSync(join(dir, "messages.log"), failureLine("203.0.113.9", "100").repeat(2));
  const lines = ["sources:", `  - file: ${JSON.stringify(join(dir, "messages.log"))}`, "    from: start"];
  const config = writeTestConfig(dir, lines);
  if (socket !== undefined) {
    const text = readFileSync(config, "utf8").replace(
      / {2}socket: .*/,
      `  socket: ${JSON.stringify(socket)}`,
    );
    writeFileSync(config, text);
  }
  return { dir, config };
}

/** Runs sipban with `config` outside an SSH session (the CLI guards the admin's own address). */
function cli(config: string): (args: string[]) => Promise<CommandResult> {
  return (args) =>
    runCommand(...sipbanCommand(config, args), {
      env: { ...process.env, SSH_CONNECTION: "", SSH_CLIENT: "" },
    });
}

/** `sipban watch` run to its end (or killed after 10 s: a refusal must come long before). */
function watchOnce(config: string): Promise<CommandResult> {
  return runCommand(...sipbanCommand(config, ["watch"]), { timeout: 10_000 });
}

describe("the daemon's control socket", () => {
  it("refuses a socket path that names something else, and leaves it alone", async (t) => {
    const dir = tempDir(t, "sipban-safety-");
    const precious = join(dir, "sipban.yaml.bak");
    writeFileSync(precious, "precious\n");
    const { config } = setup(t, precious);
    const result = await watchOnce(config);
    assert.equal(result.code, 1, result.stderr);
    assert.equal(
      result.stderr,
      `sipban: daemon.socket: ${precious} exists and is not a socket; not replacing it\n`,
    );
    assert.equal(readFileSync(precious, "utf8"), "precious\n");
  });

  it("refuses a socket path too long for a unix socket", async (t) => {
    const dir = tempDir(t, "sipban-safety-");
    const long = join(dir, "x".repeat(120), "sipban.sock");
    const { config } = setup(t, long);
    const result = await watchOnce(config);
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /^sipban: daemon\.socket: .* is too long for a unix socket \(\d+ bytes; at most 107\)\n$/,
    );
    assert.equal(existsSync(long), false);
  });

  it("lets one daemon run on a socket: a second refuses, and the first keeps answering", async (t) => {
    // Registered before the directory's removal (after hooks run in order): the daemon goes first.
    let first: ChildProcess | undefined;
    t.after(() => (first ? killAndWait(first) : undefined));
    const { config } = setup(t);
    let output = "";
    first = spawnWatch(config, (text) => (output += text));
    const sipban = cliFor(config);
    await waitFor(
      "the first daemon",
      async () => (await sipban.status<{ running?: boolean }>()).running !== false,
    );
    const second = await watchOnce(config);
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, /^sipban: another sipban daemon is running \(socket .*\)\n$/);
    const status = await sipban.status<{ running?: boolean; pid?: number }>();
    assert.equal(status.pid, first.pid, output);
  });
});

describe("the daemon's lock on its socket path", () => {
  it("lets one of two daemons started at once beside a dead daemon's socket take the path", {
    skip: process.platform !== "linux" && "the lock is an abstract unix socket: Linux only",
  }, async (t) => {
    const dir = tempDir(t, "sipban-race-");
    const path = join(dir, "sipban.sock");
    // A dead daemon's socket: bound by a process killed before it could remove it.
    const bind = `require("node:net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`;
    await runCommand(process.execPath, ["-e", bind]);
    assert.ok(statSync(path).isSocket(), "the dead daemon's socket is there");
    // In one process the two claims interleave at every wait: each finds the dead socket.
    const servers = ["first", "second"].map(
      (name) => new ControlServer(path, async () => ({ ok: true as const, name })),
    );
    t.after(() => Promise.all(servers.map((s) => s.close())));
    const results = await Promise.allSettled(servers.map((s) => s.listen()));
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "rejected"],
    );
    assert.match(
      String((results[1] as PromiseRejectedResult).reason),
      /another sipban daemon is running \(socket .*\)/,
    );
    // The one that runs is the one that answers there.
    assert.deepEqual(await controlRequest(path, { cmd: "status" }), { ok: true, name: "first" });
    // Once it stops, the path is free again.
    await servers[0]!.close();
    const next = new ControlServer(path, async () => ({ ok: true as const, name: "next" }));
    t.after(() => next.close());
    await next.listen();
    assert.deepEqual(await controlRequest(path, { cmd: "status" }), { ok: true, name: "next" });
  });

  it("is not kept from starting by another user holding the lock's name", {
    skip: process.platform !== "linux" && "the lock is an abstract unix socket: Linux only",
  }, async (t) => {
    const path = join(tempDir(t, "sipban-squat-"), "sipban.sock");
    // Any user may bind an abstract name: here, one that no daemon answers behind.
    const squatter = createServer();
    await new Promise<void>((done) => squatter.listen(lockName(path), () => done()));
    t.after(() => new Promise<void>((done) => squatter.close(() => done())));
    const warned = new Promise<Error>((done) => process.once("warning", done));
    const server = new ControlServer(path, async () => ({ ok: true as const, name: "daemon" }), 300);
    t.after(() => server.close());
    await server.listen();
    assert.match((await warned).message, /is held by a process that is no sipban daemon answering there/);
    assert.deepEqual(await controlRequest(path, { cmd: "status" }), { ok: true, name: "daemon" });
  });
});

describe("a user who is not root", () => {
  it("is told that root's daemon is out of reach, not that none runs", async (t) => {
    if (!(await requireNobodyOrSkip(t, "to start a daemon another user may not reach"))) return;
    let daemon: ChildProcess | undefined;
    t.after(() => (daemon ? killAndWait(daemon) : undefined));
    const { dir, config } = setup(t);
    daemon = spawnWatch(config, () => {});
    const sipban = cliFor(config);
    await waitFor("the daemon", async () => (await sipban.status<{ running?: boolean }>()).running !== false);
    // The user may read the configuration, not the socket (root's, mode 0600).
    chmodSync(dir, 0o755);
    chmodSync(config, 0o644);
    const nobody = { ...NOBODY, env: { ...process.env, HOME: dir } };
    const status = await runCommand(...sipbanCommand(config, ["status"]), nobody);
    assert.equal(status.code, 1, status.stderr);
    assert.match(
      status.stderr,
      /: permission denied: only root may reach the daemon's control socket \(run sipban as root\)\n$/,
    );
    assert.equal(status.stdout, "");
  });
});

describe("a log source", () => {
  it("that is a named pipe is reported, and holds neither the daemon nor its stop", async (t) => {
    let daemon: ChildProcess | undefined;
    t.after(() => (daemon ? killAndWait(daemon) : undefined));
    const dir = tempDir(t, "sipban-safety-");
    const fifo = join(dir, "messages");
    execFileSync("mkfifo", [fifo]);
    const config = writeTestConfig(dir, ["sources:", `  - file: ${JSON.stringify(fifo)}`]);
    let output = "";
    daemon = spawnWatch(config, (text) => (output += text));
    await waitFor("the warning", async () =>
      output.includes(`${fifo}: is not a regular file; waiting for a log file there`),
    );
    const sipban = cliFor(config);
    await waitFor("the daemon", async () => (await sipban.status<{ running?: boolean }>()).running !== false);
    const exited = new Promise<number | null>((resolve) => daemon!.once("exit", (code) => resolve(code)));
    daemon.kill("SIGTERM");
    assert.equal(await exited, 0, output);
  });
});

describe("the state database", () => {
  it("is named when it is not a database, and left as it was", async (t) => {
    const { dir, config } = setup(t);
    const state = join(dir, "state.db");
    const text = "these are an admin's notes, not a database\n".repeat(20);
    writeFileSync(state, text);
    const run = cli(config);
    for (const args of [["bans"], ["ban", "203.0.113.67"], ["scan", "--ban", join(dir, "messages.log")]]) {
      const result = await run(args);
      assert.equal(result.code, 1, `${args.join(" ")}: ${result.stderr}`);
      assert.match(
        result.stderr,
        new RegExp(`^sipban: cannot open the state database ${state}: file is not a database\n$`, "m"),
      );
    }
    assert.equal(readFileSync(state, "utf8"), text);
  });
});

describe("durations", () => {
  it("refuses a ban longer than any date can end, and records nothing", async (t) => {
    const { config } = setup(t);
    const run = cli(config);
    const huge = await run(["ban", "203.0.113.67", "--for", "99999999999w"]);
    assert.equal(huge.code, 2);
    assert.equal(huge.stderr, 'sipban: --for: "99999999999w" is longer than 100 years\n');
    const none = await run(["ban", "203.0.113.67", "--for", "0s"]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /"0s" is no time at all/);
    const bans = await run(["bans", "--json"]);
    assert.equal(bans.code, 0, bans.stderr);
    assert.deepEqual(JSON.parse(bans.stdout).bans, []);
    const year = await run(["ban", "203.0.113.67", "--for", "52w"]);
    assert.equal(year.code, 0, year.stderr);
  });

  it("reads a ban an older version recorded past any date as lasting the longest duration", async (t) => {
    const { dir, config } = setup(t);
    const run = cli(config);
    assert.equal((await run(["ban", "203.0.113.67", "--for", "1h"])).code, 0);
    const db = new Database(join(dir, "state.db"));
    db.prepare("UPDATE bans SET until = ? WHERE ip = ?").run(6.048e19, "203.0.113.67");
    db.close();
    const bans = await run(["bans", "--json"]);
    assert.equal(bans.code, 0, bans.stderr);
    const [ban] = JSON.parse(bans.stdout).bans;
    assert.equal(Date.parse(ban.until) - Date.parse(ban.since), 100 * 365 * 86_400_000);
    const setup_ = await run(["firewall", "setup"]);
    assert.equal(setup_.code, 0, setup_.stderr);
  });

  it("refuses such a duration in the configuration, naming its line", async (t) => {
    const dir = tempDir(t, "sipban-safety-");
    const config = join(dir, "sipban.yaml");
    writeFileSync(config, "policy:\n  bantime: 1h\n  maxbantime: 99999999999w\n");
    const result = await runCommand(...sipbanCommand(config, ["check-config"]));
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      `sipban: ${config}:3: policy.maxbantime: "99999999999w" is longer than 100 years\n`,
    );
  });
});

describe("dry-run", () => {
  it("says what it would do on stderr: `scan --ban --json` prints JSON alone", async (t) => {
    const { dir, config } = setup(t);
    const log = join(dir, "now.log");
    writeFileSync(log, failureLine("203.0.113.9", "100").repeat(6));
    const result = await cli(config)(["scan", "--ban", "--json", log]);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.deepEqual(report.banned.added, ["203.0.113.9"]);
    assert.match(result.stderr, /dry-run: would ban 203\.0\.113\.9 until /);
  });

  it("has its firewall status say that it looks at no kernel, not that the firewall is not set up", async (t) => {
    const { config } = setup(t);
    const run = cli(config);
    assert.equal((await run(["ban", "203.0.113.9"])).code, 0);
    const status = await run(["firewall", "status"]);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(
      status.stdout,
      "dry-run: nothing in the kernel is changed or looked at; 1 active ban recorded\n",
    );
  });
});

describe("scan --ban from cron", () => {
  it("does not bring back a ban lifted by hand, on the same failures, but bans on new ones", async (t) => {
    const { dir, config } = setup(t);
    const log = join(dir, "now.log");
    const start = Date.now();
    const old = failureLine("203.0.113.9", "100", start).repeat(6);
    writeFileSync(log, old);
    const run = cli(config);
    const banned = async () =>
      JSON.parse((await run(["bans", "--json"])).stdout).bans.map((b: { ip: string }) => b.ip);
    const first = await run(["scan", "--ban", "--json", log]);
    assert.deepEqual(JSON.parse(first.stdout).banned.added, ["203.0.113.9"]);
    assert.equal((await run(["unban", "203.0.113.9"])).code, 0);
    const again = await run(["scan", "--ban", log]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^1 ban was applied before and lifted since: not applied again\.$/m);
    assert.deepEqual(await banned(), []);
    // New failures after the lifted ban would have ended (1h) are new evidence, decided as a
    // second ban would be on the first run: the earlier run's record of the first ban must not
    // make the replay believe the first ban lasted longer (escalated).
    writeFileSync(log, old + failureLine("203.0.113.9", "100", start + 61 * 60_000).repeat(6));
    const third = await run(["scan", "--ban", "--json", log]);
    assert.equal(third.code, 0, third.stderr);
    assert.deepEqual(JSON.parse(third.stdout).banned.added, ["203.0.113.9"]);
    assert.deepEqual(await banned(), ["203.0.113.9"]);
  });
});
