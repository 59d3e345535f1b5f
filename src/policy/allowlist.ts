import { BlockList, isIP } from "node:net";
import { networkInterfaces } from "node:os";
import { normalizeIp } from "../net/address.js";

/**
 * Addresses that are never banned, by any path: the configured addresses and networks, plus
 * loopback and every address of this host (the admin must never lock the PBX out of itself).
 */
export class Allowlist {
  private readonly list = new BlockList();
  private readonly checked = new Map<string, boolean>();
  readonly entries: string[] = [];

  /** `entries`: addresses or CIDR networks, IPv4 or IPv6. Throws on the first invalid one. */
  constructor(entries: readonly string[] = [], options: { includeHost?: boolean } = {}) {
    this.add("127.0.0.0/8");
    this.add("::1");
    if (options.includeHost !== false) {
      for (const addrs of Object.values(networkInterfaces())) {
        for (const a of addrs ?? []) this.add(a.address);
      }
    }
    for (const e of entries) this.add(e, true);
  }

  /** Adds one address or network; `record` keeps it in the list shown to the user. */
  add(entry: string, record = false): void {
    const error = allowlistEntryError(entry);
    if (error) throw new Error(error);
    const [addr, prefix] = entry.split("/");
    const ip = normalizeIp(addr!)!;
    const family = isIP(ip) === 6 ? "ipv6" : "ipv4";
    if (prefix === undefined) this.list.addAddress(ip, family);
    else this.list.addSubnet(ip, Number(prefix), family);
    if (record) this.entries.push(entry);
    this.checked?.clear();
  }

  /** True when `ip` (a normalized address) must never be banned. */
  has(ip: string): boolean {
    // BlockList.check builds a native SocketAddress per call; attackers repeat themselves.
    let known = this.checked.get(ip);
    if (known === undefined) {
      known = this.list.check(ip, isIP(ip) === 6 ? "ipv6" : "ipv4");
      if (this.checked.size >= 100_000) this.checked.clear();
      this.checked.set(ip, known);
    }
    return known;
  }
}

/** Why an allowlist entry is invalid, in words, or null when it is fine. */
export function allowlistEntryError(entry: string): string | null {
  const [addr, prefix, extra] = entry.split("/");
  if (extra !== undefined || !addr) return `"${entry}" is not an address or network`;
  const ip = normalizeIp(addr);
  if (ip === null) return `"${entry}" is not an IP address or network (write 203.0.113.7 or 203.0.113.0/24)`;
  if (prefix !== undefined) {
    const max = isIP(ip) === 6 ? 128 : 32;
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) {
      return `"${entry}" has an invalid prefix length (0 to ${max})`;
    }
  }
  return null;
}
