import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultConfig } from "../src/config/defaults.js";
import { Detector } from "../src/detect/detector.js";
import type { FailureEvent } from "../src/detect/event.js";
import { buildRules } from "../src/detect/ruleset.js";
import { TimestampParser } from "../src/detect/timestamp.js";

const DAY = 24 * 3600_000;

describe("yearless dates", () => {
  it("take the reference's year, or the year before when they would be in the future", () => {
    const parser = new TimestampParser(new Date(2024, 0, 2, 12).getTime());
    assert.equal(new Date(parser.parse("Jan  2 10:00:01")).getFullYear(), 2024);
    assert.equal(new Date(parser.parse("Dec 31 23:59:59")).getFullYear(), 2023, "read just after New Year");
    assert.equal(parser.parse("12-31 23:59:59.5"), new Date(2023, 11, 31, 23, 59, 59, 500).getTime());
    assert.equal(parser.parse("01-03 10:00:00"), new Date(2024, 0, 3, 10).getTime(), "within the slack");
  });

  it("are read in local time to the millisecond, across daylight-saving changes, in every spacing", () => {
    const saved = process.env.TZ;
    const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const two = (n: number) => String(n).padStart(2, "0");
    try {
      // New York moves its clocks by an hour, Lord Howe Island by half an hour.
      for (const zone of ["America/New_York", "Australia/Lord_Howe", "UTC"]) {
        process.env.TZ = zone;
        const parser = new TimestampParser(new Date(2024, 11, 31, 23).getTime());
        const days: Array<[number, number]> = [
          [2, 10],
          [3, 3],
          [3, 7],
          [9, 6],
          [10, 3],
          [11, 31],
        ];
        for (const [month, day] of days) {
          for (let minute = 0; minute < 24 * 60; minute += 7) {
            const h = Math.floor(minute / 60);
            const mi = minute % 60;
            const s = (minute * 13) % 60;
            const ms = minute % 1000;
            const expected = new Date(2024, month, day, h, mi, s, ms).getTime();
            const text = `${months[month]} ${String(day).padStart(2, " ")} ${two(h)}:${two(mi)}:${two(s)}`;
            assert.equal(
              parser.parse(`${text}.${String(ms).padStart(3, "0")}`),
              expected,
              `${zone} ${text}.${ms}`,
            );
            assert.equal(parser.parse(text), expected - ms, `${zone} ${text}`);
          }
        }
      }
    } finally {
      process.env.TZ = saved;
      if (saved === undefined) delete process.env.TZ;
    }
  });

  it("take the spellings the syslog format allows, and no others", () => {
    const parser = new TimestampParser(new Date(2024, 5, 1).getTime());
    const at = new Date(2024, 2, 5, 10, 0, 1).getTime();
    assert.equal(parser.parse("Mar  5 10:00:01"), at);
    assert.equal(parser.parse("Mar 5 10:00:01"), at);
    assert.equal(parser.parse("Mar   5 10:00:01"), at);
    assert.equal(parser.parse("Mar 05 10:00:01"), at);
    assert.equal(parser.parse("Mar  5 10:00:01.5"), at + 500);
    assert.equal(parser.parse("Mar  5 10:00:01.123456"), at + 123);
    // Out-of-range fields roll over as Date rolls them, whatever line came before.
    for (const [text, expected] of [
      ["Mar 32 10:00:01", new Date(2024, 2, 32, 10, 0, 1)],
      ["Apr  0 10:00:02", new Date(2024, 3, 0, 10, 0, 2)],
      ["Mar 31 24:00:00", new Date(2024, 2, 31, 24, 0, 0)],
      ["Apr  0 00:00:00", new Date(2024, 3, 0, 0, 0, 0)],
      ["Mar  5 10:00:60", new Date(2024, 2, 5, 10, 0, 60)],
    ] as const)
      assert.equal(parser.parse(text), expected.getTime(), text);
    assert.ok(
      Number.isNaN(parser.parse("M\u0000\u6172  5 10:00:01")),
      "a wide character is not a month's letter",
    );
    for (const bad of [
      "Mar  5 10:00:01.",
      "Mar  5 10:0:01",
      "Mxr  5 10:00:01",
      "Mar  5 10:00:01x",
      "mar  5 10:00:01",
    ])
      assert.ok(Number.isNaN(parser.parse(bad)), bad);
  });

  it("follow a moving clock: a source read live for weeks keeps dating its lines in the present", () => {
    let now = new Date(2024, 2, 5, 10).getTime();
    const parser = new TimestampParser(now, () => now);
    assert.equal(parser.parse("Mar  5 10:00:01"), new Date(2024, 2, 5, 10, 0, 1).getTime());
    now += 20 * DAY;
    assert.equal(parser.parse("Mar 25 10:00:01"), new Date(2024, 2, 25, 10, 0, 1).getTime());
    now = new Date(2025, 0, 1, 0, 0, 5).getTime();
    assert.equal(parser.parse("Jan  1 00:00:04"), new Date(2025, 0, 1, 0, 0, 4).getTime(), "across New Year");
    assert.equal(parser.parse("Dec 31 23:59:59"), new Date(2024, 11, 31, 23, 59, 59).getTime());
  });

  it("are dated in the present by a detector following a live source, however long it has run", () => {
    let now = new Date(2024, 2, 5, 10).getTime();
    const events: FailureEvent[] = [];
    const detector = new Detector({ rules: buildRules(defaultConfig().detect), clock: () => now }, (e) =>
      events.push(e),
    );
    now += 30 * DAY;
    const line =
      "[Apr  4 10:00:01] NOTICE[4242] chan_sip.c: Registration from '<sip:100@192.0.2.10>' failed for '203.0.113.5:5060' - Wrong password";
    detector.line(line, 0);
    detector.flush();
    assert.equal(events.length, 1);
    assert.equal(events[0]!.time, new Date(2024, 3, 4, 10, 0, 1).getTime());
  });
});
