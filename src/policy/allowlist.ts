import { networkInterfaces } from "node:os";
import { ipFamily, ipv6Words, normalizeIp } from "../net/address.js";

/**
 * Addresses that are never banned, by any path: the configured addresses and networks, plus
 * loopback and every address of this host (the admin must never lock the PBX out of itself).
 */
export class Allowlist {
  // Networks as numbers: net.BlockList builds a native SocketAddress for every check, which a
  // flood from a million addresses turns into hundreds of megabytes of unreturned memory.
  private readonly v4: Array<{ network: number; mask: number }> = [];
  /** 1 for each first byte that some IPv4 network's addresses start with. */
  private readonly v4FirstBytes = new Uint8Array(256);
  private readonly v6: Array<{ network: bigint; mask: bigint; first: number; firstMask: number }> = [];
  // Failures come in bursts from one address: the last answer is kept.
  private lastIp: string | undefined;
  private lastAnswer = false;

  /** `entries`: addresses or CIDR networks, IPv4 or IPv6. Throws on the first invalid one. */
  constructor(entries: readonly string[] = [], options: { includeHost?: boolean } = {}) {
    this.add("127.0.0.0/8");
    this.add("::1");
    if (options.includeHost !== false) {
      for (const addrs of Object.values(networkInterfaces())) {
        for (const a of addrs ?? []) this.add(a.address);
      }
    }
    for (const e of entries) this.add(e);
  }

  /** Adds one address or network. */
  add(entry: string): void {
    const error = allowlistEntryError(entry);
    if (error) throw new Error(error);
    const [addr, prefix] = entry.split("/");
    const ip = normalizeIp(addr!)!;
    if (ipFamily(ip) === 4) {
      const bits = prefix === undefined ? 32 : Number(prefix);
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      const network = (ipv4ToNumber(ip) & mask) >>> 0;
      this.v4.push({ network, mask });
      this.v4FirstBytes.fill(1, network >>> 24, ((network | ~mask) >>> 24) + 1);
    } else {
      const bits = BigInt(prefix === undefined ? 128 : Number(prefix));
      const mask = ((1n << 128n) - 1n) ^ ((1n << (128n - bits)) - 1n);
      const network = ipv6ToBigInt(ip) & mask;
      const firstMask = Number(mask >> 112n);
      this.v6.push({ network, mask, first: Number(network >> 112n), firstMask });
    }
    this.lastIp = undefined;
  }

  /** True when `ip` (a normalized address) must never be banned. */
  has(ip: string): boolean {
    if (ip !== this.lastIp) {
      this.lastAnswer = this.matches(ip);
      this.lastIp = ip;
    }
    return this.lastAnswer;
  }

  private matches(ip: string): boolean {
    if (ip.includes(":")) {
      // The first 16 bits rule out nearly every address of a flood without the 128-bit number.
      const first = firstGroup(ip);
      if (!this.v6.some((net) => (first & net.firstMask) === net.first)) return false;
      const n = ipv6ToBigInt(ip);
      return this.v6.some((net) => (n & net.mask) === net.network);
    }
    // So does the first byte, without the rest: a scan checks every address it counted, before
    // this code is compiled.
    if (this.v4FirstBytes[firstByte(ip)] === 0) return false;
    const n = ipv4ToNumber(ip);
    return this.v4.some((net) => (n & net.mask) >>> 0 === net.network);
  }
}

/** Why an allowlist entry is invalid, in words, or null when it is fine. */
export function allowlistEntryError(entry: string): string | null {
  const [addr, prefix, extra] = entry.split("/");
  if (extra !== undefined || !addr) return `"${entry}" is not an address or network`;
  const ip = normalizeIp(addr);
  if (ip === null) return `"${entry}" is not an IP address or network (write 203.0.113.7 or 203.0.113.0/24)`;
  if (prefix !== undefined) {
    const max = ipFamily(ip) === 6 ? 128 : 32;
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) {
      return `"${entry}" has an invalid prefix length (0 to ${max})`;
    }
  }
  return null;
}

/** A normalized IPv4 address as an unsigned 32-bit number. */
function ipv4ToNumber(ip: string): number {
  // Digit by digit: every address of a flood is checked, and splitting made four strings each.
  let n = 0;
  let part = 0;
  for (let k = 0; k < ip.length; k++) {
    const c = ip.charCodeAt(k);
    if (c === 0x2e) {
      n = n * 256 + part;
      part = 0;
    } else {
      part = part * 10 + (c - 0x30);
    }
  }
  return (n * 256 + part) >>> 0;
}

/** The first byte of a normalized IPv4 address. */
function firstByte(ip: string): number {
  let n = 0;
  for (let k = 0; k < ip.length; k++) {
    const c = ip.charCodeAt(k);
    if (c === 0x2e) break;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

/** The first 16 bits of a normalized IPv6 address (its first group; 0 when it starts with "::"). */
function firstGroup(ip: string): number {
  let n = 0;
  for (let k = 0; k < ip.length; k++) {
    const c = ip.charCodeAt(k);
    if (c === 0x3a) break;
    n = n * 16 + (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);
  }
  return n;
}

/** A normalized IPv6 address (compressed, maybe with a dotted IPv4 tail) as a 128-bit number. */
function ipv6ToBigInt(ip: string): bigint {
  let n = 0n;
  for (const word of ipv6Words(ip)!) n = (n << 16n) | BigInt(word);
  return n;
}
