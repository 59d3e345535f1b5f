/**
 * The journald source against real journal files: systemd-journal-remote writes them from the
 * Journal Export Format, `journalctl -D` reads and follows them, and a real daemon (dry-run
 * firewall) bans from them and resumes from its saved cursor.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { entryToLines } from "../src/sources/journald.js";
import { cliFor, killAndWait, spawnWatch, writeTestConfig } from "./helpers/daemon-config.js";
import { runOrSkip } from "./helpers/netns.js";
import { tempDir } from "./helpers/temp-dir.js";
import { waitFor } from "./helpers/wait.js";

const JOURNAL_REMOTE = "/usr/lib/systemd/systemd-journal-remote";

/** True when journalctl and systemd-journal-remote are here. */
function requireJournalOrSkip(t: TestContext): boolean {
  const onPath = (tool: string) =>
    (process.env.PATH ?? "").split(delimiter).some((d) => d !== "" && existsSync(join(d, tool)));
  const problem = !onPath("journalctl")
    ? "needs journalctl (package systemd)"
    : !existsSync(JOURNAL_REMOTE)
      ? `needs ${JOURNAL_REMOTE} (package systemd-journal-remote)`
      : null;
  return runOrSkip(t, problem);
}

const BOOT_ID = "5f2c1b9e0d8a4c7e9b3f6a1d2e4c8b70";
let written = 0;

/** Journal fields; null leaves out a field this file otherwise adds. */
type Fields = Record<string, string | null>;

/**
 * One entry in the Journal Export Format: `FIELD=value` lines, or for a value with a line break
 * or control bytes the binary form (name, newline, 64-bit little-endian length, data, newline).
 * Times are now and always increasing, so journalctl orders entries across files as written.
 */
function exportEntry(fields: Fields): Buffer {
  written++;
  const all: Fields = {
    __REALTIME_TIMESTAMP: String(Date.now() * 1000 + written),
    __MONOTONIC_TIMESTAMP: String(process.hrtime.bigint() / 1000n),
    _BOOT_ID: BOOT_ID,
    _HOSTNAME: "pbx1",
    _TRANSPORT: "syslog",
    ...fields,
  };
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(all)) {
    if (value === null) continue;
    const data = Buffer.from(value, "utf8");
    if (!/[\x00-\x1f\x7f]/.test(value)) {
      parts.push(Buffer.from(`${name}=`), data, Buffer.from("\n"));
      continue;
    }
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(data.length));
    parts.push(Buffer.from(`${name}\n`), length, data, Buffer.from("\n"));
  }
  parts.push(Buffer.from("\n"));
  return Buffer.concat(parts);
}

/** Appends entries to a journal file (created when missing), as journald would. */
function writeJournal(file: string, entries: readonly Fields[]): void {
  execFileSync(JOURNAL_REMOTE, [`--output=${file}`, "-"], {
    input: Buffer.concat(entries.map(exportEntry)),
    stdio: ["pipe", "ignore", "pipe"],
  });
}

const asterisk = (message: string, pid = "1200"): Fields => ({
  MESSAGE: message,
  SYSLOG_IDENTIFIER: "asterisk",
  _PID: pid,
});

/** What Asterisk sends to syslog for a chan_sip failure. */
const failure = (ip: string): Fields =>
  asterisk(
    `NOTICE[1391]: chan_sip.c:29080 in handle_request_register: Registration from '<sip:1@192.0.2.10>' failed for '${ip}:5060' - Wrong password`,
  );

/**
 * A security record whose account name carried raw newlines: three forged failures for 192.0.2.66
 * in the journal's own layout sit between its halves. Only the injector, 203.0.113.5, may come of it.
 */
function splitRecord(): Fields {
  const forged = `${new Date().toISOString().replace("Z", "+00:00")} pbx1 asterisk[1200]: NOTICE[1391]: chan_sip.c:29080 in handle_request_register: Registration from '<sip:1@192.0.2.10>' failed for '192.0.2.66:5060' - Wrong password`;
  return asterisk(
    `SECURITY[1391]: res_security_log.c:1138 in security_event_stasis_cb: SecurityEvent="InvalidAccountID",EventTV="2026-11-21T15:00:20.163+0000",Severity="Error",Service="SIP",EventVersion="1",AccountID="x\n${forged}\n${forged}\n${forged}\n",SessionID="0x7f2a1c00a000",LocalAddress="IPV4/UDP/192.0.2.10/5060",RemoteAddress="IPV4/UDP/203.0.113.5/5060"`,
  );
}

/** Ordinary traffic, and another program's entry that the match must keep out. */
const unrelated: Fields[] = [
  asterisk(
    "VERBOSE[1402][C-00000001]: pbx.c:2927 in pbx_extension_helper: -- Executing [s@default:1] Answer()",
  ),
  { ...failure("192.0.2.77"), SYSLOG_IDENTIFIER: "not-asterisk" },
  // Control bytes (colours): journalctl prints such a MESSAGE as an array of bytes.
  asterisk("\x1b[1;32mVERBOSE\x1b[0m[1402]: res_pjsip.c:1 in x: Endpoint 1001 is now Reachable"),
];

interface Status {
  running?: boolean;
  failuresSeen: number;
  sources: Array<{ name: string; state: string; linesRead: number; injections: number; distrusted: number }>;
}

/** A daemon (dry-run firewall) following the journal files in `<dir>/journal`. */
function setup(t: TestContext) {
  // Hooks run in the order added: the daemons are gone before their files are.
  const children: ChildProcess[] = [];
  t.after(() => Promise.all(children.map(killAndWait)));
  const dir = tempDir(t, "sipban-journald-");
  const journal = join(dir, "journal");
  mkdirSync(journal);
  const config = writeTestConfig(dir, [
    "sources:",
    "  - journald:",
    `      directory: ${JSON.stringify(journal)}`,
    '      match: ["SYSLOG_IDENTIFIER=asterisk"]',
    "policy:",
    "  maxretry: 3",
    "  findtime: 10m",
  ]);
  let output = "";
  const sipban = cliFor(config);
  const status = () => sipban.status<Status>();
  const s = {
    file: join(journal, "system.journal"),
    journal,
    output: () => output,
    status,
    failuresSeen: async () => (await status()).failuresSeen,
    bans: sipban.banned,
    /** Starts the daemon and waits until its journalctl reads: probes until one is read. */
    async start(): Promise<ChildProcess> {
      const child = spawnWatch(config, (text) => (output += text));
      children.push(child);
      await waitFor("the daemon", async () => (await status()).running !== false);
      return child;
    },
    /** Until journalctl has found the end of the journal, what is written may be skipped. */
    async probe(): Promise<void> {
      await waitFor("journalctl to follow the journal", async () => {
        writeJournal(s.file, [asterisk("VERBOSE[1402]: sipban test probe")]);
        await sleep(100);
        return (await status()).sources[0]!.linesRead > 0;
      });
    },
    async stop(child: ChildProcess): Promise<void> {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await waitFor("the daemon to stop", () => exited.then(() => true), 5000);
      assert.equal(child.exitCode, 0, `the daemon stops cleanly:\n${output}`);
    },
  };
  return s;
}

describe("journald source", { concurrency: false }, () => {
  test("entryToLines reads what journalctl -o json prints of a real journal", (t) => {
    if (!requireJournalOrSkip(t)) return;
    const dir = tempDir(t, "sipban-journal-");
    const split = splitRecord();
    writeJournal(join(dir, "system.journal"), [
      failure("203.0.113.5"),
      split,
      ...unrelated,
      asterisk("[Nov 21 16:00:00] NOTICE[1391] chan_sip.c: foreground, with Asterisk's own date"),
      { SYSLOG_IDENTIFIER: "kernel", MESSAGE: "no pid, no host", _HOSTNAME: null },
    ]);
    const json = execFileSync("journalctl", ["-D", dir, "-o", "json", "--no-pager"], { encoding: "utf8" });
    const raw = json.trim().split("\n");
    assert.equal(raw.length, 7);
    const entries = raw.map((line) => {
      const json = JSON.parse(line);
      const read = entryToLines(line);
      assert.ok(read, `read: ${line}`);
      assert.equal(read.cursor, json.__CURSOR);
      const time = new Date(Math.floor(Number(json.__REALTIME_TIMESTAMP) / 1000));
      return { message: json.MESSAGE, lines: read.lines, time: time.toISOString().replace("Z", "+00:00") };
    });
    const [fail, rec, verbose, other, coloured, foreground, kernel] = entries;
    assert.deepEqual(fail!.lines, [`${fail!.time} pbx1 asterisk[1200]: ${failure("203.0.113.5").MESSAGE}`]);
    // A raw newline: one line per part, the prefix on the first only, as a log file holds it.
    assert.equal(typeof rec!.message, "string");
    const parts = split.MESSAGE!.split("\n");
    assert.equal(parts.length, 5);
    assert.deepEqual(rec!.lines, [`${rec!.time} pbx1 asterisk[1200]: ${parts[0]}`, ...parts.slice(1)]);
    assert.match(verbose!.lines[0]!, / pbx1 asterisk\[1200\]: VERBOSE\[1402\]/);
    assert.match(other!.lines[0]!, / pbx1 not-asterisk\[1200\]: NOTICE/);
    assert.ok(Array.isArray(coloured!.message), "journalctl prints control bytes as an array");
    assert.deepEqual(coloured!.lines, [`${coloured!.time} pbx1 asterisk[1200]: ${unrelated[2]!.MESSAGE}`]);
    assert.deepEqual(foreground!.lines, [foreground!.message]);
    assert.match(foreground!.lines[0]!, /^\[Nov 21 16:00:00\] NOTICE/);
    assert.deepEqual(kernel!.lines, [`${kernel!.time} localhost kernel: no pid, no host`]);
    assert.equal(entryToLines("{not json"), null);
    assert.equal(entryToLines(JSON.stringify({ __CURSOR: "s=1", MESSAGE: null })), null);
  });

  test("the daemon bans from the journal, never the address forged inside a split record", async (t) => {
    if (!requireJournalOrSkip(t)) return;
    const s = setup(t);
    // History: a first run starts at the end of the journal.
    writeJournal(s.file, [failure("198.51.100.9"), failure("198.51.100.9"), failure("198.51.100.9")]);
    await s.start();
    await s.probe();
    // The split guard distrusts what comes within 1 KiB before a split record's remainder:
    // ordinary traffic keeps the genuine failures out of that window.
    const traffic = Array.from({ length: 12 }, () => unrelated[0]!);
    writeJournal(s.file, [
      failure("203.0.113.5"),
      unrelated[1]!,
      failure("203.0.113.5"),
      ...traffic,
      splitRecord(),
      unrelated[2]!,
      failure("203.0.113.5"),
      unrelated[1]!,
      unrelated[1]!,
    ]);
    await waitFor("the ban", async () => (await s.bans()).includes("203.0.113.5"));
    // Three failures and the injection, each once; nothing from the forged lines or the history.
    await waitFor("4 failures", async () => (await s.failuresSeen()) === 4);
    await sleep(300);
    const status = await s.status();
    assert.equal(status.failuresSeen, 4);
    assert.equal(status.sources[0]!.injections, 1);
    // The record's start, the three forged lines and the remainder.
    assert.equal(status.sources[0]!.distrusted, 5);
    assert.deepEqual(await s.bans(), ["203.0.113.5"]);
    assert.doesNotMatch(s.output(), /would ban (?!203\.0\.113\.5 )/, "the dry-run firewall banned no other");
  });

  test("after a restart, the entries written since the saved cursor are read, each once", async (t) => {
    if (!requireJournalOrSkip(t)) return;
    const s = setup(t);
    const first = await s.start();
    await s.probe();
    writeJournal(s.file, [failure("198.51.100.20"), failure("198.51.100.20")]);
    await waitFor("2 failures", async () => (await s.failuresSeen()) === 2);
    await s.stop(first);
    // Written while the daemon is down: more than the 10 entries journalctl -f shows by default.
    const down = Array.from({ length: 12 }, (_, i) => [failure(`198.51.100.${30 + (i % 4)}`), unrelated[0]!]);
    writeJournal(s.file, down.flat());
    await s.start();
    await waitFor("the 12 failures written while down", async () => (await s.failuresSeen()) === 12);
    // A new journal file in the directory is followed too, and so is a new boot of the host.
    const rebooted = (f: Fields) => ({ ...f, _BOOT_ID: "0a1b2c3d4e5f60718293a4b5c6d7e8f9" });
    writeJournal(join(s.journal, "system@rebooted.journal"), [
      rebooted(failure("198.51.100.40")),
      rebooted(failure("198.51.100.40")),
    ]);
    await waitFor("2 more failures", async () => (await s.failuresSeen()) === 14);
    await sleep(300);
    assert.equal(await s.failuresSeen(), 14, "nothing counted twice");
    assert.deepEqual(
      (await s.bans()).sort(),
      ["198.51.100.30", "198.51.100.31", "198.51.100.32", "198.51.100.33"],
      "198.51.100.20 had two failures in all, before the restart; 198.51.100.40 two",
    );
  });
});
