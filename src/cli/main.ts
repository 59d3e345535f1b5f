import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { ConfigError } from "../config/errors.js";
import { InputError } from "../sources/file-reader.js";
import { registerBanCommands } from "./ban.js";
import { registerConfigCommands } from "./check-config.js";
import { registerFirewallCommands } from "./firewall.js";
import { registerRules } from "./rules.js";
import { registerScan } from "./scan.js";
import { registerStatus } from "./status.js";
import { registerWatch } from "./watch.js";

// Three levels under the package, both here (dist/src/cli) and in the launcher's bundle
// (dist/bundle/cli, see launch.cts).
const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

// A reader that goes away early (`sipban scan | head`) is not an error: the rest of the output is
// dropped, and the command still finishes its work (`scan --ban` still bans).
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE" || err.code === "ERR_STREAM_DESTROYED") return;
  process.stderr.write(`sipban: cannot write the output: ${err.message}\n`);
  process.exitCode = 1;
});

// Nor is a reader of the errors going away (`sipban scan --ban 2>&1 | head`): nothing is left to
// tell, and the work goes on.
process.stderr.on("error", () => {});

const program = new Command("sipban")
  .description("Detect and block SIP brute-force and scanning attacks on Asterisk, FreeSWITCH and Kamailio")
  .version(pkg.version)
  .option("-c, --config <file>", "configuration file (default /etc/sipban/sipban.yaml if it exists)")
  .exitOverride();

registerScan(program);
registerBanCommands(program);
registerFirewallCommands(program);
registerWatch(program);
registerStatus(program);
registerConfigCommands(program);
registerRules(program);

// Not a top-level await: the bundle is a CommonJS script (see launch.cts).
program.parseAsync(process.argv).catch((err: unknown) => {
  process.exitCode = reportError(err);
});

/** One line for the user, never a stack trace (unless SIPBAN_DEBUG is set); returns the exit code. */
function reportError(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode;
  if (err instanceof InputError || err instanceof ConfigError) {
    process.stderr.write(`sipban: ${err.message}\n`);
    return 2;
  }
  const e = err as NodeJS.ErrnoException;
  process.stderr.write(`sipban: ${e?.message ?? String(err)}\n`);
  if (process.env.SIPBAN_DEBUG) process.stderr.write(`${e?.stack}\n`);
  return 1;
}
