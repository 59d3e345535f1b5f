import { spawnSync } from "node:child_process";
import { Allowlist } from "../src/policy/allowlist.js";
import { BanPolicy, DEFAULT_POLICY } from "../src/policy/policy.js";
import { failure } from "../test/helpers/events.js";

// The policy engine under an attacker that rotates through 1M distinct addresses, each failing
// twice (never reaching maxretry): how fast events are counted and how much memory it takes,
// beside the obvious alternative (a Map of failure times per address, never trimmed).
const ADDRESSES = 1_000_000;
const ROUNDS = 2;

function address(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

function feedPolicy(maxTracked: number): void {
  const policy = new BanPolicy({ ...DEFAULT_POLICY, maxTracked }, new Allowlist([], { includeHost: false }));
  // One event, its address and time changed for each failure.
  const event = failure("", 0);
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < ADDRESSES; i++) {
      event.time = r * 1000 + i / 1000;
      event.ip = address(i);
      policy.onFailure(event);
    }
  }
  process.stdout.write(JSON.stringify({ tracked: policy.tracked, evicted: policy.evicted }));
}

function feedNaive(): void {
  const seen = new Map<string, number[]>();
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < ADDRESSES; i++) {
      const ip = address(i);
      const times = seen.get(ip);
      if (times) times.push(r * 1000 + i / 1000);
      else seen.set(ip, [r * 1000 + i / 1000]);
    }
  }
  process.stdout.write(JSON.stringify({ tracked: seen.size, evicted: 0 }));
}

interface Measured {
  seconds: number;
  peakMb: number;
  tracked: number;
  evicted: number;
}

/** Runs one contender in a fresh process: its wall time and peak resident memory. */
function measure(kind: string): Measured {
  const started = process.hrtime.bigint();
  const res = spawnSync("/usr/bin/time", ["-f", "%M", process.execPath, import.meta.filename, kind], {
    encoding: "utf8",
    timeout: 120_000,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (res.status !== 0) throw new Error(`${kind} failed (${res.status ?? res.signal}): ${res.stderr}`);
  const peakKb = Number(res.stderr.trim().split("\n").pop());
  return {
    seconds,
    peakMb: peakKb / 1024,
    ...(JSON.parse(res.stdout) as { tracked: number; evicted: number }),
  };
}

export async function run(): Promise<void> {
  const rows = ["policy-default", "policy-1M", "naive-map"].map((kind) => [kind, measure(kind)] as const);
  const events = ADDRESSES * ROUNDS;
  console.log(
    `${events.toLocaleString("en")} failures from ${ADDRESSES.toLocaleString("en")} distinct addresses (each fails ${ROUNDS} times)`,
  );
  console.log("contender      events/s     peak RSS   tracked at end  evicted");
  for (const [kind, r] of rows) {
    console.log(
      `${kind.padEnd(13)} ${Math.round(events / r.seconds)
        .toLocaleString("en")
        .padStart(
          10,
        )}  ${r.peakMb.toFixed(0).padStart(6)} MB  ${String(r.tracked).padStart(14)}  ${String(r.evicted).padStart(7)}`,
    );
  }
  console.log(
    `policy-default tracks at most ${DEFAULT_POLICY.maxTracked.toLocaleString("en")} addresses (maxTracked), forgetting the least recently seen; policy-1M tracks all of them. Target: under 300 MB.`,
  );
}

if (process.argv[2] === "policy-1M") feedPolicy(1_000_000);
else if (process.argv[2] === "policy-default") feedPolicy(DEFAULT_POLICY.maxTracked);
else if (process.argv[2] === "naive-map") feedNaive();
