import type { LogRecord } from "../event.js";
import { CALL_REMAINDER } from "./asterisk.js";
import { securityRemainder } from "./security.js";

const CALL_MESSAGE = /^(?:Call from '|\S+: Call \()/;

/**
 * Is this line the end of a record that began on an earlier line (see SplitGuard)? Formats whose
 * end is Asterisk's own text can tell: a security record's address pair, "rejected because
 * extension not found in context '...'." on a line that is not a whole record of its kind.
 */
export function splitRemainder(
  line: string,
  record: LogRecord | null,
): { injector?: { ip: string; port?: number } } | null {
  if (line.includes("RemoteAddress=")) {
    const security = securityRemainder(line, record?.message);
    if (security) return security;
  }
  // The whole-record test first: it settles nearly every line, and costs less than the end's.
  if (
    line.includes("rejected because") &&
    !(record && CALL_MESSAGE.test(record.message)) &&
    CALL_REMAINDER.test(line)
  )
    return {};
  return null;
}
