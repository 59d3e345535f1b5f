import type { Command } from "commander";
import { builtinRules } from "../detect/rules/index.js";
import { buildRules } from "../detect/ruleset.js";
import { resolveConfig } from "./config-option.js";
import { table } from "./format.js";

/** `sipban rules`: every rule, whether the configuration turns it on, and what it reads. */
export function registerRules(program: Command): void {
  program
    .command("rules")
    .description("list the detection rules and which are on")
    .action(async (_options: unknown, command: Command) => {
      const config = await resolveConfig(command.optsWithGlobals().config);
      const active = buildRules(config.detect);
      const on = new Set(active.map((r) => r.id));
      const all = [...builtinRules, ...active.filter((r) => !builtinRules.includes(r))];
      const rows = all.map((r) => [r.id, r.service, on.has(r.id) ? "on" : "off", r.description]);
      console.log(table(["RULE", "SERVICE", "STATE", "MATCHES"], rows));
    });
}
