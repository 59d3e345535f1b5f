import assert from "node:assert/strict";
import { isIP, isIPv4, SocketAddress } from "node:net";
import { describe, it } from "node:test";
import { normalizeIp, parseHostAndPort, parseHostPort } from "../src/net/address.js";
import { seeded } from "./helpers/seeded.js";

describe("address parsing", () => {
  it("parses an address and a port written as separate fields, IPv6 colons never taken for a port", () => {
    assert.deepEqual(parseHostAndPort("203.0.113.5", "5071"), { ip: "203.0.113.5", port: 5071 });
    assert.deepEqual(parseHostAndPort("2001:DB8::5", "5060"), { ip: "2001:db8::5", port: 5060 });
    assert.deepEqual(parseHostAndPort("::ffff:198.51.100.7", "5060"), { ip: "198.51.100.7", port: 5060 });
    assert.equal(parseHostAndPort("2001:db8::5", "70000"), null);
    assert.equal(parseHostAndPort("203.0.113.5:5060", "5060"), null);
    assert.equal(parseHostAndPort("pbx.example.com", "5060"), null);
  });

  it("accepts exactly the IPv4 texts node:net does", () => {
    const edge = [
      "0.0.0.0",
      "255.255.255.255",
      "256.1.1.1",
      "01.2.3.4",
      "1.2.3",
      "1.2.3.4.5",
      "1..2.3",
      "1.2.3.",
      ".1.2.3",
      "1.2.3.04",
      "1.2.3.4 ",
      "1.2.3.4%eth0",
      "1000.1.1.1",
      "１.2.3.4",
      "10.0.0.255",
    ];
    const random01 = seeded(99);
    const next = () => Math.floor(random01() * 16_777_216);
    const alphabet = "0123456789.:a";
    const random = Array.from({ length: 20_000 }, () =>
      Array.from({ length: 5 + (next() % 12) }, () => alphabet[next() % alphabet.length]).join(""),
    );
    for (const text of [...edge, ...random]) {
      assert.equal(normalizeIp(text) === text && !text.includes(":"), isIPv4(text), text);
    }
  });

  it("accepts the IPv6 texts node:net does, in the form net.SocketAddress writes", () => {
    // What node:net makes of a text: the reference the hand-written parser is held to.
    const reference = (text: string): string | null => {
      const zone = text.indexOf("%");
      const bare = zone === -1 ? text : text.slice(0, zone);
      const family = isIP(bare);
      if (family === 4) return bare;
      if (family !== 6) return null;
      const canonical = new SocketAddress({ address: bare, family: "ipv6" }).address;
      return /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(canonical)?.[1] ?? canonical;
    };
    const edge = [
      "::",
      "::1",
      "1::",
      "::0:0",
      "0:0::0:0:0:0:0",
      "1:0:0:2:0:0:0:3",
      "1:0:0:2:0:0:3:4",
      "2001:DB8:0000:0000:0:0:0:1",
      "::1.2.3.4",
      "::0.0.0.1",
      "::ffff:1.2.3.4",
      "::FFFF:0.0.0.0",
      "::ffff:0:1.2.3.4",
      "::ffff:0:0",
      "0:0:0:0:0:ffff:102:304",
      "64:ff9b::1.2.3.4",
      "1:2:3:4:5:6:1.2.3.4",
      "1:2:3:4:5:6:7:1.2.3.4",
      "1:2:3:4:5:6:7:8",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4::5:6:7:8",
      "1:2:3:4:5:6:7::",
      "::2:3:4:5:6:7:8",
      ":::",
      "1:::2",
      "1::2::3",
      ":1::2",
      "1::2:",
      "12345::1",
      "g::1",
      "1.2.3.4::",
      "::1.2.3",
      "::01.2.3.4",
      "::256.1.1.1",
      "fe80::1%eth0",
      "fe80::1%",
      "%eth0",
      "",
      ":",
      "1:2",
      "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
      "0000:0000:0000:0000:0000:0000:0000:0000",
    ];
    const random01 = seeded(7);
    const next = () => Math.floor(random01() * 16_777_216);
    // Texts near the grammar: words of 0 to 5 digits (zero often), gaps, an IPv4 tail, stray bytes.
    const word = () => {
      const r = next() % 10;
      if (r < 4) return "0";
      const digits = "0123456789abcdefABCDEF";
      return Array.from(
        { length: 1 + (next() % (r === 9 ? 5 : 4)) },
        () => digits[next() % digits.length],
      ).join("");
    };
    const random = Array.from({ length: 30_000 }, () => {
      const count = 1 + (next() % 9);
      const words = Array.from({ length: count }, word);
      if (next() % 3 === 0) words.splice(next() % (count + 1), 0, "");
      let text = words.join(":");
      if (next() % 6 === 0) text += `:${next() % 300}.${next() % 256}.${next() % 256}.${next() % 256}`;
      if (next() % 25 === 0) text = text.replace(/:/, ":::");
      if (next() % 25 === 0) text += "x";
      return text;
    });
    for (const text of [...edge, ...random]) assert.equal(normalizeIp(text), reference(text), text);
  });

  const cases: Array<[string, boolean, { ip: string; port?: number } | null]> = [
    ["203.0.113.5", false, { ip: "203.0.113.5" }],
    ["203.0.113.5:5060", false, { ip: "203.0.113.5", port: 5060 }],
    ["[2001:db8::7]:5060", false, { ip: "2001:db8::7", port: 5060 }],
    ["[2001:DB8:0:0::7]", false, { ip: "2001:db8::7" }],
    ["2001:db8::7", false, { ip: "2001:db8::7" }],
    ["2001:db8::5:5060", true, { ip: "2001:db8::5", port: 5060 }],
    ["::ffff:1.2.3.4", false, { ip: "1.2.3.4" }],
    ["[::ffff:198.51.100.3]:5060", false, { ip: "198.51.100.3", port: 5060 }],
    ["fe80::1%eth0", false, { ip: "fe80::1" }],
    ["999.1.2.3", false, null],
    ["01.2.3.4", false, null],
    ["1.2.3.4:99999", false, null],
    ["trunk1", false, null],
    ["pbx.example.com:5060", false, null],
    ["", false, null],
    ["1.2.3.4:5060:7", false, null],
  ];
  for (const [text, bare, want] of cases) {
    it(`${JSON.stringify(text)}${bare ? " (bare v6 port)" : ""}`, () => {
      assert.deepEqual(parseHostPort(text, bare), want);
    });
  }

  it("caches without mixing results", () => {
    assert.equal(normalizeIp("2001:0db8::0001"), "2001:db8::1");
    assert.equal(normalizeIp("2001:0db8::0001"), "2001:db8::1");
    assert.equal(normalizeIp("nonsense"), null);
  });
});
