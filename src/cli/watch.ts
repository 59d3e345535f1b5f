import { createRequire } from "node:module";
import type { Command } from "commander";
import { configFile, resolveConfig } from "./config-option.js";

/** `sipban watch`: the real-time daemon (systemd runs it; see packaging/sipban.service). */
export function registerWatch(program: Command): void {
  program
    .command("watch")
    .description("follow the logs in real time and ban as failures come (the daemon)")
    .action(async (_options: unknown, command: Command) => {
      const configPath = configFile(command.optsWithGlobals().config);
      const config = await resolveConfig(configPath);
      // The daemon's modules (logger, store, sources) load only for the daemon. The logger is
      // required, not imported: the CLI's bundle runs as a script, which has no import().
      const { pino } = createRequire(import.meta.url)("pino") as typeof import("pino");
      const { Daemon } = await import("../daemon/daemon.js");
      const logger = pino({ level: config.daemon.logLevel, base: { service: "sipban" } });
      const daemon = new Daemon(config, { configPath, logger });
      await daemon.start();
      process.on("SIGHUP", () => daemon.reload());
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ signal }, "stopping");
          daemon.stop().then(resolve, (err: Error) => {
            logger.error({ err: err.message }, "error while stopping");
            resolve();
          });
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
      });
    });
}
