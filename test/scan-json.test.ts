import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { emptyStats } from "../src/detect/detector.js";
import { FailureLog } from "../src/report/failure-log.js";
import { OffenderReport } from "../src/report/offenders.js";
import type { ScanResult } from "../src/report/scan-files.js";
import { failure } from "./helpers/events.js";
import { HOSTILE_USERS, stringified, written } from "./helpers/scan-json.js";

function resultOf(report: OffenderReport): ScanResult {
  const stats = { ...emptyStats(), unmatched: 3, duplicates: 2 };
  return {
    files: ["/var/log/asterisk/messages"],
    linesRead: 12_345,
    report,
    decisions: [],
    stats,
    allowlisted: 4,
  };
}

describe("scan --json", () => {
  // The reference reads the report through offenders(), whose order test/offenders.test.ts
  // holds to a plain comparison of texts; here the text written from it is checked.
  it("writes what JSON.stringify wrote for an empty report", () => {
    const result = resultOf(new OffenderReport(new FailureLog()));
    assert.equal(written(result).text, stringified(result));
    assert.deepEqual(JSON.parse(written(result).text).offenders, []);
  });

  it("writes what JSON.stringify wrote for thousands of offenders with hostile texts, in pieces", () => {
    // Reasons as user rules write them (the user names: HOSTILE_USERS). Keys JSON.stringify writes first (array indexes) and ones it does not, past an address's
    // four reason slots.
    const reasons = [
      "Wrong password",
      'Bad "quoted"',
      "Ünïcödé reason",
      "ends with \\",
      "404",
      "0",
      "4294967294",
      "4294967295",
      "01",
      "-1",
      "__proto__",
    ];
    const log = new FailureLog();
    for (let n = 0; n < 3000; n++) {
      const ip = n % 7 === 0 ? `2001:db8::${n.toString(16)}` : `198.51.${n >> 8}.${n & 255}`;
      for (let k = 0; k <= n % 9; k++) {
        log.add(
          failure(ip, 1_709_632_800_000 + n * 1000 + k * 37, {
            user: n % 5 === 0 ? undefined : HOSTILE_USERS[(n + k) % HOSTILE_USERS.length],
            reason: reasons[(n + k) % reasons.length]!,
            service: k % 2 === 0 ? "sip" : "pjsip",
            attempts: n % 11 === 0 ? 1.5 : 1,
          }),
        );
      }
    }
    const report = new OffenderReport(log);
    for (let i = 0; i < 3000; i += 3) report.markBanAt(i, 1_709_632_800_000 + i * 999);
    const result = resultOf(report);
    const { text, pieces } = written(result);
    assert.ok(pieces > 10, `${pieces} pieces`);
    assert.equal(text, stringified(result));
    const banned = { banned: { added: ["198.51.0.1"], skipped: [{ ip: "192.0.2.1", why: "allowlisted" }] } };
    assert.equal(written(result, banned).text, stringified(result, banned));
  });

  it("writes null for counts JSON cannot hold, as JSON.stringify does", () => {
    const result = { ...resultOf(new OffenderReport(new FailureLog())), linesRead: Number.POSITIVE_INFINITY };
    assert.equal(written(result).text, stringified(result));
    assert.match(written(result).text, /"linesRead": null,/);
  });
});
