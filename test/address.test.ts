import assert from "node:assert/strict";
import { isIPv4 } from "node:net";
import { describe, it } from "node:test";
import { normalizeIp, parseHostAndPort, parseHostPort } from "../src/net/address.js";

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
    let s = 99;
    const next = () => {
      s = (s * 1_103_515_245 + 12_345) >>> 0;
      return s >>> 8;
    };
    const alphabet = "0123456789.:a";
    const random = Array.from({ length: 20_000 }, () =>
      Array.from({ length: 5 + (next() % 12) }, () => alphabet[next() % alphabet.length]).join(""),
    );
    for (const text of [...edge, ...random]) {
      assert.equal(normalizeIp(text) === text && !text.includes(":"), isIPv4(text), text);
    }
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
