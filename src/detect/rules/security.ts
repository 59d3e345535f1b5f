import { parseHostPort } from "../../net/address.js";
import { cap, INCOMPLETE, type Rule, type RuleHit } from "../rule.js";

// res_security_log writes `SecurityEvent="<type>"` then `,Key="value"` for the required
// information elements in a fixed order, then the optional ones. Nothing is escaped, and
// AccountID and SessionID (and Challenge/Response) are the attacker's text.
const FAILURES: Record<string, string> = {
  InvalidAccountID: "Invalid account",
  ChallengeResponseFailed: "Challenge response failed",
  InvalidPassword: "Invalid password",
  FailedACL: "Failed ACL",
};

const ADDRESS = `IPV[46]\\/(?:[A-Z]*\\/)?[^"\\/]+\\/\\d+`;
const REMOTE = `RemoteAddress="IPV[46]\\/(?:[A-Z]*\\/)?([^"\\/]+)\\/(\\d+)"`;
// Optional elements after RemoteAddress have no quote inside their values; requiring that lets
// the greedy AccountID/SessionID groups settle on the last (real) address pair.
const TAIL = `((?:,[A-Za-z]+="[^"]*")*)`;

// Every element a real failure event always carries is required: a forged record would need
// about 300 bytes, more than the attacker's field can hold.
const FULL = new RegExp(
  `^SecurityEvent="(\\w+)",EventTV="[^"]*",Severity="\\w+",Service="(\\w+)",EventVersion="\\d+",AccountID="(.*)",SessionID="(.*)",LocalAddress="${ADDRESS}",${REMOTE}${TAIL}$`,
  "s",
);

/** The remainder of a split record: everything up to its real RemoteAddress. */
export const SPLIT_REMAINDER = new RegExp(`^.*",LocalAddress="${ADDRESS}",${REMOTE}${TAIL}$`, "s");

const EVENT_TYPE = /^SecurityEvent="(\w+)"/;

export const securityEventRule: Rule = {
  id: "security-event",
  service: "security",
  description:
    'res_security_log: SecurityEvent="InvalidAccountID|ChallengeResponseFailed|InvalidPassword|FailedACL",...',
  literals: ["SecurityEvent="],
  components: ["res_security_log.c"],
  match(message) {
    const m = FULL.exec(message);
    if (!m) {
      // A security record that does not close on its own line has been split.
      const type = EVENT_TYPE.exec(message);
      return type ? INCOMPLETE : null;
    }
    const reason = FAILURES[m[1]!];
    const addr = parseHostPort(m[5]!.includes(":") ? `[${m[5]}]:${m[6]}` : `${m[5]}:${m[6]}`);
    if (!addr) return null;
    // A whole record in one line but with a raw line break inside: the [json] formatter keeps
    // what a file channel would have split. The address at the end is the injector's.
    if (/[\r\n]/.test(message)) return { ...addr, reason: "Log injection attempt", injection: true };
    if (reason === undefined) return null;
    const hit: RuleHit = { ...addr, reason: `${reason} (${m[2]})`, user: cap(m[3]) };
    if (m[2] === "PJSIP") hit.callId = cap(m[4], 128);
    return hit;
  },
};

/** Parses the remainder of a split record: the address of the attacker who split it. */
export function splitRemainderAddress(line: string): { ip: string; port?: number } | null {
  const m = SPLIT_REMAINDER.exec(line);
  if (!m) return null;
  return parseHostPort(m[1]!.includes(":") ? `[${m[1]}]:${m[2]}` : `${m[1]}:${m[2]}`);
}
