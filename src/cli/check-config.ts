import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { z } from "zod";
import { configSchema } from "../config/schema.js";
import { buildRules } from "../detect/ruleset.js";
import { DEFAULT_CONFIG_PATH, resolveConfig } from "./config-option.js";

/** `sipban check-config` and `sipban config-schema`. */
export function registerConfigCommands(program: Command): void {
  program
    .command("check-config")
    .description("validate the configuration without running anything")
    .action((_options: unknown, command: Command) => {
      const path: string | undefined = command.optsWithGlobals().config;
      const config = resolveConfig(path);
      const rules = buildRules(config.detect);
      console.log(
        `${path ?? DEFAULT_CONFIG_PATH}: OK (${rules.length} rules, ${config.sources.length} source(s), ` +
          `${config.allowlist.length} allowlist entr${config.allowlist.length === 1 ? "y" : "ies"}, backend ${config.firewall.backend})`,
      );
    });

  program
    .command("config-schema")
    .description("print the JSON Schema of the configuration (for editors)")
    .option("-o, --output <file>", "write it to a file instead")
    .action((options: { output?: string }) => {
      const text = `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
      if (options.output) writeFileSync(options.output, text);
      else process.stdout.write(text);
    });
}

export function configJsonSchema(): unknown {
  return {
    ...z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }),
    title: "sipban configuration",
  };
}
