import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FailureEvent } from "../src/detect/event.js";
import { FailureLog } from "../src/report/failure-log.js";
import { OffenderReport } from "../src/report/offenders.js";
import { failure } from "./helpers/events.js";

/** Failures added to a log as the detector's events come, summed once all are in. */
class Failures {
  readonly log = new FailureLog();

  add(e: FailureEvent): number {
    this.log.add(e);
    return this.log.address(e.ip);
  }

  report(): OffenderReport {
    return new OffenderReport(this.log);
  }
}

import { seeded } from "./helpers/seeded.js";

describe("offender report", () => {
  it("counts reasons in the order first seen, past the slots an address has for them", () => {
    const failures = new Failures();
    const reasons = ["a", "b", "c", "d", "e", "f", "b", "f", "a"];
    reasons.forEach((reason, i) => {
      failures.add(failure("192.0.2.1", 1000 + i, { reason, attempts: i === 8 ? 3 : 1 }));
    });
    const report = failures.report();
    const [o] = report.offenders();
    assert.deepEqual(o!.reasons, [
      ["a", 4],
      ["b", 2],
      ["c", 1],
      ["d", 1],
      ["e", 1],
      ["f", 2],
    ]);
    assert.equal(o!.failures, 11);
    assert.equal(report.failures, 11);
  });

  it("keeps the first ten distinct users, and each address's services in its own order", () => {
    const failures = new Failures();
    failures.add(failure("192.0.2.2", 0, { service: "ami", user: "admin" }));
    for (let i = 0; i < 30; i++) {
      failures.add(failure("192.0.2.1", i, { user: `u${i % 12}`, service: i < 20 ? "pjsip" : "sip" }));
      failures.add(failure("192.0.2.1", i, { user: undefined, service: "security" }));
    }
    failures.add(failure("192.0.2.2", 1, { service: "sip", user: "u3" }));
    const report = failures.report();
    const byIp = new Map(report.offenders().map((o) => [o.ip, o]));
    assert.deepEqual(byIp.get("192.0.2.1")!.users, [
      "u0",
      "u1",
      "u2",
      "u3",
      "u4",
      "u5",
      "u6",
      "u7",
      "u8",
      "u9",
    ]);
    assert.deepEqual(byIp.get("192.0.2.1")!.services, ["pjsip", "security", "sip"]);
    assert.deepEqual(byIp.get("192.0.2.2")!.users, ["admin", "u3"]);
    assert.deepEqual(byIp.get("192.0.2.2")!.services, ["ami", "sip"]);
  });

  it("takes the first and last time whatever order the failures come in, and the first ban marked", () => {
    const failures = new Failures();
    const i = failures.add(failure("2001:db8::1", 5000));
    failures.add(failure("2001:db8::1", 2000));
    failures.add(failure("2001:db8::1", 9000));
    failures.add(failure("2001:db8::1", 7000));
    const report = failures.report();
    report.markBanAt(i, 7000);
    report.markBanAt(i, 9000);
    const [o] = report.offenders();
    assert.equal(o!.firstSeen, 2000);
    assert.equal(o!.lastSeen, 9000);
    assert.equal(o!.wouldBan, true);
    assert.equal(o!.banAt, 7000);
  });

  it("holds more addresses than its first allocation, most failures first, ties by address", () => {
    const failures = new Failures();
    for (let n = 0; n < 1000; n++) {
      const ip = `10.0.${n >> 8}.${n & 255}`;
      for (let k = 0; k <= n % 3; k++) failures.add(failure(ip, n, { user: `x${n}`, reason: `r${n % 5}` }));
    }
    const report = failures.report();
    const offenders = report.offenders();
    assert.equal(offenders.length, 1000);
    for (let k = 1; k < offenders.length; k++) {
      const a = offenders[k - 1]!;
      const b = offenders[k]!;
      assert.ok(a.failures > b.failures || (a.failures === b.failures && a.ip < b.ip), `order at ${k}`);
    }
    for (const o of offenders) {
      const n = Number(o.ip.split(".")[2]) * 256 + Number(o.ip.split(".")[3]);
      assert.deepEqual(
        [o.failures, o.users, o.reasons],
        [1 + (n % 3), [`x${n}`], [[`r${n % 5}`, 1 + (n % 3)]]],
        o.ip,
      );
    }
    const late = offenders.find((o) => o.ip === "10.0.3.230")!;
    assert.deepEqual(late, {
      ip: "10.0.3.230",
      failures: 3,
      reasons: [["r3", 3]],
      users: ["x998"],
      services: ["sip"],
      firstSeen: 998,
      lastSeen: 998,
      wouldBan: false,
      banAt: undefined,
    });
  });

  it("orders fractional counts as it orders whole ones", () => {
    const failures = new Failures();
    const rows: Array<[string, number]> = [
      ["203.0.113.9", 1.5],
      ["198.51.100.2", 2],
      ["2001:db8::1", 1.5],
      ["192.0.2.1", 0.5],
      ["198.51.100.10", 2],
    ];
    for (const [ip, attempts] of rows) failures.add(failure(ip, 0, { attempts }));
    const report = failures.report();
    assert.deepEqual(
      report.offenders().map((o) => `${o.ip} ${o.failures}`),
      ["198.51.100.10 2", "198.51.100.2 2", "2001:db8::1 1.5", "203.0.113.9 1.5", "192.0.2.1 0.5"],
    );
  });

  it("ranks as a comparison of whole texts would, also where the packed first characters tie", () => {
    // Texts alike in their first 7 or 14 characters, shorter texts, characters past 7 bits
    // (which end the packing), and random ones: the order must be failures, then code units.
    const fixed = [
      "198.18.0.1",
      "198.18.0.10",
      "198.18.0.2",
      "198.18.",
      "198.18",
      "2001:db8:1:2:3:4:5:6",
      "2001:db8:1:2:3:4:5:7",
      "2001:db8:1:2:3:4:5",
      "a~b",
      "a~a",
      "a}z",
      "a\u007fz",
      "a\u00ffb",
      "a\u00ffa",
      "a\u0100a",
      "a\u{1f600}",
      "",
    ];
    const random = seeded(7);
    const alphabet = ["1", "9", ".", ":", "a", "f", "~", "\u007f", "\u00e9", "\u0100", "\ud83d"];
    const texts = new Set(fixed);
    while (texts.size < 600) {
      let t = "198.18.";
      for (let k = Math.floor(random() * 12); k > 0; k--)
        t += alphabet[Math.floor(random() * alphabet.length)];
      texts.add(t);
    }
    const failures = new Failures();
    const counts = new Map<string, number>();
    for (const ip of texts) {
      // The fixed texts tie on failures: their texts alone must order them.
      const n = fixed.includes(ip) ? 2 : 1 + Math.floor(random() * 3);
      counts.set(ip, n);
      for (let k = 0; k < n; k++) failures.add(failure(ip, k));
    }
    const expected = [...texts].sort(
      (a, b) => counts.get(b)! - counts.get(a)! || (a < b ? -1 : a > b ? 1 : 0),
    );
    const report = failures.report();
    assert.deepEqual(
      report.offenders().map((o) => o.ip),
      expected,
    );
  });
});
