import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { escapeRegExp } from "../src/util/escape-regexp.js";
import { type CommandResult, runCommand, sipbanCommand } from "./helpers/command.js";
import { testTableName, writeTestConfig } from "./helpers/daemon-config.js";
import { failureLine } from "./helpers/log-lines.js";
import { createLab, type Lab, requireRootOrSkip } from "./helpers/netns.js";
import { tempDir } from "./helpers/temp-dir.js";

interface Cli {
  lab: Lab;
  dir: string;
  table: string;
  /** Runs sipban inside the pbx namespace (its firewall is the pbx's). */
  run(args: string[], env?: Record<string, string>): Promise<CommandResult>;
}

async function cli(t: TestContext, extra: string[] = []): Promise<Cli> {
  const lab = await createLab(t);
  const dir = tempDir(t, "sipban-cli-");
  const table = testTableName("sbc");
  const config = writeTestConfig(dir, ["policy:", "  maxretry: 3", ...extra], table);
  // Outside an SSH session unless the test says otherwise: the CLI guards the admin's address.
  const run = (args: string[], env: Record<string, string> = {}) =>
    runCommand(...sipbanCommand(config, args, lab.pbx.commandPrefix), {
      timeout: 20_000,
      env: { ...process.env, SSH_CONNECTION: "", SSH_CLIENT: "", ...env },
    });
  return { lab, dir, table, run };
}

/** `n` failure lines from `ip`, stamped now, for user 100. */
const failures = (ip: string, n: number): string => failureLine(ip, "100").repeat(n);

describe("ban, unban, bans, firewall and scan --ban against a real kernel", { concurrency: false }, () => {
  test("ban and unban an attacker by hand; the friend is never touched", async (t) => {
    if (!requireRootOrSkip(t, ["nft"])) return;
    const { lab, run } = await cli(t);
    assert.equal((await run(["firewall", "setup"])).code, 0);
    const banned = await run(["ban", lab.attacker.v4, "--for", "1h", "--reason", "test"]);
    assert.equal(banned.code, 0, banned.stderr);
    assert.match(banned.stdout, /banned 192\.0\.2\.\d+ for 1h/);
    await lab.attacker.sendUdp(lab.pbx.v4, 5060, "REGISTER banned");
    assert.equal(await lab.pbx.received("REGISTER banned", 1000), false);
    await lab.friend.sendUdp(lab.pbx.v4, 5060, "REGISTER friend");
    assert.ok(await lab.pbx.received("REGISTER friend"));
    const again = await run(["ban", lab.attacker.v4]);
    assert.match(again.stdout, /already banned/);
    const list = JSON.parse((await run(["bans", "--json"])).stdout);
    assert.equal(list.bans.length, 1);
    assert.equal(list.bans[0].inFirewall, true);
    assert.equal(list.bans[0].reason, "test");
    const listed = (await run(["bans"])).stdout;
    assert.match(listed, /ADDRESS\s+SINCE\s+UNTIL\s+IN FIREWALL\s+REASON/);
    assert.match(listed, new RegExp(`${escapeRegExp(lab.attacker.v4)}\\s.*\\syes\\s+test`));
    assert.equal((await run(["unban", lab.attacker.v4])).code, 0);
    await lab.attacker.sendUdp(lab.pbx.v4, 5060, "REGISTER unbanned");
    assert.ok(await lab.pbx.received("REGISTER unbanned"));
    assert.equal(JSON.parse((await run(["bans", "--json"])).stdout).bans.length, 0);
    assert.equal((await run(["bans"])).stdout.trim(), "No active bans.");
  });

  test("allowlisted addresses, the pbx's own and the admin's SSH address are refused with a non-zero exit", async (t) => {
    if (!requireRootOrSkip(t, ["nft"])) return;
    const { lab, run } = await cli(t, ["allowlist:", "  - 198.51.100.0/24"]);
    for (const ip of ["198.51.100.7", lab.pbx.v4, "127.0.0.1", lab.pbx.v6]) {
      const r = await run(["ban", ip]);
      assert.equal(r.code, 2, `${ip}: ${r.stdout}`);
      assert.match(r.stderr, /refusing to ban .*allowlisted/);
    }
    const ssh = await run(["ban", lab.friend.v4], {
      SSH_CONNECTION: `${lab.friend.v4} 50000 ${lab.pbx.v4} 22`,
    });
    assert.equal(ssh.code, 2);
    assert.match(ssh.stderr, /your SSH session/);
    const invalid = await run(["ban", "203.0.113.5; rm -rf /"]);
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /not an IPv4 or IPv6 address/);
  });

  test("firewall setup refuses to lock out the SSH client; teardown leaves nothing; setup restores the bans", async (t) => {
    if (!requireRootOrSkip(t, ["nft"])) return;
    const { lab, run, table } = await cli(t);
    assert.equal((await run(["ban", lab.attacker.v4])).code, 0);
    const refused = await run(["firewall", "setup"], {
      SSH_CONNECTION: `${lab.attacker.v4} 50000 ${lab.pbx.v4} 22`,
    });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /your SSH session comes from .* which is banned/);
    assert.equal((await run(["firewall", "teardown"])).code, 0);
    assert.doesNotMatch(await lab.pbx.exec("nft", ["list", "ruleset"]), new RegExp(table));
    const status = await run(["firewall", "status"]);
    assert.equal(status.code, 1);
    assert.match(status.stdout, /not set up/);
    const setup = await run(["firewall", "setup"]);
    assert.match(setup.stdout, /1 ban added/);
    await lab.attacker.sendUdp(lab.pbx.v4, 5060, "REGISTER after setup");
    assert.equal(await lab.pbx.received("REGISTER after setup", 1000), false);
  });

  test("scan --ban bans what the policy decides, and a second run on the same log changes nothing", async (t) => {
    if (!requireRootOrSkip(t, ["nft"])) return;
    const { lab, run, dir, table } = await cli(t);
    const log = join(dir, "messages.log");
    writeFileSync(log, failures(lab.attacker.v4, 4) + failures(lab.friend.v4, 2));
    const first = JSON.parse((await run(["scan", "--ban", "--json", log])).stdout);
    assert.deepEqual(first.banned.added, [lab.attacker.v4]);
    // The ban carries the evidence of the failure that decided it.
    const [ban] = JSON.parse((await run(["bans", "--json"])).stdout).bans;
    assert.equal(ban.reason, "3 failures within 10m");
    assert.equal(ban.evidence.failures, 3);
    assert.deepEqual(ban.evidence.reasons, ["Wrong password"]);
    assert.deepEqual(ban.evidence.users, ["100"]);
    assert.match(ban.evidence.sample, new RegExp(`failed for '${lab.attacker.v4}:5060' - Wrong password$`));
    const setBefore = await lab.pbx.exec("nft", ["-j", "list", "set", "inet", table, "v4"]);
    const second = JSON.parse((await run(["scan", "--ban", "--json", log])).stdout);
    assert.deepEqual(second.banned.added, []);
    assert.deepEqual(second.banned.skipped, [{ ip: lab.attacker.v4, why: "already banned" }]);
    const setAfter = await lab.pbx.exec("nft", ["-j", "list", "set", "inet", table, "v4"]);
    const elements = (text: string) =>
      JSON.stringify(JSON.parse(text).nftables.find((o: { set?: unknown }) => o.set).set.elem);
    assert.equal(elements(setAfter).split(lab.attacker.v4).length - 1, 1, "one kernel entry");
    // The kernel's remaining time only ever goes down: the ban was not extended.
    const expires = (text: string) => Number(/"expires":\s*(\d+)/.exec(text)?.[1]);
    assert.ok(expires(setAfter) <= expires(setBefore), `${expires(setAfter)} <= ${expires(setBefore)}`);
    await lab.attacker.sendUdp(lab.pbx.v4, 5060, "REGISTER scanned");
    assert.equal(await lab.pbx.received("REGISTER scanned", 1000), false);
    await lab.friend.sendUdp(lab.pbx.v4, 5060, "REGISTER friend");
    assert.ok(await lab.pbx.received("REGISTER friend"));
  });
});
