import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Service } from "../src/detect/event.js";
import { FailureLog } from "../src/report/failure-log.js";
import { sumOffenders } from "../src/report/offender-sums.js";
import { OffenderReport } from "../src/report/offenders.js";
import { failure } from "./helpers/events.js";
import { seeded } from "./helpers/seeded.js";

const T0 = 1_709_632_800_000;
const REASONS = [
  "Wrong password",
  "No matching peer found",
  "Failed to authenticate (REGISTER)",
  "Not a local domain",
  "Device does not match ACL",
  "Username/auth name mismatch",
  "Failed to authenticate (INVITE)",
];
const SERVICES: Service[] = ["sip", "pjsip", "iax2", "ami", "security"];

/** Everything the report tells of each address, and its total. */
function told(report: OffenderReport) {
  return { failures: report.failures, columns: report.columns(), offenders: report.offenders() };
}

function bothWays(log: FailureLog) {
  const inWasm = new OffenderReport(log);
  const inJavaScript = new OffenderReport(log, true);
  return { inWasm: told(inWasm), inJavaScript: told(inJavaScript) };
}

describe("the report's sums in WebAssembly", () => {
  it("sum what the JavaScript sums do, address by address", () => {
    const random = seeded(11);
    const log = new FailureLog();
    for (let n = 0; n < 30_000; n++) {
      // Addresses with more reasons than slots, several services, times out of order, attempts
      // that are not whole, failures added but not counted.
      const k = Math.floor(random() * 500);
      const ip = k % 5 === 0 ? `2001:db8::${k.toString(16)}` : `198.51.100.${k % 250}`;
      const time = T0 + Math.floor((random() - 0.3) * 3_600_000);
      const r = random();
      const reason = REASONS[k % 3 === 0 ? Math.floor(r * REASONS.length) : Math.floor(r * 2)]!;
      const service = SERVICES[k % 7 === 0 ? Math.floor(random() * SERVICES.length) : 0]!;
      if (r > 0.9) {
        const i = log.addParsed(
          log.address(ip),
          time,
          1,
          log.reasons.id(reason),
          log.services.id(service),
          -1,
        );
        if (r > 0.95) log.count(i);
        continue;
      }
      log.add(failure(ip, time, { reason, service, attempts: r < 0.05 ? 2.5 : 1 }));
    }
    // An address numbered with no failure counted.
    log.address("192.0.2.200");
    assert.ok(sumOffenders(log.columns()), "summed in WebAssembly");
    const { inWasm, inJavaScript } = bothWays(log);
    assert.ok(inJavaScript.columns.moreReasons.size > 0, "some addresses have more reasons than slots");
    assert.ok(
      inJavaScript.offenders.some((o) => o.services.length > 1),
      "some addresses have more than one service",
    );
    assert.ok(
      inJavaScript.offenders.some((o) => !Number.isInteger(o.failures)),
      "some counts are not whole",
    );
    assert.equal(inJavaScript.columns.seen[log.find("192.0.2.200")!], 0);
    assert.deepEqual(inWasm, inJavaScript);
  });

  it("sum an empty log to nothing", () => {
    const log = new FailureLog();
    const sums = sumOffenders(log.columns());
    assert.ok(sums, "summed in WebAssembly");
    assert.equal(sums.total, 0);
    assert.equal(sums.failures.length, 0);
    assert.deepEqual(bothWays(log).inWasm, bothWays(log).inJavaScript);
  });

  it("keep the first and last time of failures out of order, and -0", () => {
    const log = new FailureLog();
    for (const time of [T0 + 5, T0 - 7, -0, T0 + 9, T0]) log.add(failure("198.51.100.1", time));
    // A tie keeps the time seen first: 0, not -0.
    for (const time of [0, -0, -5]) log.add(failure("198.51.100.2", time));
    const sums = sumOffenders(log.columns());
    assert.ok(sums);
    assert.deepEqual([sums.firstSeen[0], sums.lastSeen[0]], [-0, T0 + 9]);
    assert.deepEqual([sums.firstSeen[1], sums.lastSeen[1], sums.total], [-5, 0, 8]);
    assert.deepEqual(bothWays(log).inWasm, bothWays(log).inJavaScript);
  });
});
