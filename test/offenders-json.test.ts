import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { emptyStats } from "../src/detect/detector.js";
import { FailureLog } from "../src/report/failure-log.js";
import { OffenderReport } from "../src/report/offenders.js";
import { TEXTS_PER_WRITE, writeOffendersJson } from "../src/report/offenders-json.js";
import type { ScanResult } from "../src/report/scan-files.js";
import { failure } from "./helpers/events.js";
import { HOSTILE_USERS, stringified, written } from "./helpers/scan-json.js";

const T0 = 1_709_632_800_000;

function resultOf(report: OffenderReport): ScanResult {
  return { files: ["messages"], linesRead: 99, report, decisions: [], stats: emptyStats(), allowlisted: 0 };
}

/** How many offenders the WebAssembly writer wrote (undefined: it declined), and its pieces. */
function fromWasm(report: OffenderReport): { count: number | undefined; pieces: Buffer[] } {
  const pieces: Buffer[] = [];
  const count = writeOffendersJson(report, (bytes) => pieces.push(bytes), 4096);
  return { count, pieces };
}

describe("the offender list written in WebAssembly", () => {
  it("writes what JSON.stringify wrote for thousands of offenders with hostile texts and many reasons", () => {
    // More than an address's reason slots hold, none of them an array index.
    const reasons = [
      "Wrong password",
      'Bad "quoted"',
      "Ünïcödé",
      "ends with \\",
      "No matching peer found",
      "x1",
      "-1",
    ];
    const log = new FailureLog();
    for (let n = 0; n < 3000; n++) {
      // Addresses alike in their first characters and tied in failures, to test the order.
      const ip = n % 7 === 0 ? `2001:db8::${n.toString(16)}` : `198.51.${n >> 8}.${n & 255}`;
      for (let k = 0; k <= n % 9; k++) {
        log.add(
          failure(ip, T0 + n * 1000 - k * 37, {
            user: n % 5 === 0 ? undefined : HOSTILE_USERS[(n + k) % HOSTILE_USERS.length],
            reason: reasons[(n * 3 + k) % reasons.length]!,
            service: k % 3 === 0 ? "sip" : k % 3 === 1 ? "pjsip" : "ami",
            attempts: n % 11 === 0 ? 3 : 1,
          }),
        );
      }
    }
    const report = new OffenderReport(log);
    for (let i = 0; i < 3000; i += 3) report.markBanAt(i, T0 + i * 999);
    assert.ok(report.columns().moreReasons.size > 0, "some address has more reasons than slots");
    const { count, pieces } = fromWasm(report);
    assert.equal(count, 3000);
    assert.ok(pieces.length > 10, `${pieces.length} pieces`);
    const result = resultOf(report);
    assert.equal(written(result).text, stringified(result));
  });

  it("writes tables of more texts than one write takes, ASCII in one slice and not in another", () => {
    const log = new FailureLog();
    const n = TEXTS_PER_WRITE * 2 + 100;
    for (let k = 0; k < n; k++) {
      const ip = `10.${k >> 16}.${(k >> 8) & 255}.${k & 255}`;
      // Past the first slice of user names, one that is not ASCII.
      log.add(failure(ip, T0 + k, { user: k === TEXTS_PER_WRITE + 7 ? "ü😀" : `u${k}` }));
    }
    const report = new OffenderReport(log);
    assert.equal(fromWasm(report).count, n);
    const result = resultOf(report);
    assert.equal(written(result).text, stringified(result));
  });

  it("writes dates across the years it can, before 1970 too, as toISOString does", () => {
    const times = [0, -1, 951_782_400_000, 951_868_799_999, -62_167_219_200_000, 253_402_300_799_999, T0];
    const log = new FailureLog();
    times.forEach((t, k) => {
      log.add(failure(`192.0.2.${k}`, t));
      log.add(failure(`192.0.2.${k}`, t + (k % 2 === 0 ? 0 : -86_400_000)));
    });
    const report = new OffenderReport(log);
    report.markBanAt(1, -86_399_999);
    assert.equal(fromWasm(report).count, times.length);
    const result = resultOf(report);
    assert.equal(written(result).text, stringified(result));
  });

  it("writes an empty report", () => {
    const report = new OffenderReport(new FailureLog());
    assert.deepEqual(fromWasm(report), { count: 0, pieces: [] });
    assert.equal(written(resultOf(report)).text, stringified(resultOf(report)));
  });

  it("declines what it cannot write alike, and writes nothing then: the JavaScript writer does", () => {
    const cases: Array<[string, Partial<Parameters<typeof failure>[2]>, number]> = [
      ["a count that is not whole", { attempts: 1.5 }, T0],
      ["a time that is not a whole millisecond", {}, T0 + 0.5],
      ["a year past 9999", {}, 253_402_300_800_000],
      ["a year before 0", {}, -62_167_219_200_001],
      ["a reason that is an array index", { reason: "404" }, T0],
    ];
    for (const [what, extra, time] of cases) {
      const log = new FailureLog();
      log.add(failure("192.0.2.1", T0));
      log.add(failure("192.0.2.2", time, extra));
      const report = new OffenderReport(log);
      assert.deepEqual(fromWasm(report), { count: undefined, pieces: [] }, what);
      assert.equal(written(resultOf(report)).text, stringified(resultOf(report)), what);
    }
  });
});
