/**
 * The stdin source: a real daemon (dry-run firewall) reads lines piped to it, written in pieces
 * that cut lines anywhere, as a pipe delivers them.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { cliFor, spawnWatch, writeTestConfig } from "./helpers/daemon-config.js";
import { failureLine as failure } from "./helpers/log-lines.js";
import { waitFor } from "./helpers/wait.js";

const traffic = "[2026-11-21 10:00:00] VERBOSE[4243] pbx.c: -- Executing [s@default:1] Answer()\n";

const pause = () => sleep(100);

interface Status {
  running?: boolean;
  failuresSeen: number;
  sources: Array<{ name: string; state: string; linesRead: number }>;
}

/** A daemon (dry-run firewall) reading its stdin, a pipe the test writes to. */
async function startDaemon(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), "sipban-stdin-"));
  const config = writeTestConfig(dir, [
    "sources:",
    "  - stdin: true",
    "policy:",
    "  maxretry: 3",
    "  findtime: 10m",
  ]);
  let output = "";
  const child = spawnWatch(config, (text) => (output += text), { stdin: "pipe" });
  t.after(() => {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  const sipban = cliFor(config);
  const status = () => sipban.status<Status>();
  await waitFor("the daemon", async () => (await status()).running !== false);
  return {
    child,
    output: () => output,
    status,
    failuresSeen: async () => (await status()).failuresSeen,
    bans: sipban.banned,
    /** Writes one piece and gives the daemon time to read it as a chunk of its own. */
    async write(piece: string): Promise<void> {
      child.stdin!.write(piece);
      await pause();
    },
  };
}

test("stdin: lines cut across writes are read whole, each once", async (t) => {
  const d = await startDaemon(t);
  const [a, b, c] = [failure("198.51.100.7"), failure("198.51.100.7"), failure("198.51.100.7")];
  // A whole line and the start of the next, cut inside the address.
  const cut = b.indexOf("'198.51.1") + 9;
  await d.write(a + b.slice(0, cut));
  await d.write(b.slice(cut) + c.slice(0, 10));
  // A line in three pieces, the last with more lines after it.
  await d.write(c.slice(10, 60));
  await d.write(c.slice(60) + traffic);
  await waitFor("the ban", async () => (await d.bans()).includes("198.51.100.7"));
  await waitFor("3 failures", async () => (await d.failuresSeen()) === 3);
  await pause();
  let status = await d.status();
  assert.equal(status.failuresSeen, 3, "each line counted once");
  assert.equal(status.sources[0]!.linesRead, 4);

  // A line longer than 1 MiB is dropped whole, even what looks like a failure at its end.
  await d.write(`${"x".repeat(1_500_000)}${failure("192.0.2.99")}`);

  // The end of input: a last line without its newline still counts, and the daemon goes on.
  const e = failure("198.51.100.8");
  await d.write(e + e.slice(0, 50));
  await d.write(e.slice(50) + e.trimEnd());
  d.child.stdin!.end();
  await waitFor("the ban at the end of input", async () => (await d.bans()).includes("198.51.100.8"));
  status = await d.status();
  assert.equal(status.failuresSeen, 6);
  assert.equal(status.sources[0]!.linesRead, 7);
  assert.equal(status.sources[0]!.state, "ended");
  assert.equal(d.child.exitCode, null, "the daemon still runs");
  assert.deepEqual((await d.bans()).sort(), ["198.51.100.7", "198.51.100.8"]);
  assert.doesNotMatch(d.output(), /192\.0\.2\.99/);
});
