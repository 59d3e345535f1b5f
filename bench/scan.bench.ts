// Scan benchmark: whole-process CPU time (user + sys) of sipban and its alternatives on the same
// generated Asterisk log, run alternately over several rounds (median kept), then a check of
// sipban's per-address counts against the generator's truth.
//
// CPU time is read with GNU time (`/usr/bin/time -f "%U %S %M" -o FILE`, Debian package `time`):
// the rusage of the child and every process it waited for. Without it, bash's `times` builtin
// after running the command gives the same children's user/sys figures (no max RSS).
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureLog, type Truth } from "./generate-log.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DATA = join(ROOT, "bench/data");
const ROUNDS = 5;
/** Stop starting new rounds after this long (the rounds already run still give a median). */
const BUDGET_MS = 150_000;
const FAIL2BAN_FILTER = "/etc/fail2ban/filter.d/asterisk.conf";
const FAIL2BAN_PREFIX_LINES = 100_000;

interface Sample {
  cpu: number;
  user: number;
  sys: number;
  maxRssKb?: number;
  status: number | null;
  stdout: string;
}

interface Contender {
  name: string;
  argv: string[];
  env?: Record<string, string>;
  timeoutMs: number;
  /** Lines the command reads (a prefix for the slow ones). */
  lines: number;
  samples: Sample[];
}

const timeBinary =
  existsSync("/usr/bin/time") && spawnSync("/usr/bin/time", ["-f", "%U", "true"]).status === 0;

/**
 * Variables that change what every Node process does before it runs a line: NODE_EXTRA_CA_CERTS
 * has each one load a file of certificates at start (0.04 s of CPU on the machine these figures
 * come from, where it was set). A cron job on a PBX has neither; the contenders run
 * without them.
 */
const NODE_START_VARIABLES = ["NODE_EXTRA_CA_CERTS", "NODE_OPTIONS"];

/** The variables of the environment that are left out of the contenders' (see NODE_START_VARIABLES). */
function droppedVariables(): string[] {
  return NODE_START_VARIABLES.filter((name) => process.env[name] !== undefined);
}

/** Runs argv once; returns its CPU seconds and stdout (kept in a file, not a pipe). */
function measure(c: Contender, tag: string): Sample {
  const outPath = join(DATA, `out-${tag}.stdout`);
  const errPath = join(DATA, `out-${tag}.stderr`);
  const timePath = join(DATA, `out-${tag}.time`);
  const env = { ...process.env, ...c.env };
  for (const name of NODE_START_VARIABLES) delete env[name];
  let user: number;
  let sys: number;
  let maxRssKb: number | undefined;
  let status: number | null;
  if (timeBinary) {
    const out = openSync(outPath, "w");
    const err = openSync(errPath, "w");
    try {
      const r = spawnSync("/usr/bin/time", ["-f", "%U %S %M", "-o", timePath, ...c.argv], {
        stdio: ["ignore", out, err],
        env,
        timeout: c.timeoutMs,
        killSignal: "SIGKILL",
      });
      if (r.error) throw new Error(`${c.name}: ${r.error.message}`);
      status = r.status;
    } finally {
      closeSync(out);
      closeSync(err);
    }
    // GNU time writes "Command exited with non-zero status N" before the figures.
    const last = readFileSync(timePath, "utf8").trim().split("\n").pop() ?? "";
    const [u, s, m] = last.split(" ").map(Number);
    user = u!;
    sys = s!;
    maxRssKb = m;
  } else {
    const r = spawnSync(
      "bash",
      ["-c", '"$@" >"$BENCH_OUT" 2>"$BENCH_ERR"; s=$?; times; exit $s', "bench", ...c.argv],
      {
        stdio: ["ignore", "pipe", "inherit"],
        env: { ...env, BENCH_OUT: outPath, BENCH_ERR: errPath },
        timeout: c.timeoutMs,
        killSignal: "SIGKILL",
        encoding: "utf8",
      },
    );
    if (r.error) throw new Error(`${c.name}: ${r.error.message}`);
    status = r.status;
    // `times`: the shell's user/sys, then its children's: "0m1.234s 0m0.056s".
    const children = r.stdout.trim().split("\n").pop() ?? "";
    const secs = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
    user = secs[0]!;
    sys = secs[1]!;
  }
  if (status === null)
    throw new Error(`${c.name}: killed after ${c.timeoutMs / 1000} s (${c.argv.join(" ")})`);
  if (!Number.isFinite(user) || !Number.isFinite(sys))
    throw new Error(`${c.name}: could not read its CPU time`);
  return { cpu: user + sys, user, sys, maxRssKb, status, stdout: readFileSync(outPath, "utf8") };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Writes the first `bytes` of `src` to `dst` unless it is already there. */
function writePrefix(src: string, dst: string, bytes: number): void {
  if (existsSync(dst) && statSync(dst).size === bytes) return;
  const buf = Buffer.allocUnsafe(bytes);
  const fd = openSync(src, "r");
  try {
    let got = 0;
    while (got < bytes) {
      const n = readSync(fd, buf, got, bytes - got, got);
      if (n === 0) throw new Error(`${src}: shorter than ${bytes} bytes`);
      got += n;
    }
  } finally {
    closeSync(fd);
  }
  writeFileSync(dst, buf);
}

function fail2banAvailable(): boolean {
  return (
    spawnSync("fail2ban-regex", ["--version"], { stdio: "ignore" }).status === 0 &&
    existsSync(FAIL2BAN_FILTER)
  );
}

/** fail2ban-regex's summary: "Lines: 100000 lines, 0 ignored, 19980 matched, 80020 missed". */
function fail2banSummary(stdout: string): { lines: number; matched: number; missed: number } | null {
  const m = /Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed/.exec(stdout);
  return m ? { lines: Number(m[1]), matched: Number(m[3]), missed: Number(m[4]) } : null;
}

const fmt = (n: number, digits = 2) =>
  n.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits });

export async function run(): Promise<void> {
  const started = Date.now();
  const log = ensureLog({ prefixLines: FAIL2BAN_PREFIX_LINES });
  const { truth, logPath } = log;
  console.log(
    `log: ${logPath} (${log.generated ? `generated in ${fmt(log.seconds, 1)} s` : "reused"}): ` +
      `${truth.lines.toLocaleString("en")} lines, ${fmt(truth.bytes / 1e6, 1)} MB, ` +
      `${truth.failures.toLocaleString("en")} failures from ${Object.keys(truth.perAddress).length.toLocaleString("en")} addresses`,
  );
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model.trim() ?? "?"}, node ${process.version}; ` +
      `CPU = user+sys of the child, ${timeBinary ? "GNU /usr/bin/time" : "bash `times` (install Debian package `time` for max RSS)"}`,
  );
  if (droppedVariables().length > 0)
    console.log(`note: run without ${droppedVariables().join(", ")} (set here; see NODE_START_VARIABLES)`);
  if (existsSync("/etc/sipban/sipban.yaml"))
    console.log("note: /etc/sipban/sipban.yaml exists and applies to sipban's run");

  const node = process.execPath;
  const contenders: Contender[] = [
    {
      name: "sipban scan --json",
      argv: [node, join(ROOT, "bin/sipban"), "scan", "--json", logPath],
      timeoutMs: 120_000,
      lines: truth.lines,
      samples: [],
    },
    {
      name: "Node floor",
      argv: [node, join(ROOT, "dist/bench/floor.js"), logPath, "failed for"],
      timeoutMs: 60_000,
      lines: truth.lines,
      samples: [],
    },
    {
      name: "grep -c",
      argv: ["grep", "-c", "failed for", logPath],
      env: { LC_ALL: "C" },
      timeoutMs: 60_000,
      lines: truth.lines,
      samples: [],
    },
    {
      name: "sipban's line search alone",
      argv: [node, join(ROOT, "dist/bench/line-search-only.js"), logPath],
      timeoutMs: 60_000,
      lines: truth.lines,
      samples: [],
    },
    {
      name: "sipban's search + parser",
      argv: [node, join(ROOT, "dist/bench/line-search-only.js"), "--parse", logPath],
      timeoutMs: 60_000,
      lines: truth.lines,
      samples: [],
    },
    {
      name: "sipban's search + detector",
      argv: [node, join(ROOT, "dist/bench/line-search-only.js"), "--detect", logPath],
      timeoutMs: 60_000,
      lines: truth.lines,
      samples: [],
    },
    {
      name: "one regex in Node",
      argv: [node, join(ROOT, "dist/bench/one-regex.js"), logPath],
      timeoutMs: 60_000,
      lines: truth.lines,
      samples: [],
    },
    {
      name: "sipban scan without its parser",
      argv: [node, join(ROOT, "dist/bench/scan-without-parser.js"), logPath],
      timeoutMs: 120_000,
      lines: truth.lines,
      samples: [],
    },
  ];
  const named = (name: string) => contenders.find((c) => c.name === name)!;
  const oneRegex = named("one regex in Node");
  const withoutParser = named("sipban scan without its parser");
  // The script sipban replaces, as cron ran it (its reading and counting; no iptables).
  let oldScript: Contender | undefined;
  if (spawnSync("perl", ["-e", "1"], { stdio: "ignore" }).status === 0) {
    oldScript = {
      name: "the old cron script (Perl)",
      argv: ["perl", join(ROOT, "bench/old-cron-script.pl"), logPath],
      timeoutMs: 120_000,
      lines: truth.lines,
      samples: [],
    };
    contenders.push(oldScript);
  } else {
    console.log("the old cron script: skipped: perl is not installed");
  }

  // fail2ban-regex reads a prefix; a one-line run each round measures its start-up cost, so the
  // full-log estimate is start-up + per-line cost x lines (not the prefix figure scaled whole).
  const haveFail2ban = fail2banAvailable();
  let f2b: Contender | undefined;
  let f2bStartup: Contender | undefined;
  if (haveFail2ban) {
    const prefixPath = logPath.replace(/\.log$/, `.prefix-${truth.prefix.lines}.log`);
    const onePath = logPath.replace(/\.log$/, ".prefix-1.log");
    writePrefix(logPath, prefixPath, truth.prefix.bytes);
    const firstLine = readFileSync(prefixPath).subarray(0, 4096);
    writePrefix(logPath, onePath, firstLine.indexOf(0x0a) + 1);
    const argv = (file: string) => [
      "fail2ban-regex",
      "--print-no-missed",
      "--print-no-ignored",
      file,
      FAIL2BAN_FILTER,
    ];
    f2b = {
      name: "fail2ban-regex",
      argv: argv(prefixPath),
      timeoutMs: 120_000,
      lines: truth.prefix.lines,
      samples: [],
    };
    f2bStartup = {
      name: "fail2ban-regex start-up",
      argv: argv(onePath),
      timeoutMs: 60_000,
      lines: 1,
      samples: [],
    };
    contenders.push(f2b, f2bStartup);
  } else {
    console.log("fail2ban-regex: skipped: apt-get install fail2ban");
  }

  // Warm the page cache so that no contender pays for the first read.
  measure(contenders[2]!, "warmup");

  let rounds = 0;
  for (let round = 0; round < ROUNDS; round++) {
    if (round > 0 && Date.now() - started > BUDGET_MS) {
      console.log(`(time budget reached: ${round} rounds instead of ${ROUNDS})`);
      break;
    }
    // Alternate: each round starts with the next contender.
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(round + i) % contenders.length]!;
      const sample = measure(c, c.name.replace(/\W+/g, "-"));
      if (c === contenders[0] && sample.status !== 0) {
        const stderr = readFileSync(join(DATA, "out-sipban-scan-json.stderr"), "utf8")
          .trim()
          .split("\n")
          .slice(0, 8);
        throw new Error(
          `sipban exited with status ${sample.status} (is dist/ built from a src/ that compiles?):\n${stderr.join("\n")}`,
        );
      }
      c.samples.push(sample);
    }
    rounds++;
  }

  const cpuOf = (c: Contender) => median(c.samples.map((s) => s.cpu));
  const sipban = contenders[0]!;
  const floor = contenders[1]!;
  const grep = contenders[2]!;
  const searchAlone = named("sipban's line search alone");
  const searchParse = named("sipban's search + parser");
  const searchDetect = named("sipban's search + detector");
  const sipbanCpu = cpuOf(sipban);

  // fail2ban's estimate for the whole log.
  let f2bFull: number | undefined;
  let f2bRate: number | undefined;
  if (f2b && f2bStartup) {
    const startup = cpuOf(f2bStartup);
    const perLine = Math.max(cpuOf(f2b) - startup, 1e-9) / f2b.lines;
    f2bRate = 1 / perLine;
    f2bFull = startup + perLine * truth.lines;
  }

  const rows: string[][] = [];
  const row = (name: string, cpu: number, lines: number, rss?: number, note = "") =>
    rows.push([
      name,
      fmt(cpu),
      Math.round(lines / cpu).toLocaleString("en"),
      `${fmt(cpu / sipbanCpu)}x`,
      rss === undefined ? "" : `${Math.round(rss / 1024)} MB`,
      note,
    ]);
  const rssOf = (c: Contender) =>
    c.samples[0]?.maxRssKb === undefined ? undefined : median(c.samples.map((s) => s.maxRssKb!));
  row(sipban.name, sipbanCpu, truth.lines, rssOf(sipban));
  row(floor.name, cpuOf(floor), truth.lines, rssOf(floor));
  row(grep.name, cpuOf(grep), truth.lines, rssOf(grep), "LC_ALL=C");
  row(
    searchAlone.name,
    cpuOf(searchAlone),
    truth.lines,
    rssOf(searchAlone),
    "finds and decodes, reads nothing",
  );
  row(
    searchParse.name,
    cpuOf(searchParse),
    truth.lines,
    rssOf(searchParse),
    "the parser run, nothing done with what it read",
  );
  row(
    searchDetect.name,
    cpuOf(searchDetect),
    truth.lines,
    rssOf(searchDetect),
    "no counting, policy or report",
  );
  row(
    withoutParser.name,
    cpuOf(withoutParser),
    truth.lines,
    rssOf(withoutParser),
    "every line through the rules (no JSON printed)",
  );
  // What the naive scanners find, of the log's failures.
  const foundOf = (c: Contender) => {
    const found = failuresListed(c.samples.at(-1)!.stdout);
    return `finds ${found.toLocaleString("en")} of ${truth.failures.toLocaleString("en")} failures (${fmt((100 * found) / truth.failures, 0)} %)`;
  };
  row(oneRegex.name, cpuOf(oneRegex), truth.lines, rssOf(oneRegex), `2 formats: ${foundOf(oneRegex)}`);
  if (oldScript) row(oldScript.name, cpuOf(oldScript), truth.lines, rssOf(oldScript), foundOf(oldScript));
  if (f2b && f2bFull !== undefined && f2bRate !== undefined) {
    rows.push([
      `${f2b.name} (est.)`,
      fmt(f2bFull),
      Math.round(f2bRate).toLocaleString("en"),
      `${fmt(f2bFull / sipbanCpu)}x`,
      rssOf(f2b) === undefined ? "" : `${Math.round(rssOf(f2b)! / 1024)} MB`,
      `${f2b.lines.toLocaleString("en")}-line prefix: ${fmt(cpuOf(f2b))} s, start-up ${fmt(cpuOf(f2bStartup!))} s`,
    ]);
  }
  console.log(
    `\nCPU seconds (user+sys), median of ${rounds} alternated rounds, ${truth.lines.toLocaleString("en")} lines:`,
  );
  printTable(["contender", "CPU s", "lines/s", "CPU vs sipban", "max RSS", "note"], rows);
  if (f2b && f2bFull !== undefined) {
    console.log(
      `fail2ban-regex ran on the first ${f2b.lines.toLocaleString("en")} lines only; its full-log figure is ` +
        `start-up + (prefix CPU - start-up) x ${truth.lines.toLocaleString("en")} / ${f2b.lines.toLocaleString("en")} ` +
        `(scaling the prefix run whole would give ${fmt((cpuOf(f2b) * truth.lines) / f2b.lines)} s).`,
    );
  }
  console.log(`spread (min-max CPU s): ${contenders.map((c) => `${c.name} ${spread(c)}`).join("; ")}`);

  console.log("");
  if (f2bFull !== undefined) {
    console.log(`sipban vs fail2ban-regex: ${fmt(f2bFull / sipbanCpu, 0)}x cheaper (target >= 40x)`);
  } else {
    console.log("sipban vs fail2ban-regex: skipped: apt-get install fail2ban");
  }
  console.log(`sipban vs Node floor: ${fmt(sipbanCpu / cpuOf(floor), 1)}x (target <= 2x)`);
  if (oldScript)
    console.log(
      `sipban vs the old cron script: ${fmt(sipbanCpu / cpuOf(oldScript), 1)}x its CPU; it ${foundOf(oldScript)}`,
    );
  console.log(
    `one regex in Node vs Node floor: ${fmt(cpuOf(oneRegex) / cpuOf(floor), 1)}x (reading the two commonest formats, nothing else)`,
  );
  console.log(
    `sipban scan without its WebAssembly parser: ${fmt(cpuOf(withoutParser) / sipbanCpu, 1)}x the CPU of scan with it`,
  );
  const found = Number(searchAlone.samples.at(-1)!.stdout.trim().split(" ")[1]);
  const perLine = (seconds: number) => `${fmt((seconds / found) * 1e6)} µs a line`;
  console.log(
    `sipban's line search alone vs Node floor: ${fmt(cpuOf(searchAlone) / cpuOf(floor), 1)}x; then, for the ` +
      `${found.toLocaleString("en")} lines found: the parser ${fmt(cpuOf(searchParse) - cpuOf(searchAlone))} s ` +
      `(${perLine(cpuOf(searchParse) - cpuOf(searchAlone))}; it decodes none of them), the detector ` +
      `${fmt(cpuOf(searchDetect) - cpuOf(searchParse))} s (${perLine(cpuOf(searchDetect) - cpuOf(searchParse))}), ` +
      `the rest of scan (start-up of the CLI, counting, ` +
      `policy, report) ${fmt(sipbanCpu - cpuOf(searchDetect))} s (${perLine(sipbanCpu - cpuOf(searchDetect))})`,
  );

  // ---- correctness -----------------------------------------------------------------------
  console.log("");
  const problems: string[] = [];
  const floorCount = Number(floor.samples.at(-1)!.stdout.trim());
  const grepCount = Number(grep.samples.at(-1)!.stdout.trim());
  for (const [name, n] of [
    ["Node floor", floorCount],
    ["grep -c", grepCount],
  ] as const) {
    if (n !== truth.failedForLines)
      console.log(`WARNING: ${name} counted ${n} "failed for" lines, the log has ${truth.failedForLines}`);
  }
  const [searchLines, searchFound] = searchAlone.samples.at(-1)!.stdout.trim().split(" ").map(Number);
  if (searchLines !== truth.lines || !(searchFound! > 0))
    problems.push(
      `the line search alone counted ${searchLines} lines and found ${searchFound}: the log has ${truth.lines} lines`,
    );
  if (f2b) checkFail2ban(f2b, truth);
  const [, withoutParserFailures] = withoutParser.samples.at(-1)!.stdout.trim().split(" ").map(Number);
  if (withoutParserFailures !== truth.failures)
    problems.push(
      `scan without its parser counted ${withoutParserFailures} failures: the log has ${truth.failures}`,
    );

  const last = sipban.samples.at(-1)!;
  const report = JSON.parse(last.stdout) as {
    linesRead: number;
    failures: number;
    offenders: Array<{ ip: string; failures: number }>;
    skipped?: Record<string, number>;
  };
  if (report.linesRead !== truth.lines)
    problems.push(`linesRead ${report.linesRead}, the log has ${truth.lines}`);
  if (report.failures !== truth.failures)
    problems.push(`failures ${report.failures}, the truth is ${truth.failures}`);
  const got = new Map(report.offenders.map((o) => [o.ip, o.failures]));
  const diffs: string[] = [];
  for (const [ip, want] of Object.entries(truth.perAddress)) {
    const n = got.get(ip) ?? 0;
    if (n !== want) diffs.push(`${ip}: sipban ${n}, truth ${want}`);
  }
  for (const [ip, n] of got) if (!(ip in truth.perAddress)) diffs.push(`${ip}: sipban ${n}, truth 0`);
  if (diffs.length > 0)
    problems.push(`${diffs.length} address(es) differ; first: ${diffs.slice(0, 10).join("; ")}`);
  if (problems.length > 0) {
    console.log(`sipban's counts DISAGREE with the truth:\n  ${problems.join("\n  ")}`);
    if (report.skipped) console.log(`  sipban's own notes: ${JSON.stringify(report.skipped)}`);
    throw new Error("scan bench: sipban's per-address counts differ from the generator's truth");
  }
  console.log(
    `counts agree for all ${Object.keys(truth.perAddress).length.toLocaleString("en")} addresses ` +
      `(${truth.failures.toLocaleString("en")} failures, ${truth.lines.toLocaleString("en")} lines)`,
  );
}

/** The failures a naive scanner listed: the sum of its "<address> <failures>" lines. */
function failuresListed(stdout: string): number {
  let sum = 0;
  for (const line of stdout.split("\n")) if (line) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  return sum;
}

function checkFail2ban(f2b: Contender, truth: Truth): void {
  const s = fail2banSummary(f2b.samples.at(-1)!.stdout);
  if (!s) {
    console.log("WARNING: could not read fail2ban-regex's summary line: did its date pattern match?");
    return;
  }
  const expected = truth.prefix.failures;
  // Debian's filter has no pattern for PJSIP 16.15+'s "<endpoint>: Call (...) to extension" form.
  const unknownToIt = truth.prefix.perKind["pjsip-call-noext-new"] ?? 0;
  console.log(
    `fail2ban-regex matched ${s.matched.toLocaleString("en")} of the prefix's ${s.lines.toLocaleString("en")} lines; ` +
      `the prefix holds ${expected.toLocaleString("en")} failure lines, ${unknownToIt.toLocaleString("en")} of them ` +
      `in the PJSIP 16.15+ "<endpoint>: Call (...)" form its filter lacks` +
      (s.matched === expected - unknownToIt ? " (so it matched every other one)." : "."),
  );
  if (s.matched === 0)
    console.log("WARNING: fail2ban-regex matched nothing: check its datepattern against the log");
}

function spread(c: Contender): string {
  const v = c.samples.map((s) => s.cpu);
  return `${fmt(Math.min(...v))}-${fmt(Math.max(...v))}`;
}

function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
}
