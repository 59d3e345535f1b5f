import type { CustomRuleConfig } from "../../config/schema.js";
import { address, hit, type Rule } from "../rule.js";

/** A user rule that does not hold up at load time; `field` names what is wrong. */
export class RuleError extends Error {
  constructor(
    readonly index: number,
    readonly field: keyof CustomRuleConfig,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Builds a user rule from the configuration and proves it on its examples: the regex must
 * compile, have a named group `ip`, and every example must yield a valid address.
 */
export function customRule(config: CustomRuleConfig, index: number): Rule {
  let pattern: RegExp;
  try {
    pattern = new RegExp(config.regex, "s");
  } catch (err) {
    throw new RuleError(index, "regex", `rule "${config.id}": invalid regex: ${(err as Error).message}`);
  }
  if (!/\(\?<ip>/.test(config.regex)) {
    throw new RuleError(
      index,
      "regex",
      `rule "${config.id}": the regex needs a named group (?<ip>...) for the address`,
    );
  }
  const rule: Rule = {
    id: config.id,
    service: "custom",
    description: `custom: ${config.regex}`,
    literals: config.contains ? [config.contains] : [],
    weight: config.weight,
    instant: config.instant,
    onLine: config.on === "line",
    match(text) {
      const m = pattern.exec(text);
      if (!m?.groups) return null;
      const addr = address(m.groups.ip, true);
      return addr && hit(addr, config.reason, m.groups.user);
    },
  };
  for (const example of config.examples) {
    if (config.contains && !example.includes(config.contains)) {
      throw new RuleError(
        index,
        "examples",
        `rule "${config.id}": example does not contain "${config.contains}": ${example}`,
      );
    }
    const hit = rule.match(example);
    if (hit === null || typeof hit !== "object") {
      throw new RuleError(
        index,
        "examples",
        `rule "${config.id}": example yields no valid address: ${example}`,
      );
    }
  }
  return rule;
}
