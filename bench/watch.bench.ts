// Watch benchmark: the real-time daemon (`sipban watch`) following a real log file, with the
// nftables backend, inside a throwaway network lab (test/helpers/netns.ts): the daemon runs in the
// lab's pbx namespace and only that namespace's ruleset is touched. No packet is sent: lines are
// appended to the log and the kernel set is watched. Three parts:
//
//   1. ban latency: one failure line per address (policy maxretry 1, so one line = one ban),
//      LATENCY_ADDRESSES + warm-up addresses from 198.18.0.0/15, one write each, LATENCY_GAP_MS
//      apart; the time from the write to the address appearing in the kernel set, timestamped by
//      `nft monitor` (an event stream, no polling), cross-checked with the daemon's "banned"
//      log line. The cron script it replaces is given as a computed figure.
//   2. sustained intake: a writer process (watch-writer.ts) appends INTAKE_RATE lines/s for
//      INTAKE_SECONDS (no bans: maxretry 1,000,000), the daemon's linesRead is sampled through
//      its control socket, and `sipban status --json` checks the totals at the end.
//   3. idle CPU: the daemon of part 1 restarted (holding its bans), left alone for
//      SIPBAN_BENCH_IDLE_S seconds (default 60); its threads' run time from /proc (schedstat,
//      exact; utime+stime from /proc/<pid>/stat beside it), next to a bare node process with the
//      same timer cadence over the same window: the cost of waking up at all on this machine.
//
// SIPBAN_BENCH_GAP_MS (default 8) changes the gap between latency lines: below the split
// guard's 5 ms quiet time, lines wait for the following bytes instead (see the printed notes).
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  watch,
  writeFileSync,
  writeSync,
} from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { controlRequest } from "../src/daemon/control.js";
import { createLab, type Lab } from "../test/helpers/netns.js";
import { asteriskStamp, failureLine, WRITER_LINE_BYTES } from "./watch-writer.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const MAIN = join(ROOT, "bin/sipban");
const WRITER = join(ROOT, "dist/bench/watch-writer.js");

const LATENCY_ADDRESSES = 1000;
/** Bans made first and left out of the figures (start-up, JIT). */
const LATENCY_WARMUP = 20;
/** Time between two lines; SIPBAN_BENCH_GAP_MS overrides it (2 to 100). */
const LATENCY_GAP_MS = envNumber("SIPBAN_BENCH_GAP_MS", 8, 2, 100);
const LATENCY_TARGET_P99_MS = 50;
/** How long to wait for the last bans after the last line. */
const SETTLE_MS = 5000;
const INTAKE_RATE = 120_000;
const INTAKE_SECONDS = 5;
const INTAKE_TARGET_RATE = 100_000;
const CRON_PERIOD_S = 120;
const IDLE_SETTLE_MS = 3000;
/** Idle CPU above this share of one core is reported as not "near zero". */
const IDLE_TARGET_PERCENT = 0.5;

const nowMs = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** The i-th address of 198.18.0.0/15, the range set aside for benchmarks. */
function benchAddress(i: number): string {
  return `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
}

function envNumber(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new Error(`${name}=${raw}: give a number from ${min} to ${max}`);
  return n;
}

// ---- the daemon -----------------------------------------------------------------------------

interface LogRecord {
  level: number;
  time: number;
  msg: string;
  ip?: string;
  [key: string]: unknown;
}

interface Files {
  dir: string;
  config: string;
  log: string;
  socket: string;
  table: string;
}

interface DaemonRun {
  child: ChildProcess;
  files: Files;
  records: LogRecord[];
  stderr: string;
  onRecord?: (record: LogRecord) => void;
}

/** Every child this benchmark started, killed in `run`'s finally if still alive. */
const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function writeConfig(dir: string, table: string, policy: string[]): Files {
  const files = {
    dir,
    table,
    config: join(dir, "sipban.yaml"),
    log: join(dir, "messages.log"),
    socket: join(dir, "sipban.sock"),
  };
  writeFileSync(
    files.config,
    [
      "sources:",
      `  - file: ${files.log}`,
      "    from: start",
      "policy:",
      ...policy.map((p) => `  ${p}`),
      "  findtime: 10m",
      "  bantime: 1h",
      "state:",
      `  path: ${join(dir, "state.db")}`,
      "daemon:",
      `  socket: ${files.socket}`,
      "  reconcileEvery: 30s",
      "  logLevel: info",
      "firewall:",
      "  backend: nftables",
      `  name: ${table}`,
      "",
    ].join("\n"),
  );
  writeFileSync(files.log, "");
  return files;
}

function startDaemon(lab: Lab, files: Files): DaemonRun {
  const child = track(
    spawn("ip", ["netns", "exec", lab.pbx.ns, process.execPath, MAIN, "--config", files.config, "watch"], {
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  const d: DaemonRun = { child, files, records: [], stderr: "" };
  createInterface({ input: child.stdout! }).on("line", (line) => {
    let record: LogRecord;
    try {
      record = JSON.parse(line) as LogRecord;
    } catch {
      d.stderr += `${line}\n`;
      return;
    }
    d.records.push(record);
    d.onRecord?.(record);
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    d.stderr += chunk.toString();
  });
  return d;
}

interface Status {
  pid: number;
  activeBans: number;
  bansApplied: number;
  failuresSeen: number;
  sources: Array<{ name: string; state: string; linesRead: number }>;
}

async function status(d: DaemonRun): Promise<Status> {
  const response = await controlRequest(d.files.socket, { cmd: "status" });
  if (!response?.ok) throw new Error(`the daemon did not answer on ${d.files.socket}`);
  return response as unknown as Status;
}

async function waitRunning(d: DaemonRun, ms = 15_000): Promise<Status> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!alive(d.child))
      throw new Error(`the daemon exited (${d.child.exitCode}):\n${d.stderr.slice(-2000)}`);
    const s = await status(d).catch(() => null);
    if (s) return s;
    if (Date.now() > deadline) throw new Error(`the daemon did not answer within ${ms} ms:\n${d.stderr}`);
    await sleep(50);
  }
}

async function stopDaemon(d: DaemonRun): Promise<void> {
  if (!alive(d.child)) return;
  const exited = new Promise((r) => d.child.once("exit", r));
  d.child.kill("SIGTERM");
  const timer = setTimeout(() => d.child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** The daemon's node process, found by its unique configuration path (as an admin would). */
function daemonPid(d: DaemonRun): number {
  const out = execFileSync("pgrep", ["-f", `${d.files.config} watch`], { encoding: "utf8" });
  const pids = out
    .trim()
    .split("\n")
    .map(Number)
    .filter((pid) => pid !== process.pid);
  const node = pids.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "node";
    } catch {
      return false;
    }
  });
  if (node.length !== 1) throw new Error(`pgrep found ${pids.join(", ") || "no"} process(es) for the daemon`);
  return node[0]!;
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface CpuSample {
  /** The process's own user+system time, ms, as the kernel samples it (on ticks). */
  self: number;
  /** Its threads' time on a CPU, ms, as the scheduler counts it (exact; live threads only). */
  run: number;
  /** Its waited-for children's (the nft it runs), ms. */
  children: number;
  /** Context switches of all its threads (voluntary + not): a measure of wake-ups. */
  switches: number;
  threads: number;
  /** Minor page faults (the heap's pages given back and taken again). */
  minorFaults: number;
  at: number;
}

function cpuSample(pid: number): CpuSample {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after "(comm) ": state is field 3, minflt 10; utime, stime, cutime, cstime 14-17.
  const f = stat
    .slice(stat.lastIndexOf(")") + 2)
    .split(" ")
    .map(Number);
  const tick = 1000 / CLK_TCK;
  let switches = 0;
  let runNs = 0;
  const tasks = readdirSync(`/proc/${pid}/task`);
  for (const tid of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
      for (const m of text.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)) switches += Number(m[1]);
      runNs += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return {
    self: (f[11]! + f[12]!) * tick,
    run: runNs / 1e6,
    children: (f[13]! + f[14]!) * tick,
    switches,
    threads: tasks.length,
    minorFaults: f[7]!,
    at: nowMs(),
  };
}

/** Runs the CLI (outside the namespace: the control socket is a file). */
function cli(files: Files, args: string[]): Promise<string> {
  return new Promise((res, rej) => {
    execFile(
      process.execPath,
      [MAIN, "--config", files.config, ...args],
      { timeout: 15_000 },
      (err, stdout, stderr) =>
        err ? rej(new Error(`sipban ${args.join(" ")}: ${stderr || err.message}`)) : res(stdout),
    );
  });
}

function notable(d: DaemonRun, since = 0): string[] {
  return d.records
    .filter(
      (r) => r.time >= since && (r.level >= 40 ? r.msg !== "banned" : /repaired|refused|cannot/.test(r.msg)),
    )
    .map((r) => `${r.msg}${r.err ? `: ${String(r.err)}` : ""}`);
}

// ---- statistics and printing -------------------------------------------------------------------

/** Nearest-rank percentile of sorted values. */
function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const fmt = (n: number, digits = 1) =>
  n.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const int = (n: number) => Math.round(n).toLocaleString("en");

function quantiles(values: number[]): string {
  const s = [...values].sort((a, b) => a - b);
  return `p50 ${fmt(pct(s, 0.5))} / p90 ${fmt(pct(s, 0.9))} / p99 ${fmt(pct(s, 0.99))} / max ${fmt(s.at(-1)!)} ms`;
}

function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
}

// ---- part 1: latency -------------------------------------------------------------------------------

interface LatencyResult {
  kernel: number[];
  logged: number[];
  missing: number;
  batched: number;
  outliers: string[];
  checkpointNote: string;
  inSet: number;
  notes: string[];
  files: Files;
}

const ELEMENT = /^(?:add|create) element inet (\S+) v4 \{ (.*) \}\s*$/;

async function latency(lab: Lab, work: string): Promise<{ result: LatencyResult; daemon: DaemonRun }> {
  const files = writeConfig(mkdtempSync(join(work, "latency-")), `sbwl${process.pid % 1_000_000}`, [
    "maxretry: 1",
  ]);
  const arrivals = new Map<string, { at: number; batch: number }>();
  let tableSeen = false;
  const monitor = track(
    spawn("ip", ["netns", "exec", lab.pbx.ns, "nft", "monitor", "new"], {
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  let pending = "";
  monitor.stdout!.on("data", (chunk: Buffer) => {
    const at = nowMs();
    pending += chunk.toString();
    for (let nl = pending.indexOf("\n"); nl !== -1; nl = pending.indexOf("\n")) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.startsWith(`add table inet ${files.table}`)) tableSeen = true;
      const m = ELEMENT.exec(line);
      if (!m || m[1] !== files.table) continue;
      const ips = m[2]!.split(",").map((e) => e.trim().split(" ")[0]!);
      for (const ip of ips) if (!arrivals.has(ip)) arrivals.set(ip, { at, batch: ips.length });
    }
  });
  let monitorErr = "";
  monitor.stderr!.on("data", (chunk: Buffer) => {
    monitorErr += chunk.toString();
  });
  // Give the monitor time to subscribe before the daemon creates its table.
  await sleep(300);

  const daemon = startDaemon(lab, files);
  const logged = new Map<string, number>();
  daemon.onRecord = (r) => {
    if (r.msg === "banned" && r.ip && !logged.has(r.ip)) logged.set(r.ip, r.time);
  };
  await waitRunning(daemon);
  for (const deadline = Date.now() + 5000; !tableSeen; await sleep(20)) {
    if (Date.now() > deadline)
      throw new Error(`nft monitor did not report the daemon's table ${files.table}: ${monitorErr}`);
  }

  // In WAL mode SQLite writes the database file itself only when it checkpoints the WAL: its
  // change events show when the daemon paused for a checkpoint (and its fsyncs).
  const checkpoints: number[] = [];
  const dbWatch = watch(files.dir, (_kind, name) => {
    if (name !== "state.db") return;
    const at = nowMs();
    if (at - (checkpoints.at(-1) ?? 0) > 50) checkpoints.push(at);
  });
  const total = LATENCY_WARMUP + LATENCY_ADDRESSES;
  const sends: Array<{ ip: string; at: number; wall: number }> = [];
  const fd = openSync(files.log, "a");
  try {
    const t0 = nowMs();
    for (let i = 0; i < total; i++) {
      await sleep(t0 + i * LATENCY_GAP_MS - nowMs());
      const ip = benchAddress(i + 1);
      const line = failureLine(asteriskStamp(new Date()), ip);
      const wall = Date.now();
      const at = nowMs();
      writeSync(fd, line);
      sends.push({ ip, at, wall });
    }
  } finally {
    closeSync(fd);
  }
  for (const deadline = Date.now() + SETTLE_MS; Date.now() < deadline; await sleep(20)) {
    if (arrivals.size >= total && logged.size >= total) break;
  }
  monitor.kill("SIGTERM");
  dbWatch.close();

  const measured = sends.slice(LATENCY_WARMUP);
  const kernel: number[] = [];
  const loggedMs: number[] = [];
  const rows: Array<{ ms: number; batch: number; t: number; ahead: number; checkpoint: boolean }> = [];
  let batched = 0;
  for (const [k, s] of measured.entries()) {
    const a = arrivals.get(s.ip);
    if (a) {
      kernel.push(a.at - s.at);
      // Bans sent before this one and not yet in the kernel when it was sent: a queue.
      let ahead = 0;
      for (let j = k + LATENCY_WARMUP - 1; j >= 0 && sends[j]!.at > s.at - 1000; j--)
        if ((arrivals.get(sends[j]!.ip)?.at ?? Number.POSITIVE_INFINITY) > s.at) ahead++;
      // A checkpoint began while the line waited (or just before: a queued ban's commit).
      const checkpoint = checkpoints.some((c) => c > s.at - 20 && c < a.at);
      rows.push({ ms: a.at - s.at, batch: a.batch, t: s.at - sends[0]!.at, ahead, checkpoint });
      if (a.batch > 1) batched++;
    }
    const l = logged.get(s.ip);
    if (l !== undefined) loggedMs.push(l - s.wall);
  }
  const slow = [...rows].sort((a, b) => b.ms - a.ms).slice(0, Math.ceil(rows.length / 100));
  const outliers = slow
    .slice(0, 5)
    .map(
      (r) =>
        `${fmt(r.ms)} ms (sent at +${fmt(r.t / 1000, 2)} s, ${r.ahead} earlier ban(s) still pending, ${r.batch} address(es) in its nft transaction${r.checkpoint ? ", SQLite checkpoint meanwhile" : ""})`,
    );
  const near = (list: typeof rows) => list.filter((r) => r.checkpoint).length;
  const set = JSON.parse(await lab.pbx.exec("nft", ["-j", "list", "set", "inet", files.table, "v4"])) as {
    nftables: Array<{ set?: { elem?: unknown[] } }>;
  };
  const inSet = set.nftables.find((o) => o.set)?.set?.elem?.length ?? 0;
  return {
    result: {
      kernel,
      logged: loggedMs,
      missing: measured.length - kernel.length,
      batched,
      outliers,
      checkpointNote:
        `${checkpoints.length} SQLite WAL checkpoint(s) while sending; ` +
        `one began while ${near(slow)} of the ${slow.length} slowest 1 % of lines ` +
        `waited (${near(rows)} of all ${rows.length}); ` +
        `latency median ${fmt(median(rows.filter((r) => r.checkpoint).map((r) => r.ms)))} ms with, ` +
        `${fmt(median(rows.filter((r) => !r.checkpoint).map((r) => r.ms)))} ms without`,
      inSet,
      notes: notable(daemon),
      files,
    },
    daemon,
  };
}

// ---- part 2: intake ---------------------------------------------------------------------------------

interface IntakeResult {
  written: number;
  writerRate: number;
  writeSeconds: number;
  readRate: number;
  maxBacklog: number;
  /** Backlog samples while writing: "seconds since the first write:lines". */
  series: string[];
  backlogEnd: number;
  backlog1s: number;
  drainMs: number | null;
  cpuPercent: number;
  cpuUsPerLine: number;
  failuresSeen: number;
  linesRead: number;
  notes: string[];
}

async function intake(lab: Lab, work: string): Promise<IntakeResult> {
  const files = writeConfig(mkdtempSync(join(work, "intake-")), `sbwi${process.pid % 1_000_000}`, [
    "maxretry: 1000000",
  ]);
  const daemon = startDaemon(lab, files);
  try {
    await waitRunning(daemon);
    await sleep(500);
    const pid = daemonPid(daemon);
    const cpuBefore = cpuSample(pid);

    const sample = async () => {
      const s = await status(daemon);
      const at = nowMs();
      const written = Math.floor(statSync(files.log).size / WRITER_LINE_BYTES);
      return { at, written, read: s.sources[0]!.linesRead };
    };
    const samples: Array<Awaited<ReturnType<typeof sample>>> = [];
    let done: { written: number; startedAt: number; endedAt: number } | null = null;
    let signalDone!: () => void;
    const writerDone = new Promise<void>((r) => {
      signalDone = r;
    });
    const writer = track(
      spawn(process.execPath, [WRITER, files.log, String(INTAKE_RATE), String(INTAKE_SECONDS)], {
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    let writerErr = "";
    writer.stderr!.on("data", (c: Buffer) => {
      writerErr += c.toString();
    });
    createInterface({ input: writer.stdout! }).on("line", (line) => {
      const m = JSON.parse(line) as { done?: boolean; written: number; startedAt: number; endedAt: number };
      if (m.done) {
        done = m;
        signalDone();
      } else
        void sample().then(
          (s) => samples.push(s),
          () => {},
        );
    });
    writer.once("exit", () => signalDone());
    await Promise.race([writerDone, sleep((INTAKE_SECONDS + 20) * 1000)]);
    if (!done) throw new Error(`the writer did not finish: ${writerErr}`);
    const endMark = nowMs();
    const cpuAtEnd = cpuSample(pid);
    const end = await sample();
    const { written } = done as { written: number; startedAt: number; endedAt: number };
    let drainedAt: number | null = end.read >= written ? end.at : null;
    for (const deadline = endMark + 10_000; drainedAt === null && nowMs() < deadline; await sleep(10)) {
      const s = await sample();
      if (s.read >= written) drainedAt = s.at;
    }
    await sleep(endMark + 1000 - nowMs());
    const later = await sample();
    // The CPU figure covers writing and catching up.
    const cpuAfter = cpuSample(pid);
    const cli1 = JSON.parse(await cli(files, ["status", "--json"])) as Status;
    const { startedAt, endedAt } = done as { written: number; startedAt: number; endedAt: number };
    const first = samples[0] ?? end;
    const cpuMs = cpuAfter.run - cpuBefore.run;
    return {
      written,
      writeSeconds: (endedAt - startedAt) / 1000,
      writerRate: written / ((endedAt - startedAt) / 1000),
      readRate: (end.read - first.read) / ((end.at - first.at) / 1000),
      maxBacklog: Math.max(...[...samples, end].map((s) => s.written - s.read)),
      series: samples.map((s) => `${fmt((s.at - startedAt) / 1000, 2)}s:${int(s.written - s.read)}`),
      backlogEnd: written - end.read,
      backlog1s: written - later.read,
      drainMs: drainedAt === null ? null : drainedAt - endMark,
      cpuPercent: ((cpuAtEnd.run - cpuBefore.run) / (cpuAtEnd.at - cpuBefore.at)) * 100,
      cpuUsPerLine: (cpuMs * 1000) / written,
      failuresSeen: cli1.failuresSeen,
      linesRead: cli1.sources[0]!.linesRead,
      notes: notable(daemon),
    };
  } finally {
    await stopDaemon(daemon);
  }
}

// ---- part 3: idle -------------------------------------------------------------------------------------

interface IdleResult {
  seconds: number;
  /** CPU of a bare node process with the same timers, same window. */
  referenceMs: number;
  /** The same CPU figure from /proc/<pid>/stat (utime+stime). */
  ticksMs: number;
  faultsPerS: number;
  cpuMs: number;
  childrenMs: number;
  percent: number;
  wakeupsPerS: number;
  threads: number;
  activeBans: number;
  bansApplied: number;
  linesRead: number;
  notes: string[];
}

async function idle(lab: Lab, files: Files, seconds: number): Promise<IdleResult> {
  const daemon = startDaemon(lab, files);
  // The floor on this machine: a node process that only wakes at the daemon's timer cadence
  // (positions every 250 ms; expiry and the file poll every second), measured over the same window.
  const reference = track(
    spawn(process.execPath, ["-e", "setInterval(() => {}, 250); setInterval(() => {}, 1000);"], {
      stdio: "ignore",
    }),
  );
  try {
    await waitRunning(daemon);
    await sleep(IDLE_SETTLE_MS);
    const pid = daemonPid(daemon);
    if (pid !== daemon.child.pid)
      console.log(`note: \`ip netns exec\` forked: the daemon is pid ${pid}, not ${daemon.child.pid}`);
    const since = Date.now();
    const before = cpuSample(pid);
    const refBefore = cpuSample(reference.pid!);
    await sleep(seconds * 1000);
    const after = cpuSample(pid);
    const refAfter = cpuSample(reference.pid!);
    const s = await status(daemon);
    const wall = after.at - before.at;
    return {
      referenceMs: refAfter.run - refBefore.run,
      ticksMs: after.self - before.self,
      faultsPerS: (after.minorFaults - before.minorFaults) / (wall / 1000),
      seconds: wall / 1000,
      cpuMs: after.run - before.run,
      childrenMs: after.children - before.children,
      percent: ((after.run - before.run) / wall) * 100,
      wakeupsPerS: (after.switches - before.switches) / (wall / 1000),
      threads: after.threads,
      activeBans: s.activeBans,
      bansApplied: s.bansApplied,
      linesRead: s.sources[0]!.linesRead,
      notes: notable(daemon, since),
    };
  } finally {
    reference.kill("SIGTERM");
    await stopDaemon(daemon);
  }
}

// ---- run ---------------------------------------------------------------------------------------------

export async function run(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log("skipped: needs root (it creates a throwaway network namespace lab)");
    return;
  }
  for (const tool of ["nft", "ip", "pgrep"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      console.log(`skipped: needs ${tool}`);
      return;
    }
  }
  const idleS = envNumber("SIPBAN_BENCH_IDLE_S", 60, 1, 600);
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model.trim() ?? "?"}, node ${process.version}; ` +
      `log in ${tmpdir()}; daemon in a lab namespace with the nftables backend, reconcileEvery 30s; ` +
      `load average ${loadavg()[0]!.toFixed(2)} (other work on the machine skews the latency tail)`,
  );
  const work = mkdtempSync(join(tmpdir(), "sipban-watch-bench-"));
  let lab: Lab | undefined;
  let lat: LatencyResult;
  let idleResult: IdleResult;
  let intakeResult: IntakeResult;
  try {
    lab = await createLab();
    const first = await latency(lab, work);
    lat = first.result;
    await stopDaemon(first.daemon);
    console.log(`latency: done (${lat.kernel.length} bans timed); idle: ${idleS} s ...`);
    idleResult = await idle(lab, lat.files, idleS);
    console.log("idle: done; intake ...");
    intakeResult = await intake(lab, work);
  } finally {
    for (const child of children) if (alive(child)) child.kill("SIGKILL");
    await lab?.destroy();
    rmSync(work, { recursive: true, force: true });
  }

  const cronExpected = (CRON_PERIOD_S / 2) * 1000;
  const kSorted = [...lat.kernel].sort((a, b) => a - b);
  const p99 = pct(kSorted, 0.99);
  const i = intakeResult;
  const ok = (good: boolean) => (good ? "yes" : "NO");
  const rows: string[][] = [
    [
      `ban latency, line written -> in kernel set (nft monitor), ${lat.kernel.length} addresses ${LATENCY_GAP_MS} ms apart`,
      quantiles(lat.kernel),
      `p99 < ${LATENCY_TARGET_P99_MS} ms`,
      ok(p99 < LATENCY_TARGET_P99_MS && lat.missing === 0),
    ],
    [
      `  cross-check: line written -> daemon's "banned" log line (${lat.logged.length} addresses)`,
      quantiles(lat.logged),
      "",
      "",
    ],
    [
      `  the cron script it replaces (every ${CRON_PERIOD_S / 60} min), computed`,
      `expected ${int(cronExpected)} ms, worst ${int(CRON_PERIOD_S * 1000)} ms`,
      "",
      "",
    ],
    [
      `intake: writer, ${int(i.written)} lines in ${fmt(i.writeSeconds, 2)} s`,
      `${int(i.writerRate)} lines/s`,
      `>= ${int(INTAKE_TARGET_RATE)} lines/s`,
      ok(i.writerRate >= INTAKE_TARGET_RATE),
    ],
    [
      "  daemon's reading rate while the writer wrote",
      `${int(i.readRate)} lines/s`,
      ">= writer's",
      ok(i.readRate >= i.writerRate * 0.98),
    ],
    [
      "  backlog (written - read): most while writing / at end / 1 s later",
      `${int(i.maxBacklog)} / ${int(i.backlogEnd)} / ${int(i.backlog1s)} lines`,
      "not growing; 0 at +1 s",
      ok(i.backlog1s === 0),
    ],
    [
      "  caught up after the last write in",
      i.drainMs === null ? "not within 11 s" : `${fmt(i.drainMs)} ms`,
      "",
      "",
    ],
    [
      "  sipban status --json: failuresSeen / linesRead",
      `${int(i.failuresSeen)} / ${int(i.linesRead)}`,
      `= ${int(i.written)}`,
      ok(i.failuresSeen === i.written && i.linesRead === i.written),
    ],
    [
      "  daemon CPU: while writing / per line, all told",
      `${fmt(i.cpuPercent, 0)} % of a core / ${fmt(i.cpuUsPerLine, 2)} us`,
      "",
      "",
    ],
    [
      `idle CPU over ${fmt(idleResult.seconds, 1)} s (${idleResult.activeBans} bans held)`,
      `${int(idleResult.cpuMs)} ms = ${fmt(idleResult.percent, 3)} % of a core (utime+stime: ${int(idleResult.ticksMs)} ms)`,
      `near zero (< ${IDLE_TARGET_PERCENT} %)`,
      ok(idleResult.percent < IDLE_TARGET_PERCENT),
    ],
    [
      "  idle: bare node with the same timers, same window (the floor here)",
      `${int(idleResult.referenceMs)} ms = ${fmt((idleResult.referenceMs / (idleResult.seconds * 1000)) * 100, 3)} % of a core`,
      "",
      "",
    ],
    [
      "  idle: children's CPU (nft) / context switches / minor faults",
      `${int(idleResult.childrenMs)} ms / ${fmt(idleResult.wakeupsPerS, 1)} per s (${idleResult.threads} threads) / ${fmt(idleResult.faultsPerS, 1)} per s`,
      "",
      "",
    ],
  ];
  console.log(`\nload average at the end: ${loadavg()[0]!.toFixed(2)}`);
  printTable(["measure", "result", "target", "met"], rows);
  console.log(
    `\nlatency: ${LATENCY_WARMUP} warm-up bans left out; ${lat.missing} of ${LATENCY_ADDRESSES} never reached the kernel within ${SETTLE_MS / 1000} s; ` +
      `${lat.batched} arrived in an nft transaction with other addresses; ${lat.inSet} addresses in the set at the end.`,
  );
  console.log(`slowest: ${lat.outliers.join("; ")}`);
  console.log(lat.checkpointNote);
  console.log(`intake backlog while writing (time since the first write: lines): ${i.series.join(" ")}`);
  console.log(
    `CPU: the threads' exact run time from /proc/<pid>/task/*/schedstat; utime+stime from /proc/<pid>/stat ` +
      `(${1000 / CLK_TCK} ms units, sampled on ticks). The idle daemon (restarted) read ${idleResult.linesRead} lines and made ${idleResult.bansApplied} bans.`,
  );
  const notes = [
    ...lat.notes.map((n) => `latency daemon: ${n}`),
    ...idleResult.notes.map((n) => `idle daemon: ${n}`),
    ...i.notes.map((n) => `intake daemon: ${n}`),
  ];
  if (notes.length > 0) console.log(`daemon warnings:\n  ${[...new Set(notes)].join("\n  ")}`);
}
