/**
 * End to end with a real Kamailio (Debian packages kamailio, sip-tester, nftables, iproute2).
 *
 * In the lab's pbx namespace Kamailio runs as a registrar with digest authentication
 * (test/fixtures/kamailio/kamailio.cfg: every user's password is "secret123", no database), in the
 * foreground with its log on stderr, which goes to the file `sipban watch` follows; sipban's
 * nftables table is in the same namespace. From the attacker namespace sipp registers with wrong
 * passwords, from the friend namespace with the right one.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type CommandResult, runCommand } from "./helpers/command.js";
import { cliFor, spawnWatch, testTableName, writeTestConfig } from "./helpers/daemon-config.js";
import { createLab, type Host, requireRootOrSkip } from "./helpers/netns.js";
import { waitFor } from "./helpers/wait.js";

const fixtures = join(import.meta.dirname, "..", "..", "test", "fixtures", "kamailio");

// The lab's echo agent holds UDP 5060 and 5070 on the pbx.
const SIP_PORT = 5080;
const MAXRETRY = 3;

interface SippResult extends CommandResult {
  successful: number;
  failed: number;
}

/** The last value of a counter's cumulative column on sipp's statistics screen. */
function counter(stdout: string, name: string): number {
  const all = [...stdout.matchAll(new RegExp(`${name}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`, "g"))];
  return all.length > 0 ? Number(all.at(-1)![1]) : Number.NaN;
}

/**
 * `calls` REGISTER exchanges from `from` to Kamailio, one after the other, each one call of
 * `scenario` with the next line of `csv`. A reply missing for 2 s fails the call; sipp stops after
 * 10 s whatever happens, and is killed after 15.
 */
async function sipp(
  from: Host,
  to: string,
  scenario: "register-ok" | "register-wrong",
  csv: "friend" | "attacker",
  calls: number,
  cwd: string,
): Promise<SippResult> {
  const args = [
    `${to}:${SIP_PORT}`,
    ...["-sf", join(fixtures, `${scenario}.xml`), "-inf", join(fixtures, `${csv}.csv`)],
    ...["-i", from.v4, "-m", String(calls), "-r", "10", "-l", "1"],
    ...["-recv_timeout", "2000", "-timeout", "10s", "-timeout_error", "-nd", "-nostdin"],
  ];
  const result = await runCommand("ip", ["netns", "exec", from.ns, "sipp", ...args], {
    timeout: 15_000,
    cwd,
  });
  return {
    ...result,
    successful: counter(result.stdout, "Successful call"),
    failed: counter(result.stdout, "Failed call"),
  };
}

const describeRun = (r: SippResult) =>
  `sipp exit ${r.code}, ${r.successful} successful, ${r.failed} failed\n${r.stdout.slice(-1500)}\n${r.stderr}`;

/** Stops a process group: SIGTERM, then SIGKILL after `graceMs` (for the group's stragglers too). */
async function stopGroup(child: ChildProcess, graceMs = 2000): Promise<void> {
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {}
  };
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once("exit", r));
    kill("SIGTERM");
    await Promise.race([exited, sleep(graceMs)]);
  }
  kill("SIGKILL");
}

interface Ban {
  ip: string;
  evidence: { failures: number; reasons: string[]; users: string[]; services: string[] } | null;
}

async function setup(t: TestContext) {
  const lab = await createLab();
  const dir = mkdtempSync(join(tmpdir(), "sipban-kamailio-"));
  const log = join(dir, "kamailio.log");
  const table = testTableName("sbk");
  const config = writeTestConfig(
    dir,
    [
      "sources:",
      `  - file: ${log}`,
      "    from: start",
      "policy:",
      `  maxretry: ${MAXRETRY}`,
      "  findtime: 10m",
    ],
    table,
  );
  const groups: ChildProcess[] = [];
  let output = "";
  // The processes first, then their namespaces.
  t.after(async () => {
    await Promise.all(groups.map((c) => stopGroup(c)));
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const { pbx } = lab;
  const kamailioLog = () => {
    try {
      return readFileSync(log, "utf8");
    } catch {
      return "";
    }
  };

  /** Kamailio in the foreground (-DD), logging to stderr (-E), stderr appended to the log file. */
  async function startKamailio(): Promise<ChildProcess> {
    const fd = openSync(log, "a");
    const args = ["-f", join(fixtures, "kamailio.cfg"), "-l", `udp:${pbx.v4}:${SIP_PORT}`, "-DD", "-E"];
    const child = spawn("ip", ["netns", "exec", pbx.ns, "kamailio", ...args, "-Y", dir, "-w", dir], {
      stdio: ["ignore", "pipe", fd],
      // Its own process group: the workers are stopped with it.
      detached: true,
    });
    closeSync(fd);
    groups.push(child);
    let stdout = "";
    child.stdout!.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    const explain = () => `\nkamailio (exit ${child.exitCode}) said:\n${stdout}\n${kamailioLog()}`;
    await waitFor(
      () => `Kamailio listening on ${pbx.v4}:${SIP_PORT}${explain()}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`kamailio exited${explain()}`);
        return (await pbx.exec("ss", ["-Hnlu", "src", `${pbx.v4}:${SIP_PORT}`])).trim() !== "";
      },
      10_000,
    );
    return child;
  }

  /** `sipban watch` inside the pbx namespace: its firewall is the pbx's. */
  function startSipban(): ChildProcess {
    const child = spawnWatch(config, (text) => (output += text), {
      prefix: pbx.commandPrefix,
      detached: true,
    });
    groups.push(child);
    return child;
  }

  const sipban = cliFor(config);

  return {
    lab,
    dir,
    log,
    table,
    kamailioLog,
    startKamailio,
    startSipban,
    output: () => output,
    bans: () => sipban.bans<Ban>(),
    status: () => sipban.status<Record<string, unknown>>(),
    kernelSet: () => pbx.exec("nft", ["list", "set", "inet", table, "v4"]),
  };
}

/** Lines of the log Kamailio wrote for requests from `ip` (every request it saw) and for its failures. */
function linesFrom(log: string, ip: string) {
  const lines = log.split("\n");
  return {
    requests: lines.filter((l) => l.includes(`sipban-test request src=${ip} `)).length,
    failures: lines.filter((l) => l.includes(`sipban-auth-failure src=${ip} `)),
  };
}

describe("Kamailio registrar with sipban watch", { concurrency: false }, () => {
  test("wrong passwords get the attacker banned after maxretry; the friend still registers", async (t) => {
    if (!requireRootOrSkip(t, ["nft", "ss", "kamailio", "sipp"])) return;
    const s = await setup(t);
    const { attacker, friend, pbx } = s.lab;
    const started = Date.now();
    await s.startKamailio();
    s.startSipban();
    const withLogs = (what: string) => () =>
      `${what}\nsipban said:\n${s.output()}\nkamailio log:\n${s.kamailioLog()}`;
    await waitFor(withLogs("the daemon"), async () => (await s.status()).running !== false, 10_000);
    const failuresSeen = async () => Number((await s.status()).failuresSeen);

    const friendBefore = await sipp(friend, pbx.v4, "register-ok", "friend", 1, s.dir);
    assert.equal(friendBefore.code, 0, `the friend registers: ${describeRun(friendBefore)}`);
    assert.equal(friendBefore.successful, 1);

    // One short of maxretry: each exchange ends with Kamailio's second 401, and is not enough.
    const early = await sipp(attacker, pbx.v4, "register-wrong", "attacker", MAXRETRY - 1, s.dir);
    assert.equal(early.code, 0, `the attacker's first attempts are answered: ${describeRun(early)}`);
    assert.equal(early.successful, MAXRETRY - 1);
    await waitFor(
      withLogs(`${MAXRETRY - 1} failures read`),
      async () => (await failuresSeen()) === MAXRETRY - 1,
    );
    assert.deepEqual(await s.bans(), [], "no ban before maxretry");

    const last = await sipp(attacker, pbx.v4, "register-wrong", "attacker", 1, s.dir);
    assert.equal(last.code, 0, `the attempt that reaches maxretry is answered: ${describeRun(last)}`);
    const bans = await waitFor(withLogs("the attacker's ban"), async () => {
      const b = await s.bans();
      return b.length > 0 ? b : undefined;
    });
    assert.equal(bans.length, 1, JSON.stringify(bans));
    const ban = bans[0]!;
    assert.equal(ban.ip, attacker.v4);
    assert.ok(ban.evidence, "the ban has its evidence");
    assert.equal(ban.evidence.failures, MAXRETRY);
    assert.ok(ban.evidence.reasons.length > 0, JSON.stringify(ban.evidence));
    // The user name is logged hex-encoded; evidence that shows users shows them decoded.
    assert.deepEqual(ban.evidence.users, ["1001"], JSON.stringify(ban.evidence));
    assert.match(await s.kernelSet(), new RegExp(`\\b${attacker.v4.replaceAll(".", "\\.")}\\b`));

    // Banned: further REGISTERs get no answer and never reach Kamailio.
    const seenBefore = linesFrom(s.kamailioLog(), attacker.v4).requests;
    const after = await sipp(attacker, pbx.v4, "register-wrong", "attacker", 1, s.dir);
    assert.notEqual(after.code, 0, `the banned attacker gets no answer: ${describeRun(after)}`);
    assert.equal(after.successful, 0);
    assert.equal(after.failed, 1);
    assert.equal(linesFrom(s.kamailioLog(), attacker.v4).requests, seenBefore, "nothing reached Kamailio");

    const friendAfter = await sipp(friend, pbx.v4, "register-ok", "friend", 1, s.dir);
    assert.equal(friendAfter.code, 0, `the friend still registers: ${describeRun(friendAfter)}`);
    assert.equal(friendAfter.successful, 1);

    const log = s.kamailioLog();
    const attackerLines = linesFrom(log, attacker.v4).failures;
    assert.equal(attackerLines.length, MAXRETRY, "one failure line per wrong password");
    assert.deepEqual(linesFrom(log, friend.v4).failures, [], "the friend's digest exchanges are no failures");
    assert.deepEqual(
      (await s.bans()).map((b) => b.ip),
      [attacker.v4],
      "only the attacker is banned",
    );
    for (const line of attackerLines.slice(0, 2)) t.diagnostic(`kamailio: ${line}`);
    t.diagnostic(`whole test: ${Date.now() - started} ms`);
  });
});
