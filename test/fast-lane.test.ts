import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DEFAULT_PARAMS, generate } from "../bench/generate-log.js";
import { Detector } from "../src/detect/detector.js";
import type { FailureEvent } from "../src/detect/event.js";
import { builtinRules } from "../src/detect/rules/index.js";
import { LineScanner } from "../src/sources/line-scanner.js";

// The fast lane must give the general reader's answer for every line, or leave the line to it.
// Each input is read twice, with and without the fast lane, and everything that comes out is
// compared: the events with every field, and the counters.

process.env.TZ = "UTC";
const root = join(import.meta.dirname, "..", "..");
const REFERENCE = Date.parse("2024-03-10T12:00:00Z");

interface Reading {
  events: FailureEvent[];
  stats: Detector["stats"];
  fastLines: number;
}

function read(text: string | Buffer, fastLane: boolean, keepLines = true): Reading {
  const detector = new Detector({ rules: builtinRules, referenceTime: REFERENCE, fastLane, keepLines });
  const events: FailureEvent[] = [];
  const emit = (e: FailureEvent) => events.push({ ...e });
  const scanner = new LineScanner(detector.literals(), {
    line: (buf, start, stop, offset, plain) => detector.rawLine(buf, start, stop, offset, plain, emit),
  });
  let buf = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  if (buf[buf.length - 1] !== 0x0a) buf = Buffer.concat([buf, Buffer.from("\n")]);
  scanner.scan(buf, buf.length);
  detector.flush(emit);
  return { events, stats: { ...detector.stats }, fastLines: detector.fastLines };
}

/** Reads `text` both ways and asserts the same result; returns how many lines the fast lane took. */
function assertSameReading(text: string | Buffer, label: string): number {
  const fast = read(text, true);
  const general = read(text, false);
  assert.equal(general.fastLines, 0);
  assert.deepEqual(fast.events, general.events, `events differ for ${label}`);
  assert.deepEqual(fast.stats, general.stats, `counters differ for ${label}`);
  return fast.fastLines;
}

// One line of each format the fast lane reads, in the layouts it reads.
const TEMPLATES = [
  `[Mar  5 10:00:01] NOTICE[12311] chan_sip.c: Registration from '"1001" <sip:1001@192.0.2.10>' failed for '198.51.100.7:5060' - Wrong password`,
  `[Mar  5 10:00:01] NOTICE[12311][C-0000001f] chan_sip.c: Registration from '<sips:admin@192.0.2.10;transport=tls>' failed for '198.51.100.7' - ACL error (permit/deny)`,
  `[Mar  5 10:00:01] NOTICE[12406][C-0000000a] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:6442@192.0.2.10>' failed for '[2001:db8::5]:5075' (callid: 0256abc@x) - No matching endpoint found`,
  `[2024-03-05 10:00:02.123] NOTICE[1]: res_pjsip/pjsip_distributor.c: Request from '"x" <sip:9@h>' failed for '2001:db8::7:5060' (callid: a) - Failed to authenticate`,
  `[2024-03-05 10:00:02] NOTICE[1]: chan_sip.c: Call from '' (198.51.100.8:5060) to extension '900972599999999' rejected because extension not found in context 'public'.`,
  `[Mar  5 10:00:03] NOTICE[12] res_pjsip_session.c: Call from 'anonymous' (UDP:198.51.100.9:5060) to extension '011' rejected because extension not found in context 'default'.`,
  `[Mar  5 10:00:03] NOTICE[12] res_pjsip_session.c:   anonymous: Call (WSS:[2001:db8::9]:5061) to extension '011' rejected because extension not found in context 'default'.`,
  `[Mar  5 10:00:04] NOTICE[12] chan_iax2.c: No registration for peer 'admin' (from 198.51.100.10)`,
  `[1709632805] NOTICE[12] manager.c: 198.51.100.11 failed to authenticate as 'admin'`,
];

// What mutations insert: the formats' own delimiters, addresses, quotes, spaces, brackets.
const PIECES = [
  "'",
  " ",
  "  ",
  "\t",
  "(",
  ")",
  ":",
  "[",
  "]",
  "/",
  "@",
  "sip:",
  "sips:u@",
  "' failed for '",
  "' failed for '192.0.2.66' - Wrong password",
  "' - ",
  ") - ",
  " ms",
  " after 5 tries in 3.2 ms",
  "' (callid: ",
  "' (from ",
  ") to extension '",
  ": Call (",
  "UDP:",
  "WS:",
  "' rejected because extension not found in context 'x'.",
  "'.",
  "1.2.3.4",
  "192.0.2.66:5060",
  "[2001:db8::66]:5060",
  "::ffff:192.0.2.66",
  "Wrong password",
  "Failed to authenticate",
  "Registration from '",
  "Call from '",
  "Request '",
  "chan_sip.c: ",
  "manager.c",
  "Ext. ",
  '",RemoteAddress="IPV4/UDP/192.0.2.66/5060"',
  "bytes packet from ",
  "C-",
  "0",
  "x",
  "é",
];

/** A deterministic pseudo-random source (the same cases on every run). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

function mutate(line: string, next: () => number): string {
  let s = line;
  const roll = next();
  const edits = roll < 0.6 ? 1 : roll < 0.9 ? 2 : 3;
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(next() * (s.length + 1));
    const kind = next();
    if (kind < 0.6) s = s.slice(0, at) + PIECES[Math.floor(next() * PIECES.length)]! + s.slice(at);
    else if (kind < 0.8) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(next() * 4));
    else s = s.slice(0, at) + PIECES[Math.floor(next() * PIECES.length)]! + s.slice(at + 1);
  }
  return s;
}

describe("fast lane", () => {
  it("reads every template line, and as the general reader does", () => {
    for (const line of TEMPLATES) {
      assert.equal(assertSameReading(line, line), 1, `the fast lane reads: ${line}`);
      assert.equal(read(line, true).events.length, 1, `an event for: ${line}`);
    }
  });

  it("gives the general reader's answer on thousands of mutated lines, one by one and together", () => {
    const next = random(20_241_121);
    const lines: string[] = [];
    let fast = 0;
    for (let i = 0; i < 6000; i++) {
      const line = mutate(TEMPLATES[i % TEMPLATES.length]!, next);
      lines.push(line);
      fast += assertSameReading(line, JSON.stringify(line));
    }
    // The mutations must reach both sides of every check.
    assert.ok(fast > 400 && fast < 5000, `the fast lane read ${fast} of 6000 mutated lines`);
    assertSameReading(lines.join("\n"), "all mutated lines in one input");
  });

  it("gives the general reader's answer on the corpus, the sample log and a generated log", () => {
    const corpus = join(root, "test", "corpus");
    let fast = 0;
    for (const name of readdirSync(corpus)) fast += assertSameReading(readFileSync(join(corpus, name)), name);
    fast += assertSameReading(
      readFileSync(join(root, "examples", "asterisk-messages.log")),
      "the sample log",
    );
    assert.ok(fast > 50, `the fast lane read ${fast} corpus and sample lines`);
    const dir = mkdtempSync(join(tmpdir(), "sipban-fast-lane-"));
    try {
      const path = join(dir, "messages.log");
      generate({ ...DEFAULT_PARAMS, lines: 30_000, prefixLines: 10, seed: 7 }, path);
      const log = readFileSync(path);
      assert.ok(assertSameReading(log, "a generated log") > 3000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("leaves the lines out of events only when asked to", () => {
    const kept = read(TEMPLATES.join("\n"), true);
    const dropped = read(TEMPLATES.join("\n"), true, false);
    assert.ok(kept.events.every((e) => typeof e.line === "string" && e.line.length > 0));
    assert.deepEqual(
      dropped.events,
      kept.events.map((e) => ({ ...e, line: undefined })),
    );
  });
});
