// `sipban scan`'s work done again and again in one process: how much of a scan's CPU is the price
// of code that is not compiled yet (V8 runs new JavaScript slowly and compiles what gets hot on
// other threads), against the same work once compiled. Each run scans the file and writes the
// JSON report to nowhere. The CPU is the whole process's (all threads), read after a pause that
// lets the previous run's compiling end; the split between scan and report is rougher (compiling
// started in one may end in the other).
//   node dist/bench/warm-runs.js FILE [RUNS]   -> one line per run: "<run> <scan ms> <report ms>"
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { writeScanJson } from "../src/cli/scan-json.js";
import { defaultConfig } from "../src/config/defaults.js";
import { scanFiles } from "../src/report/scan-files.js";

/** CPU of the whole process so far, in ms. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

export async function warmRuns(file: string, runs: number): Promise<Array<{ scan: number; report: number }>> {
  const config = defaultConfig();
  const policy = { maxretry: config.policy.maxretry, findtime: config.policy.findtime };
  const results: Array<{ scan: number; report: number }> = [];
  for (let run = 0; run < runs; run++) {
    await sleep(300);
    const start = cpuMs();
    const result = await scanFiles([file], config);
    const scanned = cpuMs();
    let bytes = 0;
    writeScanJson(
      (text) => (bytes += typeof text === "string" ? Buffer.byteLength(text) : text.length),
      result,
      policy,
    );
    if (bytes === 0) throw new Error("no report written");
    results.push({ scan: scanned - start, report: cpuMs() - scanned });
  }
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, runsText = "5"] = process.argv.slice(2);
  const runs = Number(runsText);
  if (!file || !Number.isInteger(runs) || runs < 1) {
    process.stderr.write("usage: warm-runs FILE [RUNS]\n");
    process.exitCode = 2;
  } else {
    for (const [i, r] of (await warmRuns(file, runs)).entries())
      process.stdout.write(`${i + 1} ${r.scan.toFixed(0)} ${r.report.toFixed(0)}\n`);
  }
}
