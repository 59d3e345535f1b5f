// The firewall layer without a kernel: dry-run, reconcile's arithmetic, validation, error words.
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { configSchema } from "../src/config/schema.js";
import { createBackend, type FirewallConfig } from "../src/firewall/backend.js";
import { commandRunner } from "../src/firewall/command.js";
import { nftDuration } from "../src/firewall/nftables.js";
import { parsePorts } from "../src/firewall/ports.js";
import { reconcile } from "../src/firewall/reconcile.js";
import { hookLines, RawTable } from "../src/firewall/xtables.js";

function firewallConfig(firewall: object = {}): FirewallConfig {
  return configSchema.parse({ firewall }).firewall;
}

function dryRun() {
  const output = new PassThrough();
  let printed = "";
  output.on("data", (chunk: Buffer) => {
    printed += chunk.toString();
  });
  const fw = createBackend(firewallConfig({ backend: "dry-run" }), { output });
  return { fw, printed: () => printed };
}

describe("dry-run backend", () => {
  test("prints what it would do and lists what it holds", async () => {
    const { fw, printed } = dryRun();
    await fw.setup();
    const until = Date.now() + 60_000;
    await fw.add([
      { ip: "192.0.2.7", until },
      { ip: "2001:db8::7", until: 0 },
    ]);
    await fw.add([{ ip: "192.0.2.7", until: until + 60_000 }]);
    assert.deepEqual(await fw.list(), [
      { ip: "192.0.2.7", until },
      { ip: "2001:db8::7", until: 0 },
    ]);
    await fw.remove(["192.0.2.7", "192.0.2.8"]);
    assert.deepEqual(await fw.status(), {
      present: true,
      entries: 1,
      detail: "dry-run: nothing in the kernel is changed; 1 address would be banned",
    });
    await fw.teardown();
    assert.equal((await fw.status()).present, false);
    assert.equal(
      printed(),
      [
        'dry-run: would set up "sipban", dropping all traffic from banned addresses',
        `dry-run: would ban 192.0.2.7 until ${new Date(until).toISOString()}`,
        "dry-run: would ban 2001:db8::7 with no end",
        "dry-run: would lift the ban of 192.0.2.7",
        'dry-run: would remove everything of "sipban" from the firewall',
        "",
      ].join("\n"),
    );
  });

  test("forgets a ban when its time is over, as a kernel timeout would", async () => {
    const { fw } = dryRun();
    await fw.add([
      { ip: "192.0.2.1", until: Date.now() + 30 },
      { ip: "192.0.2.2", until: Date.now() - 1 },
    ]);
    assert.equal((await fw.list()).length, 1);
    await sleep(60);
    assert.deepEqual(await fw.list(), []);
  });

  test('describes scope "voip" with its ports', async () => {
    const output = new PassThrough();
    const fw = createBackend(firewallConfig({ backend: "dry-run", scope: "voip" }), { output });
    await fw.setup();
    assert.match(String(output.read()), /traffic to udp ports 5060-5061,4569 and tcp ports 5060-5061,5038/);
  });
});

describe("reconcile", () => {
  test("adds what is missing, lifts what is not desired, keeps the rest", async () => {
    const { fw } = dryRun();
    const now = Date.now();
    await fw.add([
      { ip: "192.0.2.1", until: now + 60_000 },
      { ip: "192.0.2.2", until: 0 },
    ]);
    const result = await reconcile(
      fw,
      [
        { ip: "192.0.2.2", until: now + 60_000 },
        { ip: "192.0.2.3", until: 0 },
        { ip: "192.0.2.3", until: now + 1000 },
        { ip: "2001:db8::3", until: now + 60_000 },
        { ip: "192.0.2.4", until: now - 1 },
      ],
      now,
    );
    assert.deepEqual(result, { added: 2, removed: 1, kept: 1 });
    assert.deepEqual((await fw.list()).map((entry) => entry.ip).sort(), [
      "192.0.2.2",
      "192.0.2.3",
      "2001:db8::3",
    ]);
    assert.equal((await fw.status()).present, true, "reconcile sets the backend up");
  });
});

describe("backend input checks", () => {
  for (const backend of ["nftables", "ipset", "iptables", "dry-run"] as const) {
    test(`${backend} refuses an address that is not normalized before running anything`, async () => {
      // Were a command run, it would fail with "not installed" instead.
      const fw = createBackend(firewallConfig({ backend }), {
        commandPrefix: ["/nonexistent/sipban-test"],
        output: new PassThrough(),
      });
      for (const text of [
        "::ffff:192.0.2.1",
        "2001:DB8::1",
        "192.0.2.1/32",
        "192.0.2.1 }; flush ruleset",
        "",
      ]) {
        await assert.rejects(fw.add([{ ip: text, until: 0 }]), /refusing to pass ".*" to the firewall/);
        await assert.rejects(fw.remove([text]), /not a normalized IP address/);
      }
    });
  }

  test("a port list that cannot be used is refused with the culprit named", () => {
    assert.throws(() => parsePorts([5060, "5070-5060"]), /"5070-5060" is not a port/);
    assert.throws(() => parsePorts(["0-10"]), /"0-10" is not a port/);
    assert.throws(() => parsePorts(["5060-99999"]), /"5060-99999"/);
    assert.deepEqual(parsePorts([4569, "5060-5061"]), [
      { from: 4569, to: 4569 },
      { from: 5060, to: 5061 },
    ]);
    assert.throws(
      () => createBackend(firewallConfig({ scope: "voip", ports: { udp: [], tcp: [] } })),
      /scope "voip" needs at least one port/,
    );
  });
});

describe("firewall tool errors", () => {
  const missingTools = { commandPrefix: ["env", "PATH=/nonexistent"] };

  test("a missing tool is named with the package that ships it", async () => {
    await assert.rejects(
      createBackend(firewallConfig({ backend: "nftables" }), missingTools).status(),
      /^CommandError: nft is not installed \(apt-get install nftables\)$/,
    );
    await assert.rejects(
      createBackend(firewallConfig({ backend: "ipset" }), missingTools).setup(),
      /ipset is not installed \(apt-get install ipset\)/,
    );
    await assert.rejects(
      createBackend(firewallConfig({ backend: "iptables" }), missingTools).list(),
      /iptables-save is not installed \(apt-get install iptables\)/,
    );
    await assert.rejects(commandRunner(["/nonexistent/ip"])("nft", []), /\/nonexistent\/ip is not installed/);
  });

  test("a failing tool is reported in one sentence: the command and the first thing it said", async () => {
    const run = commandRunner();
    const fail = (said: string) =>
      run(process.execPath, ["-e", `console.error(${JSON.stringify(said)}); process.exit(1)`]);
    await assert.rejects(
      fail("Error: Could not process rule: No such file or directory\nmore\n"),
      (err: Error) => {
        assert.match(err.message, / failed: Error: Could not process rule: No such file or directory$/);
        return true;
      },
    );
    await assert.rejects(
      fail("Error: Operation not permitted"),
      /\(sipban must run as root or with CAP_NET_ADMIN\)$/,
    );
  });

  test("a tool that hangs is stopped after the time limit", async () => {
    const hang = commandRunner([], 200)(process.execPath, ["-e", "setTimeout(() => {}, 10_000)"]);
    await assert.rejects(hang, /did not finish within 0.2 s and was stopped$/);
  });
});

describe("iptables jumps", () => {
  test('scope "voip" jumps per protocol, at most 15 ports per multiport rule, replacing older jumps', () => {
    const table = RawTable.parse(
      "*raw\n:PREROUTING ACCEPT [0:0]\n:sipban - [0:0]\n-A PREROUTING -j sipban\n-A PREROUTING -j other\nCOMMIT\n",
    );
    const udp = Array.from({ length: 16 }, (_, i) => ({ from: 6000 + i, to: 6000 + i }));
    const lines = hookLines(table, "sipban", { udp, tcp: [{ from: 5060, to: 5061 }] });
    assert.deepEqual(lines, [
      "-D PREROUTING -j sipban",
      "-I PREROUTING 1 -p tcp -m multiport --dports 5060:5061 -j sipban",
      "-I PREROUTING 1 -p udp -m multiport --dports 6015 -j sipban",
      `-I PREROUTING 1 -p udp -m multiport --dports ${udp
        .slice(0, 15)
        .map((p) => p.from)
        .join(",")} -j sipban`,
    ]);
  });
});

describe("nftables timeouts", () => {
  test("are written in units nft takes (none of 10^8 or more)", () => {
    assert.equal(nftDuration(1), "1ms");
    assert.equal(nftDuration(90_000), "1m30s");
    assert.equal(nftDuration(3_600_000), "1h");
    assert.equal(nftDuration(7 * 86_400_000), "7d");
    assert.equal(nftDuration(100_000_000), "1d3h46m40s");
    assert.equal(nftDuration(36_500 * 86_400_000 + 1), "36500d1ms");
    for (const ms of [1, 999, 1000, 59_999, 86_399_999, 86_400_001, 123_456_789_012]) {
      const match = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(nftDuration(ms));
      assert.ok(match, nftDuration(ms));
      const [d = 0, h = 0, m = 0, s = 0, rest = 0] = match.slice(1).map((x) => Number(x ?? 0));
      assert.equal(((d * 24 + h) * 60 + m) * 60_000 + s * 1000 + rest, ms);
      for (const n of [d, h, m, s, rest]) assert.ok(n < 1e8);
    }
  });
});
