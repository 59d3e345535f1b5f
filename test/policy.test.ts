import assert from "node:assert/strict";
import { networkInterfaces } from "node:os";
import { describe, it } from "node:test";
import { normalizeIp } from "../src/net/address.js";
import { Allowlist } from "../src/policy/allowlist.js";
import { BanPolicy, DEFAULT_POLICY, formatMs, parseDuration } from "../src/policy/policy.js";
import { failure } from "./helpers/events.js";

const MIN = 60_000;

const allowlist = () => new Allowlist(["192.0.2.0/24", "2001:db8:1::/48"], { includeHost: false });

import { seeded } from "./helpers/seeded.js";

describe("ban policy", () => {
  it("bans at maxretry failures within findtime, not before", () => {
    const p = new BanPolicy(DEFAULT_POLICY, allowlist());
    for (let i = 0; i < 4; i++) assert.equal(p.onFailure(failure("203.0.113.5", i * MIN)), null);
    const d = p.onFailure(failure("203.0.113.5", 4 * MIN));
    assert.ok(d);
    assert.equal(d.ip, "203.0.113.5");
    assert.equal(d.until - d.at, DEFAULT_POLICY.bantimeMs);
    assert.equal(d.evidence.failures, 5);
    assert.equal(d.reason, "5 failures within 10m");
  });

  it("says a ban on one failure in the singular", () => {
    const p = new BanPolicy({ ...DEFAULT_POLICY, maxretry: 1 }, allowlist());
    assert.equal(p.onFailure(failure("203.0.113.5", 0))?.reason, "1 failure within 10m");
  });

  it("forgets failures older than findtime", () => {
    const p = new BanPolicy(DEFAULT_POLICY, allowlist());
    for (let i = 0; i < 8; i++)
      assert.equal(p.onFailure(failure("203.0.113.5", i * 3 * MIN)), null, `failure ${i}`);
  });

  it("grows the ban for repeat offenders, up to maxbantime", () => {
    const p = new BanPolicy({ ...DEFAULT_POLICY, maxretry: 1 }, allowlist());
    const lengths: number[] = [];
    let t = 0;
    for (let i = 0; i < 12; i++) {
      const d = p.onFailure(failure("198.51.100.7", t))!;
      lengths.push(d.until - d.at);
      t = d.until + 1;
    }
    assert.equal(lengths[0], DEFAULT_POLICY.bantimeMs);
    assert.equal(lengths[1], 2 * DEFAULT_POLICY.bantimeMs);
    assert.equal(lengths[2], 4 * DEFAULT_POLICY.bantimeMs);
    assert.equal(lengths[11], DEFAULT_POLICY.maxbantimeMs);
  });

  it("takes earlier bans from history into account", () => {
    const p = new BanPolicy({ ...DEFAULT_POLICY, maxretry: 1 }, allowlist(), (ip) =>
      ip === "198.51.100.7" ? 3 : 0,
    );
    const d = p.onFailure(failure("198.51.100.7", 0))!;
    assert.equal(d.until - d.at, 8 * DEFAULT_POLICY.bantimeMs);
    assert.equal(d.offence, 4);
  });

  it("keeps a ban made elsewhere, and counts it with the address's history at the next ban", () => {
    // The store holds 3 earlier bans, the active one among them.
    const p = new BanPolicy({ ...DEFAULT_POLICY, maxretry: 1 }, allowlist(), () => 3);
    p.rememberBan("198.51.100.7", 10 * MIN);
    assert.equal(p.onFailure(failure("198.51.100.7", 5 * MIN)), null, "still banned");
    const d = p.onFailure(failure("198.51.100.7", 11 * MIN))!;
    assert.equal(d.until - d.at, 8 * DEFAULT_POLICY.bantimeMs);
    assert.equal(d.offence, 4);
  });

  it("bans honeypot hits at once for maxbantime", () => {
    const p = new BanPolicy(DEFAULT_POLICY, allowlist());
    const d = p.onFailure(failure("198.51.100.99", 0, { instant: true, reason: "Honeypot" }))!;
    assert.equal(d.until - d.at, DEFAULT_POLICY.maxbantimeMs);
  });

  it("weights failures", () => {
    const p = new BanPolicy(DEFAULT_POLICY, allowlist());
    assert.equal(p.onFailure(failure("203.0.113.9", 0, { weight: 2 })), null);
    assert.equal(p.onFailure(failure("203.0.113.9", 1, { weight: 2 })), null);
    assert.ok(p.onFailure(failure("203.0.113.9", 2, { weight: 2 })));
  });

  it("never bans an allowlisted address, IPv4 or IPv6, even from a honeypot", () => {
    const p = new BanPolicy({ ...DEFAULT_POLICY, maxretry: 1 }, allowlist());
    for (const ip of ["192.0.2.24", "2001:db8:1::5", "127.0.0.1", "::1"]) {
      assert.equal(p.onFailure(failure(ip, 0, { instant: true })), null, ip);
    }
    assert.equal(p.allowlisted, 4);
  });

  it("does not decide twice while a ban is running", () => {
    const p = new BanPolicy({ ...DEFAULT_POLICY, maxretry: 1 }, allowlist());
    assert.ok(p.onFailure(failure("203.0.113.5", 0)));
    assert.equal(p.onFailure(failure("203.0.113.5", 10)), null);
  });

  it("keeps memory bounded when addresses rotate, and says so", () => {
    const p = new BanPolicy({ ...DEFAULT_POLICY, maxTracked: 1000 }, allowlist());
    for (let i = 0; i < 5000; i++)
      p.onFailure(failure(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, i));
    assert.ok(p.tracked <= 1000 && p.tracked > 900, `tracked ${p.tracked}`);
    assert.equal(p.evicted + p.tracked, 5000, "every address is either tracked or counted as evicted");
  });

  it("expires counters with no failure inside the window", () => {
    const p = new BanPolicy(DEFAULT_POLICY, allowlist());
    p.onFailure(failure("203.0.113.5", 0));
    p.onFailure(failure("203.0.113.6", 9 * MIN));
    p.expire(15 * MIN);
    assert.equal(p.tracked, 1);
  });
});

describe("first ban of a scan", () => {
  it("comes at the failure where onFailure first decides, for any weights, gaps and instant hits", () => {
    const next = seeded(7);
    const config = { ...DEFAULT_POLICY, maxretry: 3, findtimeMs: 10 * MIN };
    const weights = [0, 0.1, 0.3, 0.5, 1, 2];
    let banned = 0;
    let never = 0;
    for (let round = 0; round < 400; round++) {
      const ip = round % 10 === 0 ? "192.0.2.9" : `203.0.113.${round % 200}`;
      const length = 1 + Math.floor(next() * 30);
      const events = [];
      let time = 0;
      for (let j = 0; j < length; j++) {
        // Whole minutes: failures exactly findtime apart are common.
        time += Math.floor(next() * 8) * MIN;
        events.push(
          failure(ip, time, {
            weight: weights[Math.floor(next() * weights.length)]!,
            // 0 too: PJSIP's "after 0 tries" counts no attempt.
            attempts: Math.floor(next() * 4),
            instant: next() < 0.02,
          }),
        );
      }
      const oneByOne = new BanPolicy(config, allowlist());
      const expected = events.map((e) => oneByOne.onFailure(e)).find((d) => d !== null)?.at;
      const columns = new BanPolicy(config, allowlist());
      // Stored in reverse, to read through `order`.
      const marks = Float64Array.from(
        events
          .slice()
          .reverse()
          .flatMap((e) => [e.time, e.instant ? Number.POSITIVE_INFINITY : e.weight * e.attempts]),
      );
      const order = Int32Array.from(events, (_, j) => length - 1 - j);
      const at = columns.firstBanAt(ip, { marks, order, from: 0, to: length });
      assert.equal(at, expected, `round ${round}`);
      assert.equal(columns.allowlisted, oneByOne.allowlisted, `round ${round}`);
      if (at === undefined) never++;
      else banned++;
    }
    assert.ok(banned > 50 && never > 50, `both outcomes are tried (${banned} banned, ${never} not)`);
  });
});

describe("durations", () => {
  it("parses and formats", () => {
    assert.equal(parseDuration("10m"), 600_000);
    assert.equal(parseDuration("1w"), 604_800_000);
    assert.equal(parseDuration("90"), 90_000);
    assert.ok(Number.isNaN(parseDuration("ten minutes")));
    assert.equal(formatMs(3_600_000), "1h");
  });
});

describe("allowlist", () => {
  it("answers anew after an entry is added (the last answer is remembered)", () => {
    const a = new Allowlist([], { includeHost: false });
    assert.equal(a.has("203.0.113.9"), false);
    assert.equal(a.has("203.0.113.9"), false);
    a.add("203.0.113.0/24");
    assert.equal(a.has("203.0.113.9"), true);
    assert.equal(a.has("203.0.114.9"), false);
  });

  it("rejects invalid entries with a reason", () => {
    assert.throws(() => new Allowlist(["192.0.2.0/33"], { includeHost: false }), /prefix length/);
    assert.throws(() => new Allowlist(["pbx.example.com"], { includeHost: false }), /not an IP address/);
  });
  it("always holds loopback and this host's addresses", (t) => {
    const a = new Allowlist([]);
    assert.ok(a.has("127.0.0.1"));
    assert.ok(a.has("::1"));
    assert.ok(!a.has("203.0.113.5"));
    const own = Object.values(networkInterfaces())
      .flat()
      .map((i) => i?.address)
      .find((ip) => ip !== undefined && !ip.startsWith("127.") && ip !== "::1");
    if (own === undefined) {
      t.skip("this host has no address but loopback");
      return;
    }
    assert.ok(a.has(normalizeIp(own)!), `this host's ${own}`);
    assert.ok(!new Allowlist([], { includeHost: false }).has(normalizeIp(own)!));
  });
});

describe("allowlist matching", () => {
  const a = new Allowlist(
    ["192.0.2.0/24", "198.51.100.7", "2001:db8:1::/48", "2001:db8:2::5", "0.0.0.0/0"].slice(0, 4),
    {
      includeHost: false,
    },
  );
  const cases: Array<[string, boolean]> = [
    ["192.0.2.0", true],
    ["192.0.2.255", true],
    ["192.0.3.0", false],
    ["198.51.100.7", true],
    ["198.51.100.8", false],
    ["2001:db8:1::", true],
    ["2001:db8:1:ffff:ffff:ffff:ffff:ffff", true],
    ["2001:db8:2::", false],
    ["::ffff:192.0.2.1", false],
    ["127.0.0.1", true],
    ["127.255.255.255", true],
    ["::1", true],
    ["::2", false],
  ];
  for (const [ip, want] of cases)
    it(`${ip} ${want ? "is" : "is not"} allowlisted`, () => assert.equal(a.has(ip), want));

  it("reads every bit of an IPv4 address, against networks of every length", () => {
    // Addresses around each network's edges, from /0 to /32, each checked against the
    // arithmetic of the address as a 32-bit number.
    const text = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
    const base = 0xc0a8_8001; // 192.168.128.1
    for (let bits = 0; bits <= 32; bits++) {
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      const list = new Allowlist([`${text((base & mask) >>> 0)}/${bits}`], { includeHost: false });
      const first = (base & mask) >>> 0;
      const last = (base | ~mask) >>> 0;
      for (const n of [base, first, first - 1, last, last + 1, 0, 0xffffffff, base ^ 1]) {
        const ip = text(n >>> 0);
        if (ip.startsWith("127.")) continue;
        assert.equal(list.has(ip), (n & mask) >>> 0 === (base & mask) >>> 0, `${ip} in /${bits}`);
      }
    }
  });

  it("matches IPv6 networks shorter and longer than the first 16 bits, which alone rule most out", () => {
    const list = new Allowlist(["2000::/3", "fd00:1234::/20", "::/127", "64:ff9b::/96"], {
      includeHost: false,
    });
    const cases: Array<[string, boolean]> = [
      ["2001:db8::1", true],
      ["3fff:ffff::", true],
      ["4000::1", false],
      ["1fff::1", false],
      ["fd00:1fff::1", true],
      ["fd00:2000::", false],
      ["fd01:1234::", false],
      ["::", true],
      ["::1", true],
      ["::2", false],
      ["64:ff9b::c000:201", true],
      ["64:ff9b:1::c000:201", false],
    ];
    for (const [ip, want] of cases) assert.equal(list.has(ip), want, ip);
  });

  it("takes /0 and host routes", () => {
    const all = new Allowlist(["0.0.0.0/0", "::/0"], { includeHost: false });
    assert.ok(all.has("203.0.113.5"));
    assert.ok(all.has("2001:db8::66"));
  });
});
