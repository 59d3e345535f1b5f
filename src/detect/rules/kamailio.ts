import { KAMAILIO } from "../layout.js";
import { address, cap, hit, type Rule, sipUser } from "../rule.js";

// Every Kamailio message may begin with the stock config's log prefix, `{<type> <CSeq> <Call-ID>} `,
// and the Call-ID is the attacker's: it can hold a complete copy of any line below. So each rule
// reads the end of the message with a tail that attacker text cannot extend: the real record is
// the last thing on the line, and a forged copy before it never reaches the end.

// pike (pike_funcs.c), LM_GEN1(pike_log_level): `pike [pike_funcs.c:N]: <func>(): PIKE - BLOCKing ip
// <addr>, node=<%p>` (`pike: ` in NO_DEBUG builds). ip_addr2a() writes IPv6 without brackets.
const PIKE_BLOCK =
  /(?:^|\s)pike(?: \[[\w./-]+:\d+\])?: (?:\w+\(\): )?PIKE - BLOCKing ip ([0-9A-Fa-f.:]+), node=(?:0x)?[0-9a-fA-F]+$/;

const pikeBlock: Rule = {
  id: "kamailio-pike",
  service: "kamailio",
  description: "pike: PIKE - BLOCKing ip <addr>, node=<ptr>",
  literals: ["PIKE - BLOCKing ip "],
  components: [KAMAILIO],
  // pike has counted the flood already.
  instant: true,
  match(message) {
    const m = PIKE_BLOCK.exec(message);
    if (!m) return null;
    const addr = address(m[1]);
    return addr && hit(addr, "Pike blocking (request flood)");
  },
};

// The stock kamailio.cfg: xlog("L_ALERT", "ALERT: pike blocking $rm from $fu (IP:$si:$sp)\n").
// The From URI is the attacker's and may hold a forged "(IP:...)": the real one ends the line.
// $si:$sp writes IPv6 without brackets, so its last `:N` is the port. Read with two cheap steps
// (no pattern with two open-ended runs over attacker text).
const ALERT_START = "ALERT: pike blocking ";
const ALERT_TAIL = / \(IP:([0-9A-Fa-f.:[\]]+)\)$/;
const ALERT_HEAD = /^(\S+) from (.*)$/s;

const pikeAlert: Rule = {
  id: "kamailio-pike-alert",
  service: "kamailio",
  description: "kamailio.cfg: ALERT: pike blocking <method> from <From URI> (IP:<addr>:<port>)",
  literals: [ALERT_START],
  components: [KAMAILIO],
  instant: true,
  match(message) {
    const start = message.indexOf(ALERT_START);
    const tail = start === -1 ? null : ALERT_TAIL.exec(message);
    if (!tail || tail.index < start + ALERT_START.length) return null;
    const head = ALERT_HEAD.exec(message.slice(start + ALERT_START.length, tail.index));
    if (!head) return null;
    const addr = address(tail[1], true);
    return addr && hit(addr, "Pike blocking (request flood)", cap(sipUser(head[2]!)));
  },
};

// The line our README adds to kamailio.cfg where authentication fails:
//   xlog("L_WARN", "sipban-auth-failure src=$si port=$sp proto=$pr method=$rm user=$(fU{s.encode.hexa})\n");
// Kamailio writes every field but the user, which is hex: nothing the attacker sends can follow
// it, so a strict tail finds the real line even after a forged one in the Call-ID. A From URI
// without a user prints xlog's `<null>`.
const AUTH_FAILURE =
  /(?:^|\s)sipban-auth-failure src=([0-9A-Fa-f.:]+) port=(\d{1,5}) proto=([a-z]+) method=([A-Z]+) user=([0-9a-fA-F]*|<null>)$/;

const authFailure: Rule = {
  id: "kamailio-auth-failure",
  service: "kamailio",
  description:
    "kamailio.cfg xlog: sipban-auth-failure src=<addr> port=<port> proto=<proto> method=<method> user=<hex>",
  literals: ["sipban-auth-failure src="],
  components: [KAMAILIO],
  match(message) {
    const m = AUTH_FAILURE.exec(message);
    if (!m) return null;
    const ip = address(m[1]);
    const port = Number(m[2]);
    if (!ip || port > 65_535) return null;
    return hit({ ip: ip.ip, port }, `Authentication failed (${m[4]!})`, decodeUser(m[5]!));
  },
};

// Enough hex for the 64 characters shown, however many bytes each takes.
const MAX_USER_HEX = 512;

/** The hex-encoded From user, decoded for display: capped, control bytes shown as `?`. */
function decodeUser(hex: string): string | undefined {
  if (hex === "<null>" || hex.length < 2) return undefined;
  const even = Math.min(hex.length, MAX_USER_HEX) & ~1;
  const text = Buffer.from(hex.slice(0, even), "hex")
    .toString("utf8")
    .replace(/[\x00-\x1f\x7f-\x9f]/g, "?");
  return cap(even < hex.length - 1 ? `${text}…` : text, 64);
}

export const kamailioRules: readonly Rule[] = [pikeBlock, pikeAlert, authFailure];
