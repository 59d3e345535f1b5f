import { ipFamily, normalizeIp } from "../net/address.js";
import type { BanEntry } from "./backend.js";

/**
 * `ip` itself when it is a normalized address; throws otherwise. Callers normalize already:
 * checking again here means no text that is not an address ever reaches a firewall tool.
 */
export function checkedIp(ip: string): string {
  if (normalizeIp(ip) !== ip) {
    throw new Error(`refusing to pass "${ip}" to the firewall: not a normalized IP address`);
  }
  return ip;
}

/** Addresses split by family, each checked. */
export function ipsByFamily(ips: readonly string[]): { v4: string[]; v6: string[] } {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const ip of ips) (ipFamily(checkedIp(ip)) === 4 ? v4 : v6).push(ip);
  return { v4, v6 };
}

/**
 * The bans of a batch still worth applying, by family: every address checked, one entry per
 * address (the first wins), bans already over left out.
 */
export function pendingBans(entries: readonly BanEntry[], now: number): { v4: BanEntry[]; v6: BanEntry[] } {
  const v4: BanEntry[] = [];
  const v6: BanEntry[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    checkedIp(entry.ip);
    if (seen.has(entry.ip) || (entry.until !== 0 && entry.until <= now)) continue;
    seen.add(entry.ip);
    (ipFamily(entry.ip) === 4 ? v4 : v6).push(entry);
  }
  return { v4, v6 };
}

/** Milliseconds a ban has left, or null for a ban without end. */
export function remainingMs(entry: BanEntry, now: number): number | null {
  return entry.until === 0 ? null : Math.max(1, entry.until - now);
}
