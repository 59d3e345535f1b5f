import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { buildRules } from "../detect/ruleset.js";
import { counted } from "../util/counted.js";
import { configFile, resolveConfig } from "./config-option.js";

/** `sipban check-config` and `sipban config-schema`. */
export function registerConfigCommands(program: Command): void {
  program
    .command("check-config")
    .description("validate the configuration without running anything")
    .action(async (_options: unknown, command: Command) => {
      const file = configFile(command.optsWithGlobals().config);
      const config = await resolveConfig(file);
      const rules = buildRules(config.detect);
      console.log(
        `${file ?? "no configuration file, the built-in defaults"}: OK (${counted(rules.length, "rule")}, ${counted(config.sources.length, "source")}, ` +
          `${counted(config.allowlist.length, "allowlist entry", "allowlist entries")}, backend ${config.firewall.backend})`,
      );
    });

  program
    .command("config-schema")
    .description("print the JSON Schema of the configuration (for editors)")
    .option("-o, --output <file>", "write it to a file instead")
    .action(async (options: { output?: string }) => {
      const { configJsonSchema } = await import("../config/json-schema.js");
      const text = `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
      if (options.output) writeFileSync(options.output, text);
      else process.stdout.write(text);
    });
}
