import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const main = join(import.meta.dirname, "..", "..", "src", "cli", "main.js");

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

/** The sipban CLI run with `config`, for asking a daemon what it holds. */
export function cliFor(config: string) {
  const run = (args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [main, "--config", config, ...args], { timeout: 10_000 }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      );
    });
  return {
    run,
    status: async <T>() => JSON.parse(await run(["status", "--json"])) as T & { running?: boolean },
    banned: async () =>
      (JSON.parse(await run(["bans", "--json"])).bans as Array<{ ip: string }>).map((b) => b.ip),
  };
}
