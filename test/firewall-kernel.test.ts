// Each firewall backend against a real kernel, inside throwaway network namespaces: packets from
// an "attacker" and a "friend" to a "pbx" whose firewall the backend drives. Needs root (CI runs
// it as root with SIPBAN_REQUIRE_ROOT_TESTS=1); elsewhere it skips, saying why.
import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { configSchema } from "../src/config/schema.js";
import { createBackend, type FirewallBackend } from "../src/firewall/backend.js";
import { reconcile } from "../src/firewall/reconcile.js";
import { createLab, type Host, type Lab, requireRootOrSkip } from "./helpers/netns.js";

/** How long a packet that should be dropped is given to show up anyway. */
const BLOCKED_WAIT_MS = 400;
const MINUTE = 60_000;

interface Kind {
  backend: "nftables" | "ipset" | "iptables";
  tools: string[];
  /** The kernel lifts bans on time (not so for plain iptables rules). */
  timeouts: boolean;
  /** What the backend's own tool shows of the kernel's bans. */
  show(pbx: Host): Promise<string>;
  /** Removes sipban's bans the way an admin might, by flushing or deleting. */
  wipe(pbx: Host): Promise<unknown>;
  /** Gives the pbx a firewall of its own whose first rule accepts established traffic. */
  acceptEstablished(pbx: Host): Promise<unknown>;
}

const XTABLES = [
  "iptables",
  "ip6tables",
  "iptables-save",
  "ip6tables-save",
  "iptables-restore",
  "ip6tables-restore",
];

const iptablesAcceptEstablished = async (pbx: Host) => {
  for (const tool of ["iptables", "ip6tables"]) {
    await pbx.exec(tool, [
      "-A",
      "INPUT",
      "-m",
      "conntrack",
      "--ctstate",
      "ESTABLISHED,RELATED",
      "-j",
      "ACCEPT",
    ]);
  }
};

const KINDS: Kind[] = [
  {
    backend: "nftables",
    tools: ["nft"],
    timeouts: true,
    show: (pbx) => pbx.exec("nft", ["list", "ruleset"]),
    wipe: (pbx) => pbx.exec("nft", ["flush", "ruleset"]),
    acceptEstablished: (pbx) =>
      pbx.exec(
        "nft",
        ["-f", "-"],
        "table inet filter {\n  chain input {\n    type filter hook input priority filter; policy accept;\n" +
          "    ct state established,related accept\n  }\n}\n",
      ),
  },
  {
    backend: "ipset",
    tools: ["ipset", ...XTABLES],
    timeouts: true,
    show: (pbx) => pbx.exec("ipset", ["list"]),
    wipe: async (pbx) => {
      for (const tool of ["iptables", "ip6tables"]) await pbx.exec(tool, ["-t", "raw", "-F"]);
      for (const set of ["sipban-v4", "sipban-v6"]) await pbx.exec("ipset", ["destroy", set]);
    },
    acceptEstablished: iptablesAcceptEstablished,
  },
  {
    backend: "iptables",
    tools: XTABLES,
    timeouts: false,
    show: async (pbx) => `${await pbx.exec("iptables-save")}${await pbx.exec("ip6tables-save")}`,
    wipe: async (pbx) => {
      for (const tool of ["iptables", "ip6tables"]) await pbx.exec(tool, ["-t", "raw", "-F"]);
    },
    acceptEstablished: iptablesAcceptEstablished,
  },
];

interface Setup {
  lab: Lab;
  fw: FirewallBackend;
}

/** A lab with the backend set up in the pbx namespace, or null when the test was skipped. */
async function start(t: TestContext, kind: Kind, scope: "all" | "voip" = "all"): Promise<Setup | null> {
  if (!requireRootOrSkip(t, kind.tools)) return null;
  const lab = await createLab(t);
  const config = configSchema.parse({ firewall: { backend: kind.backend, scope } }).firewall;
  const fw = createBackend(config, { commandPrefix: lab.pbx.commandPrefix });
  await fw.setup();
  return { lab, fw };
}

const ip = (host: Host, family: 4 | 6) => (family === 4 ? host.v4 : host.v6);

let probes = 0;

/** Sends a fresh REGISTER from `from` to the pbx; tells whether it arrived within `waitMs`. */
async function registerArrives(lab: Lab, from: Host, family: 4 | 6, port = 5060, waitMs?: number) {
  const payload = `REGISTER sip:${ip(lab.pbx, family)} SIP/2.0\r\nCall-ID: ${++probes}@${from.ns}\r\n\r\n`;
  await from.sendUdp(ip(lab.pbx, family), port, payload);
  return lab.pbx.received(payload, waitMs);
}

async function assertArrives(lab: Lab, from: Host, family: 4 | 6, port = 5060) {
  assert.ok(
    await registerArrives(lab, from, family, port),
    `a REGISTER from ${from.ns} to port ${port} should arrive`,
  );
}

async function assertDropped(lab: Lab, from: Host, family: 4 | 6, port = 5060) {
  assert.equal(
    await registerArrives(lab, from, family, port, BLOCKED_WAIT_MS),
    false,
    `a REGISTER from ${from.ns} to port ${port} should be dropped`,
  );
}

/** Sends REGISTERs every 200 ms until one arrives; false if none did within `totalMs`. */
async function arrivesWithin(lab: Lab, from: Host, family: 4 | 6, totalMs: number): Promise<boolean> {
  const end = Date.now() + totalMs;
  while (Date.now() < end) {
    if (await registerArrives(lab, from, family, 5060, 200)) return true;
  }
  return false;
}

/** Everything the pbx's kernel holds, as the admin's tools print it (tools not installed add nothing). */
async function kernelDump(pbx: Host): Promise<string> {
  const views = [["nft", "list", "ruleset"], ["iptables-save"], ["ip6tables-save"], ["ipset", "list"]];
  const texts = await Promise.all(views.map(([tool, ...args]) => pbx.exec(tool!, args).catch(() => "")));
  return texts.join("\n");
}

function occurrences(text: string, address: string): number {
  return text.split(/[\s,{}/]+/).filter((token) => token === address).length;
}

// The three backends run side by side, each one's tests in turn (each test has its own lab).
describe("firewall backends in network namespaces", { concurrency: true }, () => {
  for (const kind of KINDS) {
    describe(kind.backend, { concurrency: 1 }, () => {
      for (const family of [4, 6] as const) {
        test(`an IPv${family} ban drops the attacker's UDP and TCP, not the friend's`, async (t) => {
          const s = await start(t, kind);
          if (!s) return;
          const { lab, fw } = s;
          await assertArrives(lab, lab.attacker, family);
          await fw.add([{ ip: ip(lab.attacker, family), until: Date.now() + MINUTE }]);
          await assertDropped(lab, lab.attacker, family);
          await assertArrives(lab, lab.friend, family);
          const pbx = ip(lab.pbx, family);
          assert.equal(await lab.attacker.connectTcp(pbx, 5060, "OPTIONS 1", BLOCKED_WAIT_MS), false);
          assert.equal(await lab.friend.connectTcp(pbx, 5060, "OPTIONS 2"), true);
          assert.ok(await lab.pbx.received("OPTIONS 2"));
        });

        test(`an IPv${family} ban of weeks is held, with others in its batch`, async (t) => {
          const s = await start(t, kind);
          if (!s) return;
          const { lab, fw } = s;
          const other = family === 4 ? "192.0.2.98" : "2001:db8:5060::98";
          // The honeypot's ban (maxbantime, a week by default) and more: nft refused any timeout
          // over 27.8 hours written in ms, and with it the whole batch.
          await fw.add([
            { ip: ip(lab.attacker, family), until: Date.now() + 8 * 86_400_000 },
            { ip: other, until: Date.now() + 400 * 86_400_000 },
          ]);
          await assertDropped(lab, lab.attacker, family);
          const listed = (await fw.list()).map((b) => b.ip).sort();
          assert.deepEqual(listed, [ip(lab.attacker, family), other].sort());
        });

        test(`remove lets an IPv${family} address through again`, async (t) => {
          const s = await start(t, kind);
          if (!s) return;
          const { lab, fw } = s;
          const attacker = ip(lab.attacker, family);
          await fw.add([{ ip: attacker, until: 0 }]);
          await assertDropped(lab, lab.attacker, family);
          // An address that is not banned is fine to remove.
          await fw.remove([attacker, family === 4 ? "192.0.2.99" : "2001:db8:5060::99"]);
          await assertArrives(lab, lab.attacker, family);
          assert.deepEqual(await fw.list(), []);
        });

        if (kind.timeouts) {
          test(`the kernel lifts an IPv${family} ban when its timeout passes`, async (t) => {
            const s = await start(t, kind);
            if (!s) return;
            const { lab, fw } = s;
            await fw.add([{ ip: ip(lab.attacker, family), until: Date.now() + 1500 }]);
            await assertDropped(lab, lab.attacker, family);
            await sleep(1000);
            assert.ok(await arrivesWithin(lab, lab.attacker, family, 3000), "the ban should have expired");
            assert.deepEqual(await fw.list(), []);
          });
        }

        test(`an IPv${family} ban cuts an ongoing UDP flow though the host accepts established traffic first`, async (t) => {
          const s = await start(t, kind);
          if (!s) return;
          const { lab, fw } = s;
          await kind.acceptEstablished(lab.pbx);
          const pbx = ip(lab.pbx, family);
          const fromPort = 40_000 + family;
          await lab.attacker.sendUdp(pbx, 5060, "REGISTER flow 1", fromPort);
          assert.ok(await lab.pbx.received("REGISTER flow 1"));
          assert.ok(
            await lab.attacker.received("REGISTER flow 1"),
            "the pbx's answer makes the flow established",
          );
          await fw.add([{ ip: ip(lab.attacker, family), until: Date.now() + MINUTE }]);
          await lab.attacker.sendUdp(pbx, 5060, "REGISTER flow 2", fromPort);
          assert.equal(await lab.pbx.received("REGISTER flow 2", BLOCKED_WAIT_MS), false);
        });
      }

      test("adding an address twice leaves one kernel entry and its first timeout", async (t) => {
        const s = await start(t, kind);
        if (!s) return;
        const { lab, fw } = s;
        const until = Date.now() + 100_000;
        const [v4, v6] = [lab.attacker.v4, lab.attacker.v6];
        await fw.add([
          { ip: v4, until },
          { ip: v4, until: until + 500_000 },
        ]);
        await fw.add([
          { ip: v4, until: 0 },
          { ip: v6, until },
        ]);
        await fw.add([{ ip: v6, until: until + 900_000 }]);
        const dump = await kind.show(lab.pbx);
        assert.equal(occurrences(dump, v4), 1, dump);
        assert.equal(occurrences(dump, v6), 1, dump);
        const listed = await fw.list();
        assert.deepEqual(listed.map((entry) => entry.ip).sort(), [v4, v6].sort());
        if (kind.timeouts) {
          for (const entry of listed)
            assert.ok(Math.abs(entry.until - until) < 5000, `${entry.ip} keeps its timeout`);
        }
      });

      test('scope "voip" drops the SIP ports and nothing else', async (t) => {
        const s = await start(t, kind, "voip");
        if (!s) return;
        const { lab, fw } = s;
        await fw.add([
          { ip: lab.attacker.v4, until: 0 },
          { ip: lab.attacker.v6, until: 0 },
        ]);
        for (const family of [4, 6] as const) {
          await assertDropped(lab, lab.attacker, family, 5060);
          await assertArrives(lab, lab.attacker, family, 5070);
          await assertArrives(lab, lab.friend, family, 5060);
          assert.equal(
            await lab.attacker.connectTcp(ip(lab.pbx, family), 5060, "tcp", BLOCKED_WAIT_MS),
            false,
          );
        }
      });

      test("teardown leaves nothing of sipban and keeps the host's own rules", async (t) => {
        const s = await start(t, kind);
        if (!s) return;
        const { lab, fw } = s;
        await kind.acceptEstablished(lab.pbx);
        await fw.add([
          { ip: lab.attacker.v4, until: 0 },
          { ip: lab.attacker.v6, until: Date.now() + MINUTE },
        ]);
        assert.match(await kernelDump(lab.pbx), /sipban/);
        await fw.teardown();
        await fw.teardown();
        const dump = await kernelDump(lab.pbx);
        assert.doesNotMatch(dump, /sipban/, dump);
        assert.match(dump, /established/i, "the host's own rule is still there");
        assert.equal((await fw.status()).present, false);
        await assertArrives(lab, lab.attacker, 4);
        await assertArrives(lab, lab.attacker, 6);
      });

      test("reconcile restores every ban after the bans are wiped, and lifts stale ones", async (t) => {
        const s = await start(t, kind);
        if (!s) return;
        const { lab, fw } = s;
        const now = Date.now();
        const desired = [
          { ip: lab.attacker.v4, until: now + MINUTE },
          { ip: lab.attacker.v6, until: now + MINUTE },
          { ip: "192.0.2.99", until: 0 },
          { ip: "2001:db8:5060::99", until: now + MINUTE },
          { ip: "192.0.2.98", until: now - 1000 },
        ];
        assert.deepEqual(await reconcile(fw, desired, now), { added: 4, removed: 0, kept: 0 });
        assert.equal((await fw.status()).entries, 4);
        await kind.wipe(lab.pbx);
        await assertArrives(lab, lab.attacker, 4);
        assert.deepEqual(await reconcile(fw, desired, Date.now()), { added: 4, removed: 0, kept: 0 });
        const status = await fw.status();
        assert.deepEqual([status.present, status.entries], [true, 4], status.detail);
        await assertDropped(lab, lab.attacker, 4);
        await assertDropped(lab, lab.attacker, 6);
        const rest = desired.filter((entry) => entry.ip !== lab.attacker.v4);
        assert.deepEqual(await reconcile(fw, rest, Date.now()), { added: 0, removed: 1, kept: 3 });
        await assertArrives(lab, lab.attacker, 4);
      });

      test("refuses an address that is not normalized, and changes nothing", async (t) => {
        const s = await start(t, kind);
        if (!s) return;
        const { lab, fw } = s;
        const bad = [
          "::FFFF:192.0.2.20",
          "2001:DB8:5060::20",
          "192.0.2.020",
          "192.0.2.20/32",
          "pbx.example",
          "",
        ];
        for (const text of [...bad, `${lab.attacker.v4} }; flush ruleset; {`]) {
          await assert.rejects(fw.add([{ ip: text, until: 0 }]), /not a normalized IP address/);
          await assert.rejects(fw.remove([text]), /not a normalized IP address/);
        }
        assert.deepEqual(await fw.list(), []);
        assert.equal((await fw.status()).present, true);
      });
    });
  }
});
