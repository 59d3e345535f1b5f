import assert from "node:assert/strict";
import { existsSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { DEFAULT_PARAMS, generate } from "../bench/generate-log.js";
import { defaultConfig } from "../src/config/defaults.js";
import { Detector, type DetectorStats, ReadAgain } from "../src/detect/detector.js";
import type { FailureEvent } from "../src/detect/event.js";
import type { Rule } from "../src/detect/rule.js";
import { builtinRules } from "../src/detect/rules/index.js";
import { buildRules } from "../src/detect/ruleset.js";
import { FailureLog, type LogMark } from "../src/report/failure-log.js";
import { scanFiles } from "../src/report/scan-files.js";
import { LineScanner } from "../src/sources/line-scanner.js";
import { WasmLineSearch } from "../src/sources/line-search.js";
import { readCorpus } from "./corpus-format.js";
import { tempDir } from "./helpers/temp-dir.js";

// The WebAssembly parser (assembly/line-parse.ts) reads the common failure lines instead of the
// rules. It must never change an answer: every test here feeds the same lines with and without
// it and wants the same events, in the same order, and the same counts.

process.env.TZ = "UTC";

const REFERENCE = Date.parse("2024-03-10T12:00:00Z");
const rollback = FailureLog.prototype.rollback;
/** A security event for an attempt from 198.51.100.44: after failures read as numbers, it has a file read again. */
const SECURITY_EVENT = `[Mar  5 10:00:03] SECURITY[1] res_security_log.c: SecurityEvent="InvalidPassword",EventTV="2024-03-05T10:00:03.000+0000",Severity="Error",Service="SIP",EventVersion="2",AccountID="1001",SessionID="0x1",LocalAddress="IPV4/UDP/192.0.2.10/5060",RemoteAddress="IPV4/UDP/198.51.100.44/5060",Challenge="1",ReceivedChallenge="1",ReceivedHash="1"`;
const wasmReason = WasmLineSearch.create([Buffer.from("x")], Buffer.alloc(0))
  ? undefined
  : "no WebAssembly SIMD here";

interface Outcome {
  events: Array<Omit<FailureEvent, "line">>;
  stats: DetectorStats;
  /** Lines the detector took from the parser. */
  parsed: number;
}

function detect(text: string, parsedLines: boolean, rules: readonly Rule[] = builtinRules): Outcome {
  const events: Array<Omit<FailureEvent, "line">> = [];
  const detector = new Detector({ rules, referenceTime: REFERENCE, parsedLines }, (e) => {
    const { line: _text, ...rest } = e;
    events.push(rest);
  });
  let parsed = 0;
  const sink = {
    line: (t: string, offset: number) => detector.line(t, offset),
    parser: detector.parser,
    parsed(fields: Int32Array, at: number, chunk: Buffer, offset: number, length: number) {
      const took = detector.parsed(fields, at, chunk, offset, length);
      if (took) parsed++;
      return took;
    },
  };
  const scanner = new LineScanner(detector.literals(), sink);
  const buf = Buffer.from(text.endsWith("\n") ? text : `${text}\n`, "utf8");
  scanner.scan(buf, buf.length);
  detector.flush();
  return { events, stats: detector.stats, parsed };
}

interface Counted {
  /**
   * The failures a log counted, in order, as text, then each address's users as listed (a
   * failure's own user is kept only while its address lists fewer than ten).
   */
  failures: string[];
  stats: DetectorStats;
  /** The detector asked for the input again (see ReadAgain); the answers are the second reading's. */
  readAgain: boolean;
}

/**
 * The failures counted into a FailureLog, as scan counts them: with `numbers`, the parser's
 * lines go in as numbers (and the text is read again, the parser's lines as events, when the
 * detector asks), else every failure comes as an event, none through the parser.
 */
function count(text: string, numbers: boolean, rules: readonly Rule[] = builtinRules): Counted {
  const read = (parsedLines: boolean, asNumbers: boolean) => {
    const log = new FailureLog();
    const detector = new Detector(
      {
        rules,
        referenceTime: REFERENCE,
        parsedLines,
        parsedFailures: asNumbers ? log : undefined,
      },
      (e) => log.add(e),
    );
    const scanner = new LineScanner(detector.literals(), detector);
    const buf = Buffer.from(text.endsWith("\n") ? text : `${text}\n`, "utf8");
    scanner.scan(buf, buf.length);
    detector.flush();
    const failures: string[] = [];
    const offenders = new Set<number>();
    log.forEachCounted((offender, time, attempts, reason, service) => {
      offenders.add(offender);
      failures.push(
        `${log.ipOf(offender)} ${time} ${attempts} ${log.services.text(service)} ${JSON.stringify(log.reasons.text(reason))}`,
      );
    });
    for (const offender of offenders)
      failures.push(`${log.ipOf(offender)} users ${JSON.stringify(log.usersOf(offender))}`);
    return { failures, stats: { ...detector.stats }, readAgain: false };
  };
  if (!numbers) return read(false, false);
  try {
    return read(true, true);
  } catch (err) {
    if (!(err instanceof ReadAgain)) throw err;
    // As scan reads a file again: the parser's lines as events.
    return { ...read(true, false), readAgain: true };
  }
}

/** The same answers with and without the parser; returns how many lines the parser gave. */
function assertSame(text: string, rules?: readonly Rule[]): number {
  const withParser = detect(text, true, rules);
  const without = detect(text, false, rules);
  assert.equal(without.parsed, 0);
  assert.deepEqual(withParser.events, without.events, `events for:\n${text}`);
  assert.deepEqual(withParser.stats, without.stats, `counts for:\n${text}`);
  // And the same failures counted when the parser's lines go in as numbers.
  const asNumbers = count(text, true, rules);
  const asEvents = count(text, false, rules);
  assert.deepEqual(asNumbers.failures, asEvents.failures, `failures counted for:\n${text}`);
  assert.deepEqual(asNumbers.stats, asEvents.stats, `counts (as numbers) for:\n${text}`);
  return withParser.parsed;
}

const PREFIX = "[Mar  5 10:00:01] NOTICE[12311] chan_sip.c: ";
const AMI = "[Mar  5 10:00:04] NOTICE[12500] manager.c: ";
const EXT = "[Mar  5 10:00:05] WARNING[13361][C-0000002b] Ext. 1141: ";
const SHAPES = [
  "[Mar  5 10:00:01] NOTICE[12311] chan_sip.c: Registration from '\"100\" <sip:100@192.0.2.10>' failed for '198.51.100.7:5060' - Wrong password",
  "[Mar  5 10:00:01] NOTICE[12311] chan_sip.c: Registration from '<sips:admin@192.0.2.10>' failed for '[2001:db8::7]:5061' - No matching peer found",
  "[2024-03-05 10:00:01.123] NOTICE[12400] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:1000@192.0.2.10>' failed for '198.51.100.8:5070' (callid: 3c2d-41@x) - Failed to authenticate",
  "[Mar  5 10:00:02] NOTICE[12400] res_pjsip/pjsip_distributor.c: Request from '\"x\" <sip:x@h>' failed for '2001:db8::8:5060' (callid: abc) - No matching endpoint found",
  "[Mar  5 10:00:02] NOTICE[12311][C-0000002a] chan_sip.c: Call from '' (198.51.100.9:5062) to extension '900972599999999' rejected because extension not found in context 'default'.",
  "[Mar  5 10:00:02] NOTICE[12401][C-0000002b] res_pjsip_session.c: Call from 'anonymous' (UDP:2001:db8::9:5060) to extension '011441234567890' rejected because extension not found in context 'anonymous'.",
  "[Mar  5 10:00:03] NOTICE[12402][C-0000002c] res_pjsip_session.c:  anonymous: Call (WSS:198.51.100.10:5066) to extension '9011441234' rejected because extension not found in context 'public'.",
  "[1709632803] NOTICE[12322] chan_iax2.c: No registration for peer 'guest' (from 198.51.100.11)",
  "[Mar  5 10:00:04] NOTICE[12500] manager.c: 198.51.100.12 tried to authenticate with nonexistent user 'admin'",
  "[Mar  5 10:00:04] NOTICE[12500] manager.c: 198.51.100.12 failed to authenticate as 'admin'",
  "[2024-03-05 10:00:05] NOTICE[12501] manager.c: 2001:db8::12 failed to pass IP ACL as 'monitor'",
];

describe("WebAssembly line parser", { skip: wasmReason }, () => {
  it("reads each common failure line as its rule does", () => {
    for (const line of SHAPES) assert.equal(assertSame(line), 1, `not parsed: ${line}`);
  });

  it("gives the same answers on every corpus case, and parses some of them", () => {
    let parsed = 0;
    for (const c of readCorpus(join(import.meta.dirname, "..", "..", "test", "corpus"))) {
      parsed += assertSame(c.lines.join("\n"));
    }
    assert.ok(parsed >= 20, `only ${parsed} corpus lines parsed`);
  });

  it("tells apart texts that differ in one byte only, wherever it stands", () => {
    // The parser numbers texts and compares dates a word at a time: a byte missed in any word,
    // or in a last partial word, would merge two users, two addresses or two times.
    const lines: string[] = [];
    const register = (user: string, ip: string) =>
      `[Mar  5 10:00:01] NOTICE[12311] chan_sip.c: Registration from '"x" <sip:${user}@192.0.2.10>' failed for '${ip}' - Wrong password`;
    for (let length = 1; length <= 40; length++) {
      const base = "a".repeat(length);
      for (const at of new Set([0, 7, 8, 15, 16, 23, 24, length - 1])) {
        if (at >= length) continue;
        const other = `${base.slice(0, at)}b${base.slice(at + 1)}`;
        lines.push(register(base, "198.51.100.7:5060"), register(other, "198.51.100.7:5060"));
      }
      const v6 = `2001:db8::${"1:".repeat(Math.min(4, length >> 3))}${"f".repeat(1 + (length % 4))}`;
      lines.push(register("u", `[${v6}]:5060`), register("u", `[${v6.slice(0, -1)}e]:5060`));
    }
    for (const ms of ["123", "124", "124", "125", "135", "235"])
      lines.push(
        `[2024-03-05 10:00:01.${ms}] NOTICE[12400] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:1000@192.0.2.10>' failed for '198.51.100.8:5070' (callid: 3c2d-41@x) - Failed to authenticate`,
      );
    assert.equal(assertSame(lines.join("\n")), lines.length);
  });

  it("leaves hostile and unusual lines to the rules, with the same answers", () => {
    const variants = [
      // More than one delimiter, or one hidden in the attacker's text.
      `${PREFIX}Registration from 'x' failed for '192.0.2.66' - Wrong password' failed for '198.51.100.7' - Wrong password`,
      "[Mar  5 10:00:01] NOTICE[1] res_pjsip/pjsip_distributor.c: Request 'INVITE' from '<sip:a@b>' failed for '198.51.100.8:5060' (callid: ' failed for '192.0.2.66:5060' (callid: x) - Failed to authenticate",
      "[Mar  5 10:00:01] NOTICE[1] res_pjsip/pjsip_distributor.c: Request 'INVITE' from ''' failed for ' failed for '198.51.100.8:5060' (callid: x) - Failed to authenticate",
      `${PREFIX}Call from 'x) to extension 'y' (192.0.2.66) to extension '1' rejected because extension not found in context 'c'.`,
      // The delimiter starting on the quote that opens the From: the rule sees it twice.
      "[Mar  5 10:00:01] NOTICE[1] res_pjsip/pjsip_distributor.c: Request from ' failed for 'x' failed for '198.51.100.8:5060' (callid: c) - Failed to authenticate",
      "[Mar  5 10:00:01] NOTICE[1] res_pjsip/pjsip_distributor.c: Request 'INVITE' from ' failed for '<sip:evil@h>' failed for '198.51.100.8:5060' (callid: c) - Failed to authenticate",
      // "after N tries" is a running count: the rules' job.
      "[Mar  5 10:00:01] NOTICE[1] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:a@b>' failed for '198.51.100.8:5060' (callid: x) - Failed to authenticate after 7 tries in 3.0 ms",
      // Addresses the rules refuse, or read in a way of their own.
      `${PREFIX}Registration from '<sip:a@b>' failed for '999.1.2.3:5060' - Wrong password`,
      `${PREFIX}Registration from '<sip:a@b>' failed for 'pbx.example.com:5060' - Wrong password`,
      `${PREFIX}Registration from '<sip:a@b>' failed for '::ffff:198.51.100.7' - Wrong password`,
      `${PREFIX}Registration from '<sip:a@b>' failed for 'fe80::1%eth0' - Wrong password`,
      `${PREFIX}Registration from '<sip:a@b>' failed for '2001:db8::1:5060' - Wrong password`,
      `${PREFIX}Registration from '<sip:a@b>' failed for '198.51.100.7:99999' - Wrong password`,
      `${PREFIX}Call from '' (UDP:) to extension '1' rejected because extension not found in context 'c'.`,
      `${PREFIX}Call from '' (TLS:198.51.100.7:5061) to extension '' rejected because extension not found in context ''.`,
      // Users: long, none, odd URIs, UTF-8.
      `${PREFIX}Registration from '<sip:${"a".repeat(64)}@b>' failed for '198.51.100.7' - Wrong password`,
      `${PREFIX}Registration from '<sip:${"a".repeat(65)}@b> <sip:ok@b>' failed for '198.51.100.7' - Wrong password`,
      `${PREFIX}Registration from '<sip:a;b@c> sips:x sip:@ sips:y@z' failed for '198.51.100.7' - Wrong password`,
      `${PREFIX}Registration from '<sip:usér@b>' failed for '198.51.100.7' - Wrong password`,
      `${PREFIX}Call from '' (198.51.100.9) to extension '${"9".repeat(40)}' rejected because extension not found in context 'x'.`,
      // AMI: the user is everything between the phrase's quote and the line's last byte.
      `${AMI}198.51.100.12 failed to authenticate as ''`,
      `${AMI}198.51.100.12 failed to authenticate as '`,
      `${AMI}198.51.100.12 failed to authenticate as 'it's' failed to authenticate as 'x'`,
      `${AMI}198.51.100.12 failed to authenticate as 'admin' `,
      `${AMI}198.51.100.12 failed to authenticate as admin'`,
      `${AMI}198.51.100.12  failed to authenticate as 'admin'`,
      `${AMI} 198.51.100.12 failed to authenticate as 'admin'`,
      `${AMI}198.51.100.12:5038 failed to authenticate as 'admin'`,
      `${AMI}pbx.example.com failed to authenticate as 'admin'`,
      `${AMI}::ffff:198.51.100.12 tried to authenticate with nonexistent user 'x'`,
      `${AMI}198.51.100.12 failed to pass IP ACL as '${"a".repeat(70)}'`,
      `${AMI}198.51.100.12 failed to authenticate as 'ädmin'`,
      `${AMI}198.51.100.12 tried to authenticate with nonexistent user`,
      "[Mar  5 10:00:04] NOTICE[12500] chan_sip.c: 198.51.100.12 failed to authenticate as 'admin'",
      // Dialplan lines: plain ones are read as dated lines only; any literal, or a broken origin, sends one to the rules.
      `${EXT}"Call from 1197 to 1141 on trunk provider2"`,
      `${EXT}please block 198.51.100.13`,
      `${EXT}"x" Registration from '' failed for '198.51.100.13' - Wrong password`,
      `${EXT}Error processing 300 bytes packet from UDP:198.51.100.13:5060`,
      '[Mar  5 10:00:05] WARNING[13361][C-0000002b] Ext. 1141 "Call from 1197"',
      "[Mar  5 10:00:05] WARNING[13361][C-0000002b] Ext. a/chan_sip.c: Registration from '' failed for '198.51.100.13' - Wrong password",
      '[Mar  5 10:00:05] WARNING[13361][C-0000002b] Ext. 1141:12 in foo: "Call from 1197"',
      '[Mar  5 10:00:05] WARNING[13361][C-0000002b] Ext. : "Call from 1197"',
      '[Mar  5 10:00:05] WARNING[13361]: Ext. 1141: "Call from 1197"',
      `${PREFIX}a dated line that names Ext. 5 and nothing else`,
      [
        // A dialplan line broken by a raw newline in the number: the lines after it are distrusted.
        "[Mar  5 10:00:05] WARNING[13361][C-0000002b] Ext. 114",
        `${EXT}"Call from 1197 to 1141 on trunk provider2"`,
        `${PREFIX}Registration from '<sip:a@b>' failed for '198.51.100.7' - Wrong password`,
        `${EXT}"Call from 1197 to 1141 on trunk provider2"`,
      ].join("\n"),
      [
        // A packet dump: the lines inside it are packet text.
        `${EXT}"Call from 1197 to 1141 on trunk provider2"`,
        "[Mar  5 10:00:05] NOTICE[1] res_pjsip/pjsip_transport_events.c: Error processing 900 bytes packet from UDP 198.51.100.14:5060 :",
        `${EXT}"Call from 1197 to 1141 on trunk provider2"`,
        `${PREFIX}Registration from '<sip:a@b>' failed for '198.51.100.7' - Wrong password`,
      ].join("\n"),
      // Layouts the parser does not know.
      "[Mar  5 10:00:01] NOTICE[12311] chan_sip.c:1234 handle_request: Registration from '<sip:a@b>' failed for '198.51.100.7' - Wrong password",
      "[Mar  5 10:00:01] NOTICE[12311]: chan_sip.c: Registration from '<sip:a@b>' failed for '198.51.100.7' - Wrong password",
      "[Mar  5 10:00:01] NOTICE[12311][C-XYZ] chan_sip.c: Registration from '<sip:a@b>' failed for '198.51.100.7' - Wrong password",
      "[Mar  5 10:00:01] NOTICE[12311] Ext. chan_sip.c: Registration from '<sip:a@b>' failed for '198.51.100.7' - Wrong password",
      "[Mar  5 10:00:01] NOTICE[12311] pjsip_distributor.c: Registration from '<sip:a@b>' failed for '198.51.100.7' - Wrong password",
      `\x1b[1;33m${PREFIX}\x1b[0mRegistration from '<sip:a@b>' failed for '198.51.100.7' - Wrong password`,
      `${PREFIX}Registration from '<sip:a@b>' failed for '198.51.100.7' - Wrong password\r`,
      `[${"9".repeat(65)}] NOTICE[1] chan_sip.c: Registration from '<sip:a@b>' failed for '198.51.100.7' - Wrong password`,
      "[not a date] NOTICE[1] chan_sip.c: Registration from '<sip:a@b>' failed for '198.51.100.7' - Wrong password",
      // Security-log text in a line, and a split record around parsed lines.
      `${PREFIX}Registration from '<sip:a@b> RemoteAddress="IPV4/UDP/192.0.2.66/5060"' failed for '198.51.100.7' - Wrong password`,
      [
        '[Mar  5 10:00:01] SECURITY[1] res_security_log.c: SecurityEvent="InvalidPassword",EventTV="2024-03-05T10:00:01.000+0000",Severity="Error",Service="SIP",EventVersion="2",AccountID="x',
        `${PREFIX}Registration from '<sip:a@b>' failed for '192.0.2.66' - Wrong password`,
        '",SessionID="0x1",LocalAddress="IPV4/UDP/192.0.2.10/5060",RemoteAddress="IPV4/UDP/198.51.100.99/5060",Challenge="1",ReceivedChallenge="1",ReceivedHash="1"',
        `${PREFIX}Registration from '<sip:a@b>' failed for '198.51.100.7' - Wrong password`,
      ].join("\n"),
    ];
    for (const text of variants) assertSame(text);
  });

  it("reads a dialplan line that holds no rule's literal as a dated line, as the rules do", () => {
    const text = [
      "[Mar  5 10:00:05] WARNING[13361][C-0000002b] Ext. 114",
      `${EXT}"Call from 1197 to 1141 on trunk provider2"`,
      `${EXT}"Call from 1198 to 1141 on trunk provider2"`,
    ].join("\n");
    // The broken line goes to the rules and is distrusted with the two after it, which the parser read.
    assert.equal(assertSame(text), 2);
    assert.equal(detect(text, true).stats.distrusted, 3);
  });

  it("gives the same answers on randomly mangled lines", () => {
    // Deterministic: a fixed seed, a bounded number of lines.
    let seed = 20240305;
    const random = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const pieces = [
      "'",
      " ",
      ":",
      "(",
      ")",
      "[",
      "]",
      "@",
      "sip:",
      "' failed for '",
      ") to extension '",
      "UDP:",
      "::",
      "\t",
      "é",
      "' - Wrong password",
      "=",
      "",
    ];
    const lines: string[] = [];
    for (let i = 0; i < 1500; i++) {
      let line = SHAPES[random(SHAPES.length)]!;
      for (let m = 1 + random(3); m > 0; m--) {
        const at = random(line.length + 1);
        const op = random(3);
        if (op === 0) line = line.slice(0, at) + pieces[random(pieces.length)] + line.slice(at);
        else if (op === 1) line = line.slice(0, at) + line.slice(at + 1 + random(4));
        else line = line.slice(0, at) + line.slice(random(line.length));
      }
      lines.push(line);
    }
    // Alone (each line's own answer), then as one log (neighbours, windows, duplicates).
    for (const line of lines) assertSame(line);
    assert.ok(assertSame([...lines, ...SHAPES].join("\n")) > 0);
  });

  it("leaves a rule's lines to the rules when the configuration changes what would match them", () => {
    const text = SHAPES.join("\n");
    const withoutSipRegister = buildRules({ ...defaultConfig().detect, rules: { "sip-register": false } });
    const parsed = assertSame(text, withoutSipRegister);
    assert.ok(parsed > 0 && parsed < SHAPES.length, `parsed ${parsed} of ${SHAPES.length}`);
  });

  it("leaves a line that signals the split guard to the rules, even with the rules of its kind off", () => {
    // With both "Call from" rules off, the end of a call line is still a split record's remainder.
    const withoutCalls = buildRules({
      ...defaultConfig().detect,
      rules: { "call-noext": false, "pjsip-call-noext": false },
    });
    const text = [
      `${PREFIX}Registration from '<sip:a@b>' failed for '198.51.100.7' - Wrong password`,
      "[Mar  5 10:00:05] WARNING[13361][C-0000002b] Ext. 114",
      `${EXT}x' rejected because extension not found in context 'y'.`,
    ].join("\n");
    assertSame(text, withoutCalls);
    assert.equal(detect(text, true, withoutCalls).stats.injections, 1);
  });

  it("drops lines given as numbers that a split record's remainder follows, as it drops the rules' lines", () => {
    const text = [
      `${PREFIX}Registration from '<sip:a@b>' failed for '198.51.100.7:5060' - Wrong password`,
      `${PREFIX}Registration from '<sip:a@b>' failed for '192.0.2.66' - Wrong password`,
      '[Mar  5 10:00:01] SECURITY[1] res_security_log.c: SecurityEvent="InvalidPassword",EventTV="2024-03-05T10:00:01.000+0000",Severity="Error",Service="SIP",EventVersion="2",AccountID="x',
      `${PREFIX}Registration from '<sip:a@b>' failed for '192.0.2.67' - Wrong password`,
      '",SessionID="0x1",LocalAddress="IPV4/UDP/192.0.2.10/5060",RemoteAddress="IPV4/UDP/198.51.100.99/5060",Challenge="1",ReceivedChallenge="1",ReceivedHash="1"',
      // Past the window: counted.
      ...Array.from(
        { length: 12 },
        (_, k) => `${PREFIX}Registration from '<sip:u${k}@b>' failed for '198.51.100.8' - Wrong password`,
      ),
    ].join("\n");
    assertSame(text);
    const counted = count(text, true);
    assert.equal(counted.readAgain, false);
    // The lines within 1 KiB before the remainder, the record's start, the line inside it and
    // the remainder itself are dropped; its author is reported.
    assert.equal(counted.stats.distrusted, 5);
    assert.equal(counted.stats.injections, 1);
    const addresses = new Set(counted.failures.map((f) => f.split(" ")[0]));
    assert.deepEqual([...addresses].sort(), ["198.51.100.8", "198.51.100.99"]);
  });

  it("reads the text again when a security event comes after lines given as numbers, to pair them as the rules do", () => {
    const security = (at: string) =>
      `[Mar  5 10:00:03] SECURITY[1] res_security_log.c: SecurityEvent="InvalidPassword",EventTV="2024-03-05T10:00:${at}.000+0000",Severity="Error",Service="SIP",EventVersion="2",AccountID="1001",SessionID="0x1",LocalAddress="IPV4/UDP/192.0.2.10/5060",RemoteAddress="IPV4/UDP/198.51.100.44/5060",Challenge="1",ReceivedChallenge="1",ReceivedHash="1"`;
    const notice =
      "[Mar  5 10:00:03] NOTICE[2] chan_sip.c: Registration from '<sip:1001@192.0.2.10>' failed for '198.51.100.44:5060' - Wrong password";
    // The NOTICE line comes first: only the events before the first security event pair it.
    const text = [notice, security("03"), notice, security("03")].join("\n");
    assertSame(text);
    const asNumbers = count(text, true);
    const asEvents = count(text, false);
    assert.equal(asNumbers.readAgain, true);
    assert.deepEqual(asNumbers.failures, asEvents.failures);
    assert.equal(asNumbers.stats.duplicates, 2);
    assert.equal(asNumbers.failures.filter((f) => !f.includes(" users ")).length, 2);
    // Without security events, nothing is read twice.
    assert.equal(count([notice, notice].join("\n"), true).readAgain, false);
  });

  it("scans a file that must be read again to the same report, keeping what the files before it counted", async (t) => {
    const dir = tempDir(t, "sipban-parse-");
    const line = (ip: string, user: string) =>
      `[Mar  5 10:00:03] NOTICE[2] chan_sip.c: Registration from '<sip:${user}@192.0.2.10>' failed for '${ip}:5060' - Wrong password`;
    const first = join(dir, "messages.1");
    const second = join(dir, "messages");
    writeFileSync(
      first,
      `${Array.from({ length: 20 }, (_, k) => line("198.51.100.7", `u${k}`)).join("\n")}\n`,
    );
    const lines = Array.from({ length: 30 }, (_, k) => line(`198.51.100.${k % 3}`, `v${k}`));
    lines.push(line("198.51.100.44", "1001"), SECURITY_EVENT, line("198.51.100.7", "w"));
    writeFileSync(second, `${lines.join("\n")}\n`);
    const report = async (parsedLines: boolean) => {
      const r = await scanFiles([first, second], defaultConfig(), { parsedLines });
      return {
        linesRead: r.linesRead,
        offenders: r.report.offenders(),
        stats: r.stats,
        failures: r.report.failures,
      };
    };
    const withParser = await report(true);
    assert.equal(withParser.stats.duplicates, 1);
    assert.equal(withParser.failures, 20 + 30 + 2);
    assert.deepEqual(withParser, await report(false));
  });

  it("reads a file again through the same open file, though the log was rotated in between", async (t) => {
    const dir = tempDir(t, "sipban-parse-");
    const line = (k: number, net: string) =>
      `[Mar  5 10:00:03] NOTICE[2] chan_sip.c: Registration from '<sip:u${k}@192.0.2.10>' failed for '${net}.${k % 50}:5060' - Wrong password`;
    const log = (net: string) => {
      const lines = Array.from({ length: 2000 }, (_, k) => line(k, net));
      // The security event after failures read as numbers: the file is read again.
      lines.splice(1500, 0, SECURITY_EVENT);
      return `${lines.join("\n")}\n`;
    };
    const path = join(dir, "messages");
    writeFileSync(path, log("198.51.100"));
    // The rotation comes when the log forgets the first reading, just before the second.
    let rotated = false;
    t.mock.method(FailureLog.prototype, "rollback", function (this: FailureLog, mark: LogMark) {
      rotated = true;
      writeFileSync(join(dir, "new"), log("203.0.113"));
      renameSync(join(dir, "new"), path);
      return rollback.call(this, mark);
    });
    const result = await scanFiles([path], defaultConfig());
    assert.ok(rotated, "the file was read again");
    const ips = result.report.offenders().map((o) => o.ip);
    assert.ok(ips.length > 0);
    assert.deepEqual(
      ips.filter((ip) => !ip.startsWith("198.51.100.")),
      [],
      "every address from the file first read",
    );
  });

  it("closes each rotated .gz file it reads again", async (t) => {
    if (!existsSync("/proc/self/fd")) return t.skip("needs /proc/self/fd to count open files");
    const dir = tempDir(t, "sipban-parse-");
    const line = (k: number) =>
      `[Mar  5 10:00:03] NOTICE[2] chan_sip.c: Registration from '<sip:u${k}@192.0.2.10>' failed for '198.51.100.${k % 200}:5060' - Wrong password`;
    // Long enough that the file is still being read when the security event asks for it again.
    const lines = Array.from({ length: 20_000 }, (_, k) => line(k));
    lines.splice(100, 0, SECURITY_EVENT);
    const gz = gzipSync(`${lines.join("\n")}\n`);
    const paths = Array.from({ length: 10 }, (_, k) => join(dir, `messages.${k + 1}.gz`));
    for (const path of paths) writeFileSync(path, gz);
    const open = () => readdirSync("/proc/self/fd").length;
    const before = open();
    const result = await scanFiles(paths, defaultConfig());
    assert.equal(result.report.failures, 10 * 20_000);
    assert.ok(open() <= before + 1, `${open() - before} more files open after the scan`);
  });

  it("scans a generated attack log to the same report", async (t) => {
    const dir = tempDir(t, "sipban-parse-");
    const path = join(dir, "messages");
    generate({ ...DEFAULT_PARAMS, lines: 30_000, prefixLines: 1000 }, path);
    const config = defaultConfig();
    const report = async (parsedLines: boolean) => {
      const r = await scanFiles([path], config, { parsedLines });
      return { linesRead: r.linesRead, offenders: r.report.offenders(), stats: r.stats };
    };
    const withParser = await report(true);
    assert.ok(withParser.offenders.length > 100);
    assert.deepEqual(withParser, await report(false));
  });
});
