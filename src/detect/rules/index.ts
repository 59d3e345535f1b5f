import type { Rule } from "../rule.js";
import { asteriskRules } from "./asterisk.js";
import { freeswitchRules } from "./freeswitch.js";
import { defaultHoneypotRules } from "./honeypot.js";
import { kamailioRules } from "./kamailio.js";
import { securityEventRule } from "./security.js";

/** Every built-in rule, optional ones included (the configuration picks). */
export const builtinRules: readonly Rule[] = [
  ...asteriskRules,
  securityEventRule,
  ...defaultHoneypotRules,
  ...freeswitchRules,
  ...kamailioRules,
];

/** The rules on by default. */
export const defaultRules: readonly Rule[] = builtinRules.filter((r) => !r.optional);
