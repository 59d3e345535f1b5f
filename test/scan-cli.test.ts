import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { DEFAULT_PARAMS, generate } from "../bench/generate-log.js";
import { type CommandResult, NOBODY, requireNobodyOrSkip, runCommand } from "./helpers/command.js";
import { failureLine } from "./helpers/log-lines.js";
import { tempDir } from "./helpers/temp-dir.js";

const root = join(import.meta.dirname, "..", "..");
const sipban = join(root, "bin", "sipban");
const sample = join(root, "examples", "asterisk-messages.log");

/** `sipban scan` through the package's launcher, bin/sipban. */
function scan(args: string[], input?: string): Promise<CommandResult> {
  return runCommand(sipban, ["scan", ...args], { env: { ...process.env, SSH_CONNECTION: "" }, input });
}

/**
 * `sipban scan` with its standard output going to `stdout` (a file descriptor, or a pipe handed
 * to `reading`); resolves with its exit code and what it wrote on standard error.
 */
function scanInto(
  args: string[],
  stdout: "pipe" | number,
  reading?: (stdout: Readable) => void,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(sipban, ["scan", ...args], { stdio: ["ignore", stdout, "pipe"] });
    if (child.stdout) reading?.(child.stdout);
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk;
    });
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

describe("the launcher's bundle", () => {
  it("finds the package's files where the compiled modules find them", async () => {
    // The bundle's modules resolve the same relative paths as dist/src/cli and dist/src/util. A
    // WebAssembly module not found is warned of (and the work done without it).
    for (const args of [[sample], ["--json", sample]]) {
      const { code, stderr } = await scan(args);
      assert.equal(code, 0);
      assert.equal(stderr, "", `scan ${args.join(" ")}`);
    }
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
    const { code, stdout } = await runCommand(sipban, ["--version"]);
    assert.equal(code, 0);
    assert.equal(stdout.trim(), pkg.version);
  });
});

describe("sipban scan", () => {
  it("reports the sample log's attackers (the quick start)", async () => {
    const { code, stdout } = await scan([sample]);
    assert.equal(code, 0);
    assert.match(stdout, /^203\.0\.113\.5 +13 +yes/m);
    assert.match(stdout, /^198\.51\.100\.99 +1 +yes .*Honeypot/m);
    assert.doesNotMatch(stdout, /192\.0\.2\.66/, "the framed victim must not appear");
  });

  it("prints the documented JSON", async () => {
    const { stdout } = await scan(["--json", sample]);
    const report = JSON.parse(stdout);
    assert.equal(report.linesRead, 84);
    assert.equal(report.failures, 41);
    const top = report.offenders[0];
    assert.equal(top.ip, "203.0.113.5");
    assert.equal(top.failures, 13);
    assert.equal(top.wouldBan, true);
    const ami = report.offenders.find((o: { ip: string }) => o.ip === "203.0.113.9");
    assert.equal(ami.failures, 6, "AMI's two lines per bad login count once");
    const office = report.offenders.find((o: { ip: string }) => o.ip === "192.0.2.24");
    assert.equal(office.wouldBan, false);
  });

  it("honours --maxretry and --findtime", async () => {
    const wouldBan = async (ip: string, ...args: string[]) => {
      const { stdout } = await scan(["--json", ...args, sample]);
      return JSON.parse(stdout).offenders.find((o: { ip: string }) => o.ip === ip).wouldBan;
    };
    assert.equal(await wouldBan("192.0.2.24", "--maxretry", "2", "--findtime", "1m"), true);
    // Three calls 30 seconds apart: within 10 minutes, not within 30 seconds.
    assert.equal(await wouldBan("203.0.113.77", "--maxretry", "3", "--findtime", "10m"), true);
    assert.equal(await wouldBan("203.0.113.77", "--maxretry", "3", "--findtime", "30s"), false);
  });

  it("reads gzip-rotated files and standard input alike", async (t) => {
    const dir = tempDir(t, "sipban-");
    const line =
      "[Mar  5 10:00:01] NOTICE[1] chan_sip.c: Registration from '<sip:1@192.0.2.10>' failed for '203.0.113.50:5060' - Wrong password\n";
    writeFileSync(join(dir, "messages.1.gz"), gzipSync(line.repeat(3)));
    const gz = JSON.parse((await scan(["--json", join(dir, "messages.1.gz")])).stdout);
    assert.equal(gz.offenders[0].failures, 3);
    const stdin = JSON.parse((await scan(["--json", "-"], line.repeat(2))).stdout);
    assert.equal(stdin.offenders[0].failures, 2);
  });

  it("counts a last line without a newline and lines split across read chunks", async (t) => {
    const dir = tempDir(t, "sipban-");
    const filler = `[Mar  5 10:00:00] VERBOSE[1] pbx.c: ${"x".repeat(200)}\n`;
    const fail =
      "[Mar  5 10:00:01] NOTICE[1] chan_sip.c: Registration from '<sip:1@192.0.2.10>' failed for '203.0.113.51:5060' - Wrong password\n";
    let text = "";
    let expected = 0;
    // About 3 MiB, so failure lines straddle the 1 MiB read boundaries.
    for (let i = 0; i < 15_000; i++) {
      text += i % 7 === 0 ? fail : filler;
      if (i % 7 === 0) expected++;
    }
    text += fail.trimEnd();
    expected++;
    writeFileSync(join(dir, "big.log"), text);
    const report = JSON.parse((await scan(["--json", join(dir, "big.log")])).stdout);
    assert.equal(report.linesRead, 15_001);
    assert.equal(report.offenders[0].failures, expected);
  });

  it("explains which rule matched each line", async () => {
    const { stdout } = await scan(["--explain", sample]);
    assert.match(stdout, /^MATCH +sip-register +203\.0\.113\.5 /m);
    assert.match(stdout, /^DUPLICATE +ami-auth +203\.0\.113\.9 /m);
    assert.match(stdout, /^NO MATCH .*Executing \[100@honeypot:2\]/m);
  });

  it("gives a one-line error and a non-zero exit for bad inputs", async (t) => {
    const dir = tempDir(t, "sipban-");
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "bin.log"), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2]));
    for (const [path, message] of [
      [join(dir, "missing.log"), /no such file/],
      [join(dir, "sub"), /is a directory/],
      [join(dir, "bin.log"), /binary file/],
    ] as const) {
      const { code, stdout, stderr } = await scan([path]);
      assert.equal(code, 2);
      assert.equal(stdout, "");
      assert.match(stderr, message);
      assert.equal(stderr.trim().split("\n").length, 1, `one line: ${stderr}`);
    }
  });

  it("stops quietly when its reader goes away (`sipban scan | head`)", async (t) => {
    const dir = tempDir(t, "sipban-");
    const log = join(dir, "messages");
    generate({ ...DEFAULT_PARAMS, lines: 20_000, prefixLines: 10, seed: 3 }, log);
    for (const args of [[log], ["--json", log]]) {
      const whole = await scan(args);
      assert.equal(whole.code, 0);
      // Twice what a pipe holds (64 KiB): the writes after the reader has gone must fail.
      assert.ok(whole.stdout.length > 128 * 1024, `${whole.stdout.length} bytes`);
      let read = 0;
      const cut = await scanInto(args, "pipe", (stdout) =>
        stdout.once("data", (chunk: Buffer) => {
          read = chunk.length;
          stdout.destroy();
        }),
      );
      assert.ok(read > 0 && read < whole.stdout.length, `read ${read} bytes`);
      assert.equal(cut.stderr, "", `args ${args.join(" ")}`);
      assert.equal(cut.code, 0);
    }
  });

  it("says in one line when its output cannot be written (a full disk)", {
    skip: !existsSync("/dev/full") && "no /dev/full here",
  }, async () => {
    const full = openSync("/dev/full", "w");
    try {
      const result = await scanInto(["--json", sample], full);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^sipban: cannot write the output: ENOSPC[^\n]*\n$/);
    } finally {
      closeSync(full);
    }
  });

  it("shows what it saw but did not count, also when it counted nothing", async (t) => {
    const dir = tempDir(t, "sipban-");
    // Asterisk through syslog with a message no rule knows the end of: a failure it cannot read.
    const unknown = join(dir, "unknown.log");
    writeFileSync(
      unknown,
      "Mar  5 10:00:04 pbx asterisk[1234]: NOTICE[1250] chan_sip.c: Registration from '\"100\" <sip:100@192.0.2.10>' failed for '198.51.100.4:5060' - Wrong password and more\n",
    );
    const none = await scan([unknown]);
    assert.equal(none.code, 0);
    assert.match(none.stdout, /^No failures found\.$/m);
    assert.match(none.stdout, /^Note: 1 line looks like a failure but matched no rule \(see --explain\)\.$/m);
    // A date in a layout sipban does not know: counted, but at the file's time, and said so.
    const odd = join(dir, "odd-dates.log");
    writeFileSync(
      odd,
      "[05/03/2026 10:00:01] NOTICE[1] chan_sip.c: Registration from '<sip:1@192.0.2.10>' failed for '203.0.113.50:5060' - Wrong password\n",
    );
    const undated = await scan([odd]);
    assert.equal(undated.code, 0);
    assert.match(
      undated.stdout,
      /^Note: 1 line without a date sipban can read, counted at the last dated line or the file's last change \(for Asterisk, give its dateformat: --dateformat or detect\.dateformat; Kamailio's stderr has none\)\.$/m,
    );
    // Given the format, the line is dated and nothing is said.
    const dated = await scan(["--json", "--dateformat", "%d/%m/%Y %T", odd]);
    assert.equal(dated.code, 0, dated.stderr);
    assert.equal(
      JSON.parse(dated.stdout).offenders[0].firstSeen,
      new Date(2026, 2, 5, 10, 0, 1).toISOString(),
    );
    // A space-padded day where the date starts ("[ 5/03/2026 ...]").
    const padded = join(dir, "padded-dates.log");
    writeFileSync(
      padded,
      "[ 5/03/2026 10:00:01] NOTICE[1] chan_sip.c: Registration from '<sip:1@192.0.2.10>' failed for '203.0.113.50:5060' - Wrong password\n",
    );
    const spaced = await scan(["--json", "--dateformat", "%e/%m/%Y %T", padded]);
    assert.equal(spaced.code, 0, spaced.stderr);
    assert.equal(
      JSON.parse(spaced.stdout).offenders[0].firstSeen,
      new Date(2026, 2, 5, 10, 0, 1).toISOString(),
    );
    const bad = await scan(["--dateformat", "%d/%m/%Y %Q", odd]);
    assert.equal(bad.code, 2);
    assert.equal(
      bad.stderr,
      'sipban: --dateformat: "%d/%m/%Y %Q": %Q is not a conversion sipban can read back into a date\n',
    );
  });

  it("reads a named pipe once, as its writer writes it", {
    skip: process.platform !== "linux" && "Linux only",
  }, async (t) => {
    // Registered before the directory's removal: after hooks run in order.
    let release = async () => {};
    t.after(() => release());
    const dir = tempDir(t, "sipban-");
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const result = runCommand(sipban, ["scan", fifo], { timeout: 20_000 });
    // The writer's open waits for a reader (so not synchronously: the test must be able to fail).
    // A check that opened the pipe first would take the data, and the scan would wait forever.
    const written = writeFile(fifo, readFileSync(sample)).catch((err: Error) => err);
    release = async () => {
      // Lets a writer still waiting go: a reader opens and closes the pipe.
      closeSync(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK));
      await written;
    };
    const { code, stdout, stderr } = await result;
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^84 lines read from 1 file: 41 failures/);
  });

  it("refuses a named pipe its user may not read, as it refuses a file, with exit code 2", {
    skip: process.platform !== "linux" && "Linux only",
  }, async (t) => {
    if (!(await requireNobodyOrSkip(t, "to run the scan as another user"))) return;
    const dir = tempDir(t, "sipban-");
    chmodSync(dir, 0o755);
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", ["-m", "0600", fifo]);
    const nobody = { ...NOBODY, timeout: 20_000 };
    const { code, stdout, stderr } = await runCommand(sipban, ["scan", fifo], nobody);
    assert.equal(code, 2, stderr);
    assert.equal(
      stderr,
      `sipban: ${fifo}: permission denied (run as root or add yourself to the asterisk group)\n`,
    );
    assert.equal(stdout, "");
  });

  it("says one in the singular", async (t) => {
    const dir = tempDir(t, "sipban-");
    const log = join(dir, "one.log");
    writeFileSync(
      log,
      "[Mar  5 10:00:01] NOTICE[1] chan_sip.c: Registration from '<sip:1@h>' failed for '198.51.100.7:5060' - Wrong password\n",
    );
    const { code, stdout, stderr } = await scan([log, "--maxretry", "1"]);
    assert.equal(code, 0, stderr);
    assert.equal(
      stdout.split("\n")[0],
      "1 line read from 1 file: 1 failure from 1 address; 1 would be banned (1 failure within 10m).",
    );
  });

  it("says more than one in the plural, with the verb to match", async (t) => {
    const dir = tempDir(t, "sipban-");
    // Two lines that hold the rule's key phrase but match no rule.
    const odd = "[Mar  5 10:00:02] NOTICE[1] chan_sip.c: Registration from '<sip:1@h>' failed for 'x' - Odd";
    const first = join(dir, "a.log");
    const second = join(dir, "b.log");
    writeFileSync(first, `${failureLine("198.51.100.7")}${odd}\n`);
    writeFileSync(second, `${failureLine("198.51.100.8")}${odd}\n`);
    const { code, stdout, stderr } = await scan([first, second]);
    assert.equal(code, 0, stderr);
    const lines = stdout.split("\n");
    assert.equal(
      lines[0],
      "4 lines read from 2 files: 2 failures from 2 addresses; 0 would be banned (5 failures within 10m).",
    );
    assert.ok(
      lines.includes("Note: 2 lines look like failures but matched no rule (see --explain)."),
      stdout,
    );
  });

  it("skips a line longer than a read whole, to its end, and says so", async (t) => {
    const dir = tempDir(t, "sipban-");
    const failure = (ip: string) =>
      `[Mar  5 10:10:00] NOTICE[1] chan_sip.c: Registration from '<sip:1@192.0.2.10>' failed for '${ip}:5060' - Wrong password`;
    // A failure's text at the end of a 3 MiB line is not a line of its own.
    const junk = `[Mar  5 10:09:59] NOTICE[1234] chan_sip.c: junk ${"y".repeat(3 << 20)}`;
    const log = join(dir, "long.log");
    writeFileSync(log, `${junk}${failure("198.51.100.9")}\n${failure("203.0.113.8")}\n${junk}`);
    for (const args of [[log], ["-"]]) {
      const { code, stdout, stderr } = await scan(
        ["--json", ...args],
        args[0] === "-" ? readFileSync(log, "utf8") : undefined,
      );
      assert.equal(code, 0, stderr);
      const report = JSON.parse(stdout);
      assert.equal(report.linesRead, 3);
      assert.deepEqual(
        report.offenders.map((o: { ip: string }) => o.ip),
        ["203.0.113.8"],
      );
      assert.equal(report.skipped.oversized, 2);
    }
  });

  it("counts a file named twice, or through a link, once", async (t) => {
    const dir = tempDir(t, "sipban-");
    const link = join(dir, "messages");
    symlinkSync(sample, link);
    const { stdout } = await scan(["--json", sample, link, sample]);
    const report = JSON.parse(stdout);
    assert.equal(report.failures, 41);
    assert.deepEqual(report.files, [sample]);
  });

  it("refuses a bad configuration with file and line, and runs nothing", async (t) => {
    const dir = tempDir(t, "sipban-");
    writeFileSync(join(dir, "bad.yaml"), "policy:\n  maxretry: 5\n  findtime: soon\n");
    const { code, stdout, stderr } = await scan(["--config", join(dir, "bad.yaml"), sample]);
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.match(stderr, /bad\.yaml:3: policy\.findtime/);
  });
});
