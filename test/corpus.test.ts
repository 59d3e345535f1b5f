import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Detector } from "../src/detect/detector.js";
import type { FailureEvent } from "../src/detect/event.js";
import { builtinRules } from "../src/detect/rules/index.js";
import { LineScanner } from "../src/sources/line-scanner.js";
import { readCorpus } from "./corpus-format.js";

process.env.TZ = "UTC";

const corpusDir = join(import.meta.dirname, "..", "..", "test", "corpus");
const cases = readCorpus(corpusDir);
const DEFAULT_REFERENCE = Date.parse("2024-03-10T12:00:00Z");

function run(lines: string[], reference: number): { events: FailureEvent[]; detector: Detector } {
  const events: FailureEvent[] = [];
  const detector = new Detector({ rules: builtinRules, referenceTime: reference }, (e) => events.push(e));
  // Through the real scanner: a line that holds no literal never reaches the detector.
  const scanner = new LineScanner(detector.literals(), {
    line: (text, offset) => detector.line(text, offset),
  });
  const buf = Buffer.from(`${lines.join("\n")}\n`, "utf8");
  scanner.scan(buf, buf.length);
  detector.flush();
  return { events, detector };
}

describe("detector corpus", () => {
  for (const c of cases) {
    const title = `${c.file}:${c.lineNo} ${c.comment}`;
    it(title, () => {
      const reference = c.reference ? Date.parse(`${c.reference}Z`) : DEFAULT_REFERENCE;
      const { events, detector } = run(c.lines, reference);
      const got = events.map((e) => `${e.rule} ${e.ip}`);
      const want = c.expect.map((e) => `${e.rule} ${e.ip}`);
      assert.deepEqual(got, want, `events for:\n${c.lines.join("\n")}`);
      if (c.ambiguous)
        assert.ok(detector.stats.ambiguous > 0, "expected the line to be counted as ambiguous");
      c.expect.forEach((exp, i) => {
        const ev = events[i]!;
        for (const [key, value] of Object.entries(exp.fields)) {
          switch (key) {
            case "port":
              assert.equal(String(ev.port), value, "port");
              break;
            case "reason":
              assert.ok(ev.reason.includes(value), `reason "${ev.reason}" should contain "${value}"`);
              break;
            case "user":
              assert.equal(ev.user, value, "user");
              break;
            case "time":
              assert.equal(new Date(ev.time).toISOString(), new Date(`${value}Z`).toISOString(), "time");
              break;
            case "attempts":
              assert.equal(String(ev.attempts), value, "attempts");
              break;
            case "instant":
              assert.equal(String(ev.instant), value, "instant");
              break;
            case "service":
              assert.equal(ev.service, value, "service");
              break;
            default:
              assert.fail(`unknown expectation key ${key}`);
          }
        }
      });
    });
  }

  it("has a sample for every rule", () => {
    const covered = new Set(cases.flatMap((c) => c.expect.map((e) => e.rule)));
    const missing = builtinRules.map((r) => r.id).filter((id) => !covered.has(id));
    assert.deepEqual(missing, [], "rules without a positive sample in test/corpus");
  });

  it("holds at least 200 lines and 25 injection attempts", () => {
    const lines = cases.reduce((n, c) => n + c.lines.length, 0);
    const injections = cases.filter((c) => /inject|forged|crafted|hostile/i.test(c.comment)).length;
    assert.ok(lines >= 200, `only ${lines} corpus lines`);
    assert.ok(injections >= 25, `only ${injections} injection cases`);
  });
});
