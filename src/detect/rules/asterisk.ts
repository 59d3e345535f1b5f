import { escapeRegExp } from "../../util/escape-regexp.js";
import {
  AMBIGUOUS,
  address,
  cap,
  hit,
  INCOMPLETE,
  occursMoreThanOnce,
  type Rule,
  type RuleResult,
  sipUser,
} from "../rule.js";

// Every reason chan_sip has printed after "Registration from ... failed for ...", 1.2 to 20.
const SIP_REGISTER_REASONS = [
  "Wrong password",
  "Username/auth name mismatch",
  "No matching peer found",
  "Not a local domain",
  "Not a local SIP domain",
  "Peer is not supposed to register",
  "Device does not match ACL",
  "ACL error (permit/deny)",
  "Device not configured to use this transport type",
  "RTP initialization failed",
  "Unknown failure",
  "Unknown error",
];

const PJSIP_REQUEST_REASONS = [
  "No matching endpoint found",
  "Not match Endpoint ACL",
  "Not match Endpoint Contact ACL",
  "Failed to authenticate",
  "Error to authenticate",
];

const alternatives = (words: readonly string[]) => words.map(escapeRegExp).join("|");

// The To header (attacker text) comes first and the fixed reason last, so the greedy `(.*)`
// makes the address the one right before the reason: text the attacker adds cannot move it.
const SIP_REGISTER = new RegExp(
  `^Registration from '(.*)' failed for '([^'\\s]+)' - (${alternatives(SIP_REGISTER_REASONS)})$`,
  "s",
);

export const sipRegister: Rule = {
  id: "sip-register",
  service: "sip",
  description: "chan_sip: Registration from '<To>' failed for '<addr>' - <reason>",
  literals: ["failed for '"],
  components: ["chan_sip.c"],
  match(message) {
    const m = SIP_REGISTER.exec(message);
    if (!m) return null;
    const addr = address(m[2]);
    return addr && hit(addr, m[3]!, cap(sipUser(m[1]!)));
  },
};

// From (attacker) before the address and Call-ID (attacker) after it: the address is only
// trusted when the delimiter around it occurs once.
const PJSIP_REQUEST = new RegExp(
  `^Request (?:'([^'\\s]*)' )?from '(.*)' failed for '([^'\\s]+)' \\(callid: (.*)\\) - (${alternatives(PJSIP_REQUEST_REASONS)})(?: after (\\d+) tries in [\\d.]+ ms)?$`,
  "s",
);

export const pjsipRequest: Rule = {
  id: "pjsip-request",
  service: "pjsip",
  description: "chan_pjsip: Request '<method>' from '<From>' failed for '<addr>' (callid: <id>) - <reason>",
  literals: ["failed for '"],
  components: ["pjsip_distributor.c"],
  match(message) {
    const m = PJSIP_REQUEST.exec(message);
    if (!m) return null;
    if (occursMoreThanOnce(message, "' failed for '")) return AMBIGUOUS;
    // Before 13.24 PJSIP printed an IPv6 source as `%s:%d`, without brackets.
    const addr = address(m[3], true);
    if (!addr) return null;
    return hit(addr, m[1] ? `${m[5]!} (${m[1]})` : m[5]!, cap(sipUser(m[2]!)), {
      callId: cap(m[4], 128),
      runningTries: m[6] === undefined ? undefined : Number(m[6]),
    });
  },
};

const TRANSPORT = "(?:(UDP|TCP|TLS|WS|WSS):)?";
const EXTENSION_NOT_FOUND = "Extension not found";
const EXTENSION_CAP = 32;

// chan_sip: `Call from '<user>' (<addr>)`, PJSIP 13-16.14: `Call from '<endpoint>' (UDP:<addr>)`.
// The caller's text stands on both sides of the address, so the delimiter must occur once.
const CALL_FROM = new RegExp(
  `^Call from '(.*)' \\(${TRANSPORT}([^()\\s]+)\\) to extension '(.*)' rejected because extension not found in context '([^']*)'\\.$`,
  "s",
);

/** The fixed end of "Call from" lines, for recognising the remainder of a split one. */
export const CALL_REMAINDER = /' rejected because extension not found in context '[^']*'\.$/;

// The start of a "Call from" line whose end went to the next line (a raw newline in the number).
const CALL_START = /^Call from '.*' \([^()\s]+\) to extension '/s;
const PJSIP_CALL_START = /^[^\s':]+: Call \([^()\s]+\) to extension '/s;

export const callFrom: Rule = {
  id: "call-noext",
  service: "sip",
  description:
    "chan_sip/PJSIP: Call from '<x>' (<addr>) to extension '<e>' rejected because extension not found",
  // The second literal also finds the start of a line split inside the number (see SplitGuard).
  literals: ["rejected because extension not found", ") to extension '"],
  components: ["chan_sip.c", "res_pjsip_session.c"],
  match(message) {
    const m = CALL_FROM.exec(message);
    if (!m) return CALL_START.test(message) ? INCOMPLETE : null;
    if (occursMoreThanOnce(message, ") to extension '")) return AMBIGUOUS;
    // PJSIP before 16.15 printed `(UDP:<addr>)` with an unbracketed IPv6 address and its port.
    const addr = address(m[3], m[2] !== undefined);
    // The number dialled says more about toll fraud than the caller name: it is the "user" tried.
    return addr && hit(addr, EXTENSION_NOT_FOUND, cap(m[4], EXTENSION_CAP));
  },
};

// PJSIP 16.15+: `<endpoint>: Call (UDP:<addr>) to extension ...`. The endpoint name is from the
// configuration and the address follows it directly, so anchoring at the start is enough.
const PJSIP_CALL = new RegExp(
  `^([^\\s':]+): Call \\((?:UDP|TCP|TLS|WS|WSS):([^()\\s]+)\\) to extension '(.*)' rejected because extension not found in context '([^']*)'\\.$`,
  "s",
);

export const pjsipCall: Rule = {
  id: "pjsip-call-noext",
  service: "pjsip",
  description: "chan_pjsip: <endpoint>: Call (<TRANSPORT>:<addr>) to extension '<e>' rejected",
  // The second literal also finds the start of a line split inside the number (see SplitGuard).
  literals: ["rejected because extension not found", ") to extension '"],
  components: ["res_pjsip_session.c"],
  match(message) {
    const m = PJSIP_CALL.exec(message);
    if (!m) return PJSIP_CALL_START.test(message) ? INCOMPLETE : null;
    const addr = address(m[2], true);
    return addr && hit(addr, EXTENSION_NOT_FOUND, cap(m[3], EXTENSION_CAP));
  },
};

const NO_AORS = /^Endpoint '(.*)' \(([^()\s]+)\) has no configured AORs$/s;

const pjsipNoAors: Rule = {
  id: "pjsip-no-aors",
  service: "pjsip",
  description: "res_pjsip_registrar: Endpoint '<e>' (<addr>) has no configured AORs",
  literals: ["has no configured AORs"],
  components: ["res_pjsip_registrar.c"],
  optional: true,
  weight: 0.5,
  match(message) {
    const m = NO_AORS.exec(message);
    if (!m) return null;
    const addr = address(m[2], true);
    return addr && hit(addr, "Endpoint has no configured AORs", cap(m[1]));
  },
};

const IAX2_NOREG_REASON = "No registration for peer";

/** IAX2 messages all start with the address (or end with it), written by Asterisk. */
function iax2(id: string, literal: string, pattern: RegExp, reason: string, description: string): Rule {
  return {
    id,
    service: "iax2",
    description,
    literals: [literal],
    components: ["chan_iax2.c"],
    match(message): RuleResult {
      const m = pattern.exec(message);
      if (!m?.groups) return null;
      const addr = address(m.groups.addr);
      return addr && hit(addr, reason, cap(m.groups.user));
    },
  };
}

const iax2NoReg = iax2(
  "iax2-noreg",
  "No registration for peer '",
  /^No registration for peer '(?<user>.*)' \(from (?<addr>[^()\s]+)\)$/s,
  IAX2_NOREG_REASON,
  "IAX2: No registration for peer '<p>' (from <ip>)",
);

const iax2Rules: Rule[] = [
  iax2NoReg,
  iax2(
    "iax2-md5",
    "failed MD5 authentication",
    /^Host (?<addr>\S+) failed MD5 authentication for '(?<user>.*)' \(.*\)$/s,
    "MD5 authentication failed",
    "IAX2: Host <ip> failed MD5 authentication for '<p>' (a != b)",
  ),
  iax2(
    "iax2-denied",
    "denied access to register peer",
    /^Host (?<addr>\S+) denied access to register peer '(?<user>.*)'$/s,
    "Denied access to register",
    "IAX2: Host <ip> denied access to register peer '<p>'",
  ),
  iax2(
    "iax2-plaintext",
    "did not provide proper plaintext password",
    /^Host (?<addr>\S+) did not provide proper plaintext password for '(?<user>.*)'$/s,
    "Wrong plaintext password",
    "IAX2: Host <ip> did not provide proper plaintext password for '<p>'",
  ),
  iax2(
    "iax2-auth",
    " failed to authenticate as ",
    /^Host (?<addr>\S+) failed to authenticate as '?(?<user>.*?)'?$/s,
    "Failed to authenticate",
    "IAX2 (authdebug): Host <ip[:port]> failed to authenticate as <user>",
  ),
  iax2(
    "iax2-rejected",
    "Rejected connect attempt from ",
    /^Rejected connect attempt from (?<addr>[^\s,]+), (?:who was trying to reach '(?<user>.*)'|request '.*' does not exist)$/s,
    "Rejected connect attempt",
    "IAX2 (authdebug): Rejected connect attempt from <ip:port>, ...",
  ),
];

/** AMI's failed logins: the address (printed without a port), then the user the caller gave. */
const AMI_LOGINS = [
  {
    id: "ami-auth",
    literal: " failed to authenticate as '",
    pattern: /^(\S+) failed to authenticate as '(.*)'$/s,
    reason: "AMI login failed",
    description: "AMI: <ip> failed to authenticate as '<user>'",
  },
  {
    id: "ami-nouser",
    literal: "tried to authenticate with nonexistent user",
    pattern: /^(\S+) tried to authenticate with nonexistent user '(.*)'$/s,
    reason: "AMI login with nonexistent user",
    description: "AMI: <ip> tried to authenticate with nonexistent user '<user>'",
  },
  {
    id: "ami-acl",
    literal: "failed to pass IP ACL as",
    pattern: /^(\S+) failed to pass IP ACL as '(.*)'$/s,
    reason: "AMI login outside IP ACL",
    description: "AMI: <ip> failed to pass IP ACL as '<user>'",
  },
] as const;

const amiRules: Rule[] = AMI_LOGINS.map(
  ({ id, literal, pattern, reason, description }): Rule => ({
    id,
    service: "ami",
    description,
    literals: [literal],
    components: ["manager.c"],
    match(message): RuleResult {
      const m = pattern.exec(message);
      if (!m) return null;
      const addr = address(m[1]);
      return addr && hit(addr, reason, cap(m[2]));
    },
  }),
);

export const asteriskRules: readonly Rule[] = [
  sipRegister,
  pjsipRequest,
  callFrom,
  pjsipCall,
  pjsipNoAors,
  ...iax2Rules,
  ...amiRules,
];

/** How the WebAssembly parser (assembly/line-parse.ts) reads one of these rules' messages. */
export interface ParsedRule {
  rule: Rule;
  /** The components whose lines it parses for this rule. */
  components: readonly string[];
  /** The address is written `%s:%d`, an IPv6 one unbracketed (see parseHostPort). */
  bareV6Port: boolean;
  /** The reason phrases, by the index the parser writes (one: every line's). */
  reasons: readonly string[];
  /** How much of the user text is kept. */
  userCap: number;
}

/**
 * The rules the parser reads, by the number it writes for them (0: a line it left). Its grammars
 * are these rules' regular expressions, so the two must change together.
 */
export const PARSED_RULES: ReadonlyArray<ParsedRule | undefined> = [
  undefined,
  {
    rule: sipRegister,
    components: ["chan_sip.c"],
    bareV6Port: false,
    reasons: SIP_REGISTER_REASONS,
    userCap: 64,
  },
  {
    rule: pjsipRequest,
    components: ["pjsip_distributor.c"],
    bareV6Port: true,
    reasons: PJSIP_REQUEST_REASONS,
    userCap: 64,
  },
  // "Call from", without and with a transport before the address.
  ...[false, true].map((bareV6Port) => ({
    rule: callFrom,
    components: ["chan_sip.c", "res_pjsip_session.c"],
    bareV6Port,
    reasons: [EXTENSION_NOT_FOUND],
    userCap: EXTENSION_CAP,
  })),
  {
    rule: pjsipCall,
    components: ["res_pjsip_session.c"],
    bareV6Port: true,
    reasons: [EXTENSION_NOT_FOUND],
    userCap: EXTENSION_CAP,
  },
  {
    rule: iax2NoReg,
    components: ["chan_iax2.c"],
    bareV6Port: false,
    reasons: [IAX2_NOREG_REASON],
    userCap: 64,
  },
  // AMI's three failed logins, in amiRules' order.
  ...amiRules.map((rule, k) => ({
    rule,
    components: ["manager.c"],
    bareV6Port: false,
    reasons: [AMI_LOGINS[k]!.reason],
    userCap: 64,
  })),
];
