import { parseHostPort } from "../net/address.js";
import type { Service } from "./event.js";

/** What a rule read from one message. Everything but `ip`/`port` is attacker-written text. */
export interface RuleHit {
  ip: string;
  port?: number;
  reason: string;
  user?: string;
  callId?: string;
  /** PJSIP's "after N tries": a running count per source, not a count for this line. */
  runningTries?: number;
  /** The line carried a forged record (raw newline in a field): the address is the injector's. */
  injection?: boolean;
}

/**
 * The line has this rule's shape but more than one place an address could be: attacker text
 * copied the rule's own delimiters. No address is trusted from such a line.
 */
export const AMBIGUOUS = Symbol("ambiguous");

/**
 * The record does not end on this physical line: an attacker-written field held a raw newline
 * (Asterisk decodes `%0A` in a SIP URI user). The lines that follow are not trusted until the
 * record's remainder closes it (see SplitGuard).
 */
export const INCOMPLETE = Symbol("incomplete");

export type RuleResult = RuleHit | typeof AMBIGUOUS | typeof INCOMPLETE | null;

/**
 * One log format. `literals` are byte strings at least one of which every matching line
 * contains (the cheap test before any decoding); `components` are the server source files
 * that write the message (a dialplan Log() cannot forge them).
 */
export interface Rule {
  id: string;
  service: Service;
  description: string;
  literals: readonly string[];
  components?: readonly string[];
  /** Off unless the configuration turns it on. */
  optional?: boolean;
  /** Default weight toward maxretry. */
  weight?: number;
  /** Ban at once (honeypot). */
  instant?: boolean;
  /** Match the whole physical line instead of the message after the prefix (user rules). */
  onLine?: boolean;
  match(message: string): RuleResult;
}

/** In a rule's `components`: dialplan `Log()` lines (`Ext. <exten>`), whatever the extension. */
export const DIALPLAN = "Ext.";

/**
 * Builds a rule's result. Every hit has the same shape (spreading a parsed address into an object
 * literal made V8 take a slow path that cost microseconds per line).
 */
export function hit(
  addr: { ip: string; port?: number },
  reason: string,
  user?: string,
  extra?: { callId?: string; runningTries?: number; injection?: boolean },
): RuleHit {
  return {
    ip: addr.ip,
    port: addr.port,
    reason: sharedText(reason),
    user,
    callId: extra?.callId,
    runningTries: extra?.runningTries,
    injection: extra?.injection,
  };
}

// Reasons are a few dozen texts, built anew from every line. Counters compare them for every
// failure, and comparing two copies (or a text built from parts) costs far more than comparing
// one shared string with itself.
const SHARED_LIMIT = 4096;
const shared = new Map<string, string>();

/** One shared copy of a short text seen over and over. */
function sharedText(text: string): string {
  const known = shared.get(text);
  if (known !== undefined) return known;
  if (shared.size >= SHARED_LIMIT) shared.clear();
  shared.set(text, text);
  return text;
}

/** Parses an address text, or returns null (no event without a valid address). */
export function address(text: string | undefined, bareV6Port = false): { ip: string; port?: number } | null {
  return text === undefined ? null : parseHostPort(text, bareV6Port);
}

/** Counts non-overlapping occurrences of `needle` in `text`, stopping at 2. */
export function occursMoreThanOnce(text: string, needle: string): boolean {
  const first = text.indexOf(needle);
  return first !== -1 && text.indexOf(needle, first + needle.length) !== -1;
}

/** The user part of a SIP URI inside attacker-written header text, capped. */
export function sipUser(header: string): string | undefined {
  const m = /sips?:([^@;>\s]{1,64})@/.exec(header);
  return m ? m[1] : undefined;
}

/** Caps attacker-written text kept for display. */
export function cap(text: string | undefined, max = 64): string | undefined {
  if (text === undefined) return undefined;
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
