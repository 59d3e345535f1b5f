import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import {
  appendFileSync,
  closeSync,
  copyFileSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { cliFor, killAndWait, spawnWatch, testTableName, writeTestConfig } from "./helpers/daemon-config.js";
import { failureLine as failure } from "./helpers/log-lines.js";
import { createLab, type Lab, requireRootOrSkip } from "./helpers/netns.js";
import { tempDir } from "./helpers/temp-dir.js";
import { waitFor } from "./helpers/wait.js";

interface Ban {
  ip: string;
  evidence: { failures: number; sample?: string } | null;
}

interface Setup {
  lab: Lab;
  dir: string;
  log: string;
  config: string;
  table: string;
  start(): ChildProcess;
  /** What the daemons started so far logged. */
  output(): string;
  /** The bans listed, as the test's configuration (or another file) lists them. */
  bans(configFile?: string): Promise<Ban[]>;
  status(): Promise<Record<string, unknown> & { running?: boolean }>;
  kernelSet(): Promise<string>;
}

async function setup(t: TestContext, policy = "maxretry: 3"): Promise<Setup> {
  // Hooks run in the order added: the daemons are gone before their namespaces and files are.
  const children: ChildProcess[] = [];
  t.after(() => Promise.all(children.map(killAndWait)));
  const lab = await createLab(t);
  const dir = tempDir(t, "sipban-watch-");
  const log = join(dir, "messages.log");
  const table = testTableName("sbw");
  const config = writeTestConfig(
    dir,
    ["sources:", `  - file: ${log}`, "    from: start", "policy:", `  ${policy}`, "  findtime: 10m"],
    table,
  );
  let output = "";
  const sipban = cliFor(config);
  return {
    lab,
    dir,
    log,
    config,
    table,
    // The daemon runs inside the pbx namespace: its firewall is the pbx's.
    start() {
      const child = spawnWatch(config, (text) => (output += text), { prefix: lab.pbx.commandPrefix });
      children.push(child);
      return child;
    },
    output: () => output,
    bans: (configFile) => sipban.bans<Ban>(configFile),
    status: () => sipban.status<Record<string, unknown>>(),
    kernelSet: () => lab.pbx.exec("nft", ["list", "set", "inet", table, "v4"]),
  };
}

const running = async (s: Setup) => (await s.status()).running !== false;

describe("sipban watch with a real kernel", { concurrency: false }, () => {
  test("bans from appended lines, drops the attacker and not the friend", async (t) => {
    if (!requireRootOrSkip(t, ["nft"])) return;
    const s = await setup(t);
    s.start();
    await waitFor("the daemon", () => running(s));
    const { attacker, friend, pbx } = s.lab;
    await attacker.sendUdp(pbx.v4, 5060, "REGISTER before");
    assert.ok(await pbx.received("REGISTER before"), "the attacker gets through before the ban");
    const started = Date.now();
    appendFileSync(s.log, failure(attacker.v4).repeat(3));
    const bans = await waitFor("the ban", async () => {
      const b = await s.bans();
      return b.length > 0 ? b : undefined;
    });
    const elapsed = Date.now() - started;
    assert.equal(bans.length, 1);
    assert.equal(bans[0]!.ip, attacker.v4);
    assert.equal(bans[0]!.evidence?.failures, 3);
    assert.match(bans[0]!.evidence?.sample ?? "", /chan_sip\.c: Registration from .* - Wrong password$/);
    assert.match(await s.kernelSet(), new RegExp(attacker.v4.replaceAll(".", "\\.")));
    await attacker.sendUdp(pbx.v4, 5060, "REGISTER after");
    assert.equal(await pbx.received("REGISTER after", 1000), false, "the attacker's packets are dropped");
    await friend.sendUdp(pbx.v4, 5060, "REGISTER friend");
    assert.ok(await pbx.received("REGISTER friend"), "the friend's packets still arrive");
    t.diagnostic(`line appended to ban listed: ${elapsed} ms`);
  });

  test("rotation by rename and by copytruncate mid-attack: every failure counted once", async (t) => {
    if (!requireRootOrSkip(t, ["nft"])) return;
    const s = await setup(t, "maxretry: 1000");
    s.start();
    await waitFor("the daemon", () => running(s));
    const failuresSeen = async () => Number((await s.status()).failuresSeen);
    const ip = "198.51.100.77";
    // The writer keeps its descriptor across the rename, as Asterisk does until it reopens.
    const fd = openSync(s.log, "a");
    for (let i = 0; i < 10; i++) writeSync(fd, failure(ip));
    await waitFor("10 failures", async () => (await failuresSeen()) === 10);
    renameSync(s.log, `${s.log}.1`);
    for (let i = 0; i < 5; i++) writeSync(fd, failure(ip));
    closeSync(fd);
    writeFileSync(s.log, failure(ip).repeat(7));
    await waitFor("22 failures after the rename", async () => (await failuresSeen()) === 22);
    // copytruncate: copy away, truncate in place, go on writing.
    writeFileSync(s.log, "");
    appendFileSync(s.log, failure(ip).repeat(4));
    await waitFor("26 failures after the truncation", async () => (await failuresSeen()) === 26);
    await sleep(500);
    assert.equal(await failuresSeen(), 26, "nothing counted twice");
  });

  test("kill -9 during a flood: every recorded ban is in the kernel once, and lines written while down are read", async (t) => {
    if (!requireRootOrSkip(t, ["nft"])) return;
    const s = await setup(t);
    const first = s.start();
    await waitFor("the daemon", () => running(s));
    const ips = Array.from({ length: 60 }, (_, i) => `198.51.100.${i + 100}`);
    for (const ip of ips.slice(0, 40)) appendFileSync(s.log, failure(ip).repeat(3));
    await waitFor("some bans", async () => (await s.bans()).length >= 10);
    first.kill("SIGKILL");
    await new Promise((r) => first.once("exit", r));
    // Written while the daemon is down.
    for (const ip of ips.slice(40)) appendFileSync(s.log, failure(ip).repeat(3));
    s.start();
    await waitFor("all 60 bans", async () => (await s.bans()).length === 60, 10_000);
    const bans = await s.bans();
    assert.equal(new Set(bans.map((b) => b.ip)).size, 60, "each address banned once in the database");
    const set = await s.kernelSet();
    for (const ip of ips) {
      const count = set.split(/[\s,{}]+/).filter((w) => w === ip).length;
      assert.equal(count, 1, `${ip} once in the kernel set`);
    }
  });

  test("SIGHUP with a broken configuration keeps the old one running", async (t) => {
    if (!requireRootOrSkip(t, ["nft", "pkill"])) return;
    const s = await setup(t);
    const child = s.start();
    await waitFor("the daemon", () => running(s));
    const good = join(s.dir, "good.yaml");
    copyFileSync(s.config, good);
    writeFileSync(s.config, readFileSync(s.config, "utf8").replace("maxretry: 3", "maxretry: many"));
    // SIGHUP goes to the node process inside `ip netns exec`.
    await s.lab.pbx.exec("pkill", ["-HUP", "-f", `${s.config} watch`]);
    await waitFor("the refusal in the log", () => s.output().includes("new configuration refused"));
    assert.match(s.output(), /sipban\.yaml:\d+: policy\.maxretry: /);
    assert.equal(child.exitCode, null, "still running");
    appendFileSync(s.log, failure("198.51.100.201").repeat(3));
    await waitFor("a ban under the old configuration", async () =>
      (await s.bans(good)).some((b) => b.ip === "198.51.100.201"),
    );
  });

  test("a log file that appears only after start is followed", async (t) => {
    if (!requireRootOrSkip(t, ["nft"])) return;
    const s = await setup(t);
    s.start();
    await waitFor("the daemon", () => running(s));
    await sleep(200);
    writeFileSync(s.log, failure("198.51.100.202").repeat(3));
    await waitFor("the ban", async () => (await s.bans()).some((b) => b.ip === "198.51.100.202"));
  });

  test("an external flush is repaired by the periodic reconcile", async (t) => {
    if (!requireRootOrSkip(t, ["nft"])) return;
    const s = await setup(t);
    s.start();
    await waitFor("the daemon", () => running(s));
    appendFileSync(s.log, failure("198.51.100.203").repeat(3));
    await waitFor("the ban", async () => (await s.bans()).length === 1);
    await s.lab.pbx.exec("nft", ["flush", "ruleset"]);
    await waitFor(
      "the ban back in the kernel",
      async () => (await s.kernelSet().catch(() => "")).includes("198.51.100.203"),
      5000,
    );
  });
});
