import { execFile } from "node:child_process";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { runOrSkip } from "./netns.js";

/** The package's launcher, bin/sipban, to be run with node (tests run from dist/test). */
export const sipbanMain = join(import.meta.dirname, "..", "..", "..", "bin", "sipban");

export interface CommandResult {
  /** The exit status; -1 when there is none (killed, or never started). */
  code: number;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  /** Killed after this many ms (stderr then says so). */
  timeout?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to its standard input, which is then closed. */
  input?: string;
  /** Run as this user and group (the tests run as root). */
  uid?: number;
  gid?: number;
}

/**
 * Runs `command` to its end and resolves with what it printed and its exit status; never rejects,
 * so a test can assert on a failing run. A run without an exit status gets -1, never a status a
 * test may expect from a refusal.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  const { input, ...execOptions } = options;
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      { ...execOptions, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const failure = err as (Error & { code?: number | string; killed?: boolean }) | null;
        resolve({
          code: failure ? (typeof failure.code === "number" ? failure.code : -1) : 0,
          stdout,
          stderr: failure?.killed ? `${stderr}\n(killed after ${options.timeout} ms)` : stderr,
        });
      },
    );
    // Closed either way, so a child that reads it sees its end; it may exit before reading.
    child.stdin?.on("error", () => {});
    child.stdin?.end(input);
  });
}

/**
 * The command and arguments that run the built CLI with `config` and `args`, behind `prefix`
 * (e.g. a lab host's `ip netns exec <ns>`, to run it in that namespace).
 */
export function sipbanCommand(
  config: string,
  args: readonly string[],
  prefix: readonly string[] = [],
): [string, string[]] {
  const [command, ...rest] = [...prefix, process.execPath, sipbanMain, "--config", config, ...args];
  return [command!, rest];
}

/** The user and group the tests run commands as when they must not be root: nobody. */
export const NOBODY = { uid: 65534, gid: 65534 };

/**
 * True when the test may run commands as `NOBODY`: it runs as root (to become that user) and that
 * user can read the build (not in a private checkout, say). Otherwise the test is skipped with
 * the reason, or fails under SIPBAN_REQUIRE_ROOT_TESTS=1 (see runOrSkip). `why`: what the test
 * needs root for.
 */
export async function requireNobodyOrSkip(t: TestContext, why: string): Promise<boolean> {
  if (process.getuid?.() !== 0) return runOrSkip(t, `needs root: ${why}`);
  const probe = await runCommand(
    process.execPath,
    ["-e", `require("node:fs").accessSync(${JSON.stringify(sipbanMain)}, 4)`],
    NOBODY,
  );
  const lines = probe.stderr.split("\n");
  const error = lines.find((line) => line.startsWith("Error")) ?? lines[0];
  return runOrSkip(t, probe.code === 0 ? null : `user ${NOBODY.uid} cannot read the build here: ${error}`);
}
