import type { Command } from "commander";
import { formatMs } from "../policy/policy.js";
import { counted } from "../util/counted.js";
import { resolveConfig } from "./config-option.js";

/** `sipban status`: the daemon's state, or the firewall's and the store's when none runs. */
export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("show the running daemon's sources, counters and bans")
    .option("--json", "print JSON for scripts")
    .action(async (options: { json?: boolean }, command: Command) => {
      const config = await resolveConfig(command.optsWithGlobals().config);
      const { askDaemon } = await import("./daemon-link.js");
      const daemon = await askDaemon(config, { cmd: "status" });
      if (options.json) {
        console.log(JSON.stringify(daemon ?? { ok: true, running: false }, null, 2));
        return;
      }
      if (!daemon) {
        const { describeFirewall, withBanContext } = await import("./context.js");
        const firewall = await withBanContext(config, describeFirewall);
        console.log(`No sipban daemon is running (socket ${config.daemon.socket}).`);
        console.log(`${firewall.line}.`);
        process.exitCode = 3;
        return;
      }
      console.log(
        `sipban running (pid ${daemon.pid}, up ${formatMs(Math.round(Number(daemon.uptimeMs) / 1000) * 1000)}), backend ${daemon.backend}`,
      );
      console.log(
        `${counted(Number(daemon.activeBans), "active ban")}, ${Number(daemon.bansApplied).toLocaleString("en")} made since start, ${counted(Number(daemon.failuresSeen), "failure")} seen, ${counted(Number(daemon.tracked), "address", "addresses")} counted`,
      );
      for (const s of daemon.sources as Array<Record<string, unknown>>) {
        const read =
          s.linesRead !== undefined
            ? `${counted(Number(s.linesRead), "line")} read`
            : `${counted(Number(s.blocks), "event block")} read`;
        const odd = s.unmatched !== undefined ? `${s.unmatched} unmatched` : `${s.rejected} rejected`;
        console.log(
          `  ${s.name}: ${s.state}, ${read}, ${counted(Number(s.injections), "injection attempt")}, ${odd}`,
        );
      }
    });
}
