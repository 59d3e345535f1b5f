import { AMBIGUOUS, address, cap, hit, occursMoreThanOnce, type Rule, type RuleResult } from "../rule.js";

// mod_sofia prints the source address (`network_ip`) without brackets and without a port.
const ADDR = "([0-9A-Fa-f.:]+)";

// `[<user>@<domain>]` is the attacker's (the To header, or the Authorization username and realm)
// and the address ends the line: the greedy group settles on the last "] from ...", so text the
// attacker adds cannot move the address. A bracket after the address (the old "Can't find user
// [u@d]" without "from", with a forged "] from [v6" in the domain) never matches ADDR.
const SIP_AUTH = (kind: string) =>
  new RegExp(
    `^SIP auth ${kind} \\(([A-Z]{3,16})\\) on sofia profile '([^']*)' for \\[(.*)\\] from ip ${ADDR}$`,
    "s",
  );

const AUTH_FAILURE = SIP_AUTH("failure");
const AUTH_CHALLENGE = SIP_AUTH("challenge");

// Followed by two lines without a prefix ("You must define a domain called ..." and "and you must
// configure your device ..."): they hold none of these rules' literals, so they are never read.
const USER_NOT_FOUND = new RegExp(`^Can't find user \\[(.*)\\] from ${ADDR}$`, "s");

// Through rsyslog (mod_syslog) the two lines stay on this one, their line breaks escaped as #012.
// They repeat the domain and the user after the address, so the attacker's copy of their text
// would stand twice: only a line that holds it once, and repeats the bracket exactly, is read.
const CONTINUED = "#012You must define a domain called '";
const CONTINUED_ENDINGS = new Set(
  ["s authentication credentials.", "'s authentication credentials."].flatMap((e) => [e, `${e}#012`]),
);

/** `Can't find user [...] from <addr>#012You must define ...`: the head, when the tail repeats it. */
function escapedUserNotFound(message: string): RuleResult {
  if (occursMoreThanOnce(message, CONTINUED)) return AMBIGUOUS;
  const cut = message.indexOf(CONTINUED);
  const m = USER_NOT_FOUND.exec(message.slice(0, cut));
  if (!m) return null;
  const bracket = m[1]!;
  const tail = message.slice(cut + CONTINUED.length);
  // The user or the domain may hold an "@": try each split of the bracket.
  for (let at = bracket.indexOf("@"); at !== -1; at = bracket.indexOf("@", at + 1)) {
    const user = bracket.slice(0, at);
    const body = `${bracket.slice(at + 1)}' in your directory and add a user with the id="${user}" attribute#012and you must configure your device to use the proper domain in it`;
    if (tail.startsWith(body) && CONTINUED_ENDINGS.has(tail.slice(body.length))) {
      const addr = address(m[2]);
      return addr && hit(addr, "User not found", cap(user) || undefined);
    }
  }
  return null;
}

// The address comes first; the ACL name is from the configuration.
const REGISTER_ACL = new RegExp(`^IP ${ADDR} Rejected by register acl "([^"]*)"$`);
// Only the "no proxy acl" form: without it, "IP %s Rejected by user acl %s" prints a trusted
// proxy's X-AUTH-IP header, which is not the source address.
const USER_ACL = new RegExp(`^IP ${ADDR} Rejected by user acl \\[([^\\]]*)\\] and no proxy acl present$`);

/** The user of `user@domain` (both attacker text), capped. */
function userPart(text: string): string | undefined {
  const at = text.lastIndexOf("@");
  return cap(at === -1 ? text : text.slice(0, at)) || undefined;
}

function sipAuth(id: string, kind: "failure" | "challenge", pattern: RegExp): Rule {
  return {
    id,
    service: "freeswitch",
    description: `mod_sofia: SIP auth ${kind} (<method>) on sofia profile '<p>' for [<user>@<domain>] from ip <addr>`,
    literals: [`SIP auth ${kind} (`],
    components: ["sofia_reg.c"],
    match(message): RuleResult {
      const m = pattern.exec(message);
      if (!m) return null;
      const addr = address(m[4]);
      return addr && hit(addr, `SIP auth ${kind} (${m[1]!})`, userPart(m[3]!));
    },
  };
}

const authFailure = sipAuth("freeswitch-auth-failure", "failure", AUTH_FAILURE);

// Every digest login starts with a challenge: only worth counting (lightly) on a PBX that has no
// legitimate users outside.
const authChallenge: Rule = {
  ...sipAuth("freeswitch-auth-challenge", "challenge", AUTH_CHALLENGE),
  optional: true,
  weight: 0.2,
};

const userNotFound: Rule = {
  id: "freeswitch-user-not-found",
  service: "freeswitch",
  description: "mod_sofia: Can't find user [<user>@<domain>] from <addr>",
  literals: ["Can't find user ["],
  components: ["sofia_reg.c"],
  match(message) {
    const m = USER_NOT_FOUND.exec(message);
    if (m) {
      const addr = address(m[2]);
      return addr && hit(addr, "User not found", userPart(m[1]!));
    }
    return message.includes(CONTINUED) ? escapedUserNotFound(message) : null;
  },
};

const registerAcl: Rule = {
  id: "freeswitch-register-acl",
  service: "freeswitch",
  description: 'mod_sofia: IP <addr> Rejected by register acl "<acl>"',
  literals: [" Rejected by register acl "],
  components: ["sofia_reg.c"],
  match(message) {
    const m = REGISTER_ACL.exec(message);
    if (!m) return null;
    const addr = address(m[1]);
    return addr && hit(addr, "Rejected by register ACL");
  },
};

const userAcl: Rule = {
  id: "freeswitch-user-acl",
  service: "freeswitch",
  description: "mod_sofia: IP <addr> Rejected by user acl [<acl>] and no proxy acl present",
  literals: [" Rejected by user acl ["],
  components: ["sofia_reg.c"],
  match(message) {
    const m = USER_ACL.exec(message);
    if (!m) return null;
    const addr = address(m[1]);
    return addr && hit(addr, "Rejected by user ACL");
  },
};

export const freeswitchRules: readonly Rule[] = [
  authFailure,
  authChallenge,
  userNotFound,
  registerAcl,
  userAcl,
];
