// Applying bans: sipban's backends against the old cron script (one `iptables -I` process per
// address), in the same run. Everything happens in a throwaway network namespace; the
// measurements run in a child process inside it, so no figure includes the cost of entering it
// and the host's own firewall is never touched.
import { execFile, spawn } from "node:child_process";
import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { configSchema } from "../src/config/schema.js";
import { type BanEntry, createBackend, type FirewallBackend } from "../src/firewall/backend.js";
import { commandRunner } from "../src/firewall/command.js";

const BANS = 100_000;
/** The old way runs this many processes at most, for this long at most, then is extrapolated. */
const OLD_WAY_CAP = { count: 2000, ms: 20_000 };
/** "One more ban" is timed this many times (the median is shown). */
const ONE_MORE_RUNS = 5;
const NAMESPACE_ENV = "SIPBAN_BENCH_NETNS";

const execFileAsync = promisify(execFile);
const self = fileURLToPath(import.meta.url);

export async function run(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log("skipped: needs root (it creates a throwaway network namespace)");
    return;
  }
  const ns = `sb-bench-${process.pid}`;
  await execFileAsync("ip", ["netns", "add", ns]);
  try {
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, self], {
      stdio: "inherit",
      env: { ...process.env, [NAMESPACE_ENV]: ns },
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    if (code !== 0) throw new Error(`the firewall benchmark failed (exit status ${code})`);
  } finally {
    await execFileAsync("ip", ["netns", "del", ns]);
  }
}

/** The i-th address of 198.18.0.0/15, the range set aside for benchmarks. */
function benchAddress(i: number): string {
  return `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
}

function backend(name: "nftables" | "ipset" | "iptables"): FirewallBackend {
  return createBackend(configSchema.parse({ firewall: { backend: name } }).firewall);
}

async function seconds(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return (performance.now() - start) / 1000;
}

/** Median time of adding one new ban, `ONE_MORE_RUNS` times. */
async function oneMore(fw: FirewallBackend, firstIndex: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < ONE_MORE_RUNS; i++) {
    times.push(await seconds(() => fw.add([{ ip: benchAddress(firstIndex + i), until: 0 }])));
  }
  return times.sort((a, b) => a - b)[ONE_MORE_RUNS >> 1]!;
}

interface Row {
  what: string;
  batch: number;
  /** Set when `batch` is extrapolated from fewer addresses. */
  measured?: string;
  oneMore: number;
}

async function measureBackend(name: "nftables" | "ipset" | "iptables", bans: BanEntry[]): Promise<Row> {
  const fw = backend(name);
  await fw.setup();
  const batch = await seconds(() => fw.add(bans));
  const more = await oneMore(fw, BANS);
  const held = (await fw.list()).length;
  await fw.teardown();
  if (held !== BANS + ONE_MORE_RUNS)
    throw new Error(`${name} holds ${held} bans, expected ${BANS + ONE_MORE_RUNS}`);
  const label = {
    nftables: "nftables set",
    ipset: "ipset hash:ip",
    iptables: "iptables rules (iptables-restore)",
  };
  return { what: `sipban ${label[name]}`, batch, oneMore: more };
}

/** The cron script's way: one `iptables -I` process per address, bounded in count and time. */
async function measureOldWay(): Promise<Row> {
  const run = commandRunner();
  const chain = "sipban-cron";
  await run("iptables", ["-t", "raw", "-N", chain]);
  const start = performance.now();
  let done = 0;
  while (done < OLD_WAY_CAP.count && performance.now() - start < OLD_WAY_CAP.ms) {
    await run("iptables", ["-t", "raw", "-I", chain, "-s", benchAddress(done), "-j", "DROP"]);
    done++;
  }
  const elapsed = (performance.now() - start) / 1000;
  // One more with the chain full: load the rest in one restore (not timed), then insert.
  const rest = Array.from(
    { length: BANS - done },
    (_, i) => `-A ${chain} -s ${benchAddress(done + i)} -j DROP`,
  );
  await run("iptables-restore", ["--noflush"], `*raw\n${rest.join("\n")}\nCOMMIT\n`);
  const times: number[] = [];
  for (let i = 0; i < ONE_MORE_RUNS; i++) {
    const ip = benchAddress(BANS + i);
    times.push(await seconds(() => run("iptables", ["-t", "raw", "-I", chain, "-s", ip, "-j", "DROP"])));
  }
  await run("iptables", ["-t", "raw", "-F", chain]);
  await run("iptables", ["-t", "raw", "-X", chain]);
  return {
    what: "old cron script (iptables -I per address)",
    batch: (elapsed / done) * BANS,
    measured: `${done} addresses in ${elapsed.toFixed(1)} s`,
    oneMore: times.sort((a, b) => a - b)[ONE_MORE_RUNS >> 1]!,
  };
}

async function measure(): Promise<void> {
  const bans = Array.from({ length: BANS }, (_, i) => ({
    ip: benchAddress(i),
    until: Date.now() + 3_600_000,
  }));
  const rows: Row[] = [];
  for (const name of ["nftables", "ipset", "iptables"] as const) rows.push(await measureBackend(name, bans));
  rows.push(await measureOldWay());
  const base = rows[0]!;
  console.log(
    `${BANS.toLocaleString("en")} bans in one batch, then one more ban with ${BANS.toLocaleString("en")} present:`,
  );
  for (const row of rows) {
    // Each insert costs more as the chain grows, so a linear extrapolation is a lower bound.
    const batch = row.measured
      ? `>= ${row.batch.toFixed(0)} s (from ${row.measured})`
      : `${row.batch.toFixed(2)} s`;
    console.log(
      `  ${row.what.padEnd(44)} batch ${batch}, ${(row.batch / base.batch).toFixed(1)}x nftables; ` +
        `one more ${(row.oneMore * 1000).toFixed(1)} ms`,
    );
  }
}

// The child `run` starts inside the namespace; the check refuses to touch any other network stack.
if (process.argv[1] === self && process.env[NAMESPACE_ENV] !== undefined) {
  const ns = process.env[NAMESPACE_ENV];
  if (statSync("/proc/self/ns/net").ino !== statSync(`/run/netns/${ns}`).ino) {
    throw new Error(`not inside network namespace ${ns}: refusing to change this host's firewall`);
  }
  await measure();
}
