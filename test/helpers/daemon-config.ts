import { writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Writes the configuration a test's daemon or CLI runs with: everything (state, socket) inside
 * `dir`, the nftables backend under its own table name, plus the test's own lines.
 */
export function writeTestConfig(dir: string, table: string, lines: readonly string[]): string {
  const config = join(dir, "sipban.yaml");
  writeFileSync(
    config,
    [
      "state:",
      `  path: ${join(dir, "state.db")}`,
      "daemon:",
      `  socket: ${join(dir, "sipban.sock")}`,
      "  reconcileEvery: 1s",
      "firewall:",
      "  backend: nftables",
      `  name: ${table}`,
      ...lines,
      "",
    ].join("\n"),
  );
  return config;
}
