import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultConfig } from "../src/config/defaults.js";
import { DateFormat } from "../src/detect/dateformat.js";
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

describe("a configured dateformat (Asterisk's logger.conf)", () => {
  const reference = new Date(2026, 5, 1, 12).getTime();
  const parserFor = (format: string) => new TimestampParser(reference, undefined, DateFormat.compile(format));
  const local = (...fields: [number, number, number, number?, number?, number?, number?]) =>
    new Date(...fields).getTime();

  // Format, date text (as read: without the spaces around it), time.
  const read: Array<[string, string, number]> = [
    ["%d/%m/%Y %T", "05/03/2026 10:00:01", local(2026, 2, 5, 10, 0, 1)],
    // Without the format, "05-03" is month first (the 3rd of May).
    ["%d-%m %T", "05-03 10:00:01", local(2026, 2, 5, 10, 0, 1)],
    ["%F %T.%3q", "2026-03-05 10:00:01.123", local(2026, 2, 5, 10, 0, 1, 123)],
    ["%d.%m.%y %H:%M:%S,%6q", "05.03.26 10:00:01,123456", local(2026, 2, 5, 10, 0, 1, 123)],
    ["%a %b %e %Y %r", "Thu Mar  5 2026 10:00:01 PM", local(2026, 2, 5, 22, 0, 1)],
    ["%B %d %l:%M %p", "March 05 12:30 AM", local(2026, 2, 5, 0, 30)],
    ["%B %d %I:%M %p", "March 05 12:30 PM", local(2026, 2, 5, 12, 30)],
    // %p beside a 24-hour clock says nothing more.
    ["%d/%m/%Y %H:%M %p", "05/03/2026 22:00 PM", local(2026, 2, 5, 22)],
    ["%s.%6q", "1709632801.123456", 1_709_632_801_123],
    ["%Y-%m-%dT%H:%M:%S%z", "2026-03-05T10:00:01-0130", Date.UTC(2026, 2, 5, 11, 30, 1)],
    ["%d/%m/%Y %T%z", "05/03/2026 10:00:01+0530", Date.UTC(2026, 2, 5, 4, 30, 1)],
    ["%d/%m %T %z", "05/03 10:00:01 +0100", Date.UTC(2026, 2, 5, 9, 0, 1)],
    ["%d/%m %T %z", "31/12 23:00:00 +0000", Date.UTC(2025, 11, 31, 23)],
    ["%A %d %b %Y %T %Z", "Thursday 05 Mar 2026 10:00:01 CET", local(2026, 2, 5, 10, 0, 1)],
    ["%d/%m/%Y %T %Z", "05/03/2026 10:00:01 +04", local(2026, 2, 5, 10, 0, 1)],
    // Yearless: the reference's year, or the one before when that would be ahead.
    ["%d/%m %T", "31/12 23:59:59", local(2025, 11, 31, 23, 59, 59)],
    ["%d/%m/%Y %T", "29/02/2028 10:00:01", local(2028, 1, 29, 10, 0, 1)],
    // Space-padded fields, where the date starts and inside it.
    ["%e/%m/%Y %T", "5/03/2026 10:00:01", local(2026, 2, 5, 10, 0, 1)],
    ["%e/%m/%Y %T", "15/03/2026 10:00:01", local(2026, 2, 15, 10, 0, 1)],
    ["%k:%M %d.%m.%Y", "9:05 05.03.2026", local(2026, 2, 5, 9, 5)],
    ["%b %e %T", "Mar  5 10:00:01", local(2026, 2, 5, 10, 0, 1)],
    ["%%F %d/%m %T", "%F 05/03 10:00:01", local(2026, 2, 5, 10, 0, 1)],
    // %y as strptime reads it.
    ["%d/%m/%y %T", "05/03/68 10:00:01", local(2068, 2, 5, 10, 0, 1)],
    ["%d/%m/%y %T", "05/03/69 10:00:01", local(1969, 2, 5, 10, 0, 1)],
    // A date of another form still reads as it would without the format.
    ["%d.%m.%Y %T", "2026-03-05 10:00:01", local(2026, 2, 5, 10, 0, 1)],
  ];
  for (const [format, text, time] of read)
    it(`reads "${text}" written by "${format}"`, () => assert.equal(parserFor(format).parse(text), time));

  it("puts February's 29th without a year in the last leap year, with or without a format", () => {
    assert.equal(parserFor("%d/%m %T").parse("29/02 10:00:01"), local(2024, 1, 29, 10, 0, 1));
    assert.equal(new TimestampParser(reference).parse("Feb 29 10:00:01"), local(2024, 1, 29, 10, 0, 1));
    assert.equal(parserFor("%d/%m %T %z").parse("29/02 10:00:00 +0000"), Date.UTC(2024, 1, 29, 10));
    // In a leap year, its own (and the one before it when read in January, 4 years back).
    assert.equal(
      new TimestampParser(new Date(2028, 5, 1).getTime()).parse("Feb 29 10:00:01"),
      local(2028, 1, 29, 10, 0, 1),
    );
    assert.equal(
      new TimestampParser(new Date(2028, 0, 10).getTime()).parse("Feb 29 10:00:01"),
      local(2024, 1, 29, 10, 0, 1),
    );
  });

  it("knows the day-first date only from the format", () => {
    assert.ok(Number.isNaN(new TimestampParser(reference).parse("05/03/2026 10:00:01")));
    assert.equal(new TimestampParser(reference).parse("05-03 10:00:01"), local(2026, 4, 3, 10, 0, 1));
  });

  // Format, text it did not write (nor any form read without a format).
  const refused: Array<[string, string]> = [
    ["%d.%m.%Y %T", "05x03x2026 10:00:01"],
    ["%d.%m.%Y %T", "5.03.2026 10:00:01"],
    ["%d.%m.%Y %T", "32.03.2026 10:00:01"],
    ["%d.%m.%Y %T", "05.13.2026 10:00:01"],
    ["%d.%m.%Y %T", "05.00.2026 10:00:01"],
    ["%d.%m.%Y %T", "05.03.2026 24:00:01"],
    ["%d/%m/%Y %T", "31/04/2026 10:00:01"],
    ["%d/%m/%Y %T", "29/02/2026 10:00:01"],
    ["%I:%M %p %d/%m/%Y", "13:00 PM 05/03/2026"],
    ["%I:%M %p %d/%m/%Y", "00:30 AM 05/03/2026"],
    ["%d/%m/%Y %T %z", "05/03/2026 10:00:01 +0099"],
    ["%s", "1710000000123"],
  ];
  for (const [format, text] of refused)
    it(`does not read "${text}" as written by "${format}"`, () =>
      assert.ok(Number.isNaN(parserFor(format).parse(text))));

  it("refuses a format it could not read back, saying why", () => {
    assert.throws(() => DateFormat.compile("%d/%m/%Y %Q"), /%Q is not a conversion sipban can read back/);
    assert.throws(() => DateFormat.compile("%Y %j %T"), /%j is not a conversion/);
    assert.throws(() => DateFormat.compile("%d/%m 100%"), /ends with a lone %/);
    assert.throws(() => DateFormat.compile("%H:%M:%S"), /writes no day and month/);
    assert.throws(() => DateFormat.compile("%d %T"), /writes no day and month/);
    assert.throws(
      () => DateFormat.compile("%d/%m]%T"),
      /writes a \], which cannot be told from the one that ends/,
    );
    assert.throws(
      () => DateFormat.compile("%A %d %B %Y %T %A %B %A %B %A"),
      /writes dates of up to 86 bytes; sipban reads at most 64/,
    );
    // Bytes, as the layouts read them: 30 "é" are 60.
    assert.throws(() => DateFormat.compile(`${"é".repeat(30)} %d/%m %T`), /up to 75 bytes/);
    assert.doesNotThrow(() => DateFormat.compile("%s"));
    assert.doesNotThrow(() => DateFormat.compile("%e %h %T %%"));
  });
});
