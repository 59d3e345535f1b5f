import type { Config } from "../config/schema.js";
import type { Rule } from "./rule.js";
import { customRule } from "./rules/custom.js";
import { honeypotRule } from "./rules/honeypot.js";
import { builtinRules } from "./rules/index.js";

/** An unknown rule id in the configuration. */
export class UnknownRuleError extends Error {
  constructor(
    readonly section: "rules" | "weights",
    readonly id: string,
  ) {
    super(`unknown rule "${id}" (see \`sipban rules\` for the list)`);
  }
}

/** The rules a configuration turns on: built-ins (optional ones when asked), honeypots, user rules. */
export function buildRules(detect: Config["detect"]): Rule[] {
  const known = new Set(builtinRules.map((r) => r.id));
  for (const section of ["rules", "weights"] as const) {
    for (const id of Object.keys(detect[section])) {
      if (!known.has(id) && !detect.custom.some((c) => c.id === id)) throw new UnknownRuleError(section, id);
    }
  }
  const rules = builtinRules.filter((r) => detect.rules[r.id] ?? !r.optional);
  detect.honeypot.forEach((phrase, i) => {
    rules.push(honeypotRule(`honeypot-${i + 1}`, phrase, `honeypot: ... ${phrase} <address>`));
  });
  detect.custom.forEach((c, i) => {
    if (detect.rules[c.id] !== false) rules.push(customRule(c, i));
  });
  return rules;
}
