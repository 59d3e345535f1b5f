import { parseHostAndPort } from "../../net/address.js";
import { cap, hit, INCOMPLETE, occursMoreThanOnce, type Rule } from "../rule.js";
import { DEFAULT_FAILURES, FAILURE_REASONS } from "../security-events.js";

// The log counts the four events that mean a failed login; the manager interface can count more.
const COUNTED: ReadonlySet<string> = new Set(DEFAULT_FAILURES);

// res_security_log writes `SecurityEvent="<type>"` then `,Key="value"` for the required
// information elements in a fixed order, then the optional ones. Nothing is escaped, and
// AccountID and SessionID (and Challenge/Response) are the attacker's text.
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

// With one address pair in the line there is nothing to confuse it with, so the optional
// elements after it may hold anything (chan_sip copies an unquoted digest response, quotes and
// all, into ReceivedHash).
const SINGLE_PAIR = new RegExp(
  `^SecurityEvent="(\\w+)",EventTV="[^"]*",Severity="\\w+",Service="(\\w+)",EventVersion="\\d+",AccountID="(.*)",SessionID="(.*)",LocalAddress="${ADDRESS}",${REMOTE}((?:,[A-Za-z]+=".*")*)$`,
  "s",
);

/**
 * Parses a whole record: strictly when attacker text repeats the address pair, else leniently.
 * The rule and the split guard both ask about each security line: the last answer is kept.
 */
function parseRecord(message: string): RegExpExecArray | null {
  if (message === lastMessage) return lastRecord;
  const strict = FULL.exec(message);
  lastMessage = message;
  lastRecord = strict || occursMoreThanOnce(message, ',RemoteAddress="') ? strict : SINGLE_PAIR.exec(message);
  return lastRecord;
}

let lastMessage: string | undefined;
let lastRecord: RegExpExecArray | null = null;

export const securityEventRule: Rule = {
  id: "security-event",
  service: "security",
  description:
    'res_security_log: SecurityEvent="InvalidAccountID|ChallengeResponseFailed|InvalidPassword|FailedACL",...',
  // Every record's start holds the first, every remainder of a split one the second.
  literals: ["SecurityEvent=", "RemoteAddress="],
  components: ["res_security_log.c"],
  match(message) {
    const m = parseRecord(message);
    if (!m) {
      // A security record that does not close on its own line has been split.
      const type = EVENT_TYPE.exec(message);
      return type ? INCOMPLETE : null;
    }
    const reason = COUNTED.has(m[1]!) ? FAILURE_REASONS[m[1]!] : undefined;
    const addr = parseHostAndPort(m[5]!, m[6]!);
    if (!addr) return null;
    // A whole record in one line but with a raw line break inside: the [json] formatter keeps
    // what a file channel would have split. The address at the end is the injector's.
    if (/[\r\n]/.test(message)) return hit(addr, "Log injection attempt", undefined, { injection: true });
    if (reason === undefined) return null;
    // PJSIP's SessionID is the Call-ID, which pairs the event with its NOTICE line.
    return hit(addr, `${reason} (${m[2]})`, cap(m[3]), {
      callId: m[2] === "PJSIP" ? cap(m[4], 128) : undefined,
    });
  },
};

/**
 * The end of a security record standing on a line that is not a whole record: the remainder of
 * a split. Returns the address it names (its author), or null when the line is no remainder.
 */
export function securityRemainder(
  line: string,
  message: string | undefined,
): { injector?: { ip: string; port?: number } } | null {
  if (message !== undefined && parseRecord(message) !== null) return null;
  const m = SPLIT_REMAINDER.exec(line);
  if (!m) return null;
  const injector = parseHostAndPort(m[1]!, m[2]!) ?? undefined;
  return { injector };
}
