import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCommand, sipbanCommand } from "./command.js";

/**
 * Writes the configuration a test's daemon or CLI runs with: state and socket inside `dir`, the
 * nftables backend under its own table name (or dry-run when no table is given), plus the test's
 * own lines.
 */
export function writeTestConfig(dir: string, lines: readonly string[], table?: string): string {
  const config = join(dir, "sipban.yaml");
  const firewall = table === undefined ? ["  backend: dry-run"] : ["  backend: nftables", `  name: ${table}`];
  writeFileSync(
    config,
    [
      "state:",
      `  path: ${JSON.stringify(join(dir, "state.db"))}`,
      "daemon:",
      `  socket: ${JSON.stringify(join(dir, "sipban.sock"))}`,
      "  reconcileEvery: 1s",
      "firewall:",
      ...firewall,
      ...lines,
      "",
    ].join("\n"),
  );
  return config;
}

let tables = 0;

/** An nftables table name for one test's firewall: `tag`, then unique to this process and call. */
export function testTableName(tag: string): string {
  return `${tag}${process.pid % 10000}${++tables}`;
}

export interface WatchOptions {
  /** Put before the command: a lab host's `commandPrefix` runs the daemon (and its firewall) there. */
  prefix?: readonly string[];
  /** In a process group of its own, so that it can be stopped with whatever it started. */
  detached?: boolean;
  /** "pipe" for a daemon that reads its standard input. */
  stdin?: "ignore" | "pipe";
}

/** Starts `sipban watch` with `config`; what it prints, on stdout and stderr, goes to `print`. */
export function spawnWatch(
  config: string,
  print: (text: string) => void,
  options: WatchOptions = {},
): ChildProcess {
  const [command, args] = sipbanCommand(config, ["watch"], options.prefix);
  const child = spawn(command, args, {
    stdio: [options.stdin ?? "ignore", "pipe", "pipe"],
    detached: options.detached,
  });
  for (const stream of [child.stdout!, child.stderr!]) stream.on("data", (d: Buffer) => print(d.toString()));
  return child;
}

/** Kills a child and resolves once it has exited (so nothing it writes outlives the test). */
export function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

/** The sipban CLI run with `config`, for asking a daemon what it holds. */
export function cliFor(config: string) {
  const run = (args: string[], configFile = config) =>
    runCommand(...sipbanCommand(configFile, args), { timeout: 10_000 });
  /** What a `--json` command printed; rejects, with its stderr, when it failed. */
  const json = async (args: string[], configFile?: string) => {
    const result = await run(args, configFile);
    if (result.code !== 0) {
      throw new Error(`sipban ${args.join(" ")} exited with ${result.code}: ${result.stderr.trim()}`);
    }
    return JSON.parse(result.stdout);
  };
  /** The bans listed; with `configFile`, as another configuration (naming the same state) lists them. */
  const bans = async <Ban extends { ip: string } = { ip: string }>(configFile?: string) =>
    (await json(["bans", "--json"], configFile)).bans as Ban[];
  return {
    status: async <T>() => (await json(["status", "--json"])) as T & { running?: boolean },
    bans,
    banned: async () => (await bans()).map((b) => b.ip),
  };
}
