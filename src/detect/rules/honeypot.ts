import { escapeRegExp } from "../../util/escape-regexp.js";
import { address, DIALPLAN, hit, type Rule } from "../rule.js";

/**
 * A honeypot line (a dialplan `Log()` line, `Ext. <exten>`) bans at once. The address must end the message (an optional closing quote
 * aside): the dialplan writes `${CHANNEL(recvip)}` last, and whatever the caller dialled or sent
 * stands before it, so nothing the caller writes can take its place. Lines that merely quote the
 * dialplan (`-- Executing [...] Log("...please block 1.2.3.4") in new stack`) do not end with it.
 */
export function honeypotRule(id: string, phrase: string, description: string): Rule {
  const escaped = escapeRegExp(phrase);
  const pattern = new RegExp(`(?:^|[\\s"'])${escaped} ?([0-9A-Fa-f.:[\\]%a-z]+?)"?$`);
  const reason = `Honeypot: ${phrase.trim()}`;
  return {
    id,
    service: "honeypot",
    description,
    literals: [phrase],
    // Only the dialplan's Log() writes honeypot lines; other messages end with attacker text.
    components: [DIALPLAN],
    instant: true,
    match(message) {
      const m = pattern.exec(message);
      if (!m) return null;
      const addr = address(m[1]);
      return addr && hit(addr, reason);
    },
  };
}

export const defaultHoneypotRules: readonly Rule[] = [
  honeypotRule(
    "honeypot-please-block",
    "please block",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the dialplan text, not a template
    'dialplan: Log(WARNING,"please block ${CHANNEL(recvip)}")',
  ),
  honeypotRule(
    "honeypot-freepbx",
    "Rejecting unknown SIP connection from",
    "FreePBX: Rejecting unknown SIP connection from <addr>",
  ),
];
