/** An address as it leaves the parser: validated and in canonical form. */
export interface HostPort {
  ip: string;
  port?: number;
}

/**
 * Validate and canonicalize an IP address: lower-case compressed IPv6, zone id dropped,
 * IPv4-mapped IPv6 (`::ffff:1.2.3.4`) turned into the plain IPv4 address. Returns null
 * for anything that is not an address (host names, peer names, garbage).
 */
export function normalizeIp(text: string): string | null {
  // Nearly every address in a log: a plain IPv4 address is its own canonical form.
  if (isPlainIPv4(text)) return text;
  const cached = cache.get(text);
  if (cached !== undefined) return cached;
  const result = computeNormalized(text);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(text, result);
  return result;
}

// Attack logs repeat the same few thousand addresses: caching the canonical form keeps
// SocketAddress (a native call) off the hot path.
const CACHE_LIMIT = 65_536;
const cache = new Map<string, string | null>();

/** The same answer as net.isIPv4 (four decimal parts of 0 to 255, no leading zeros), by hand. */
function isPlainIPv4(text: string): boolean {
  const n = text.length;
  if (n < 7 || n > 15) return false;
  let parts = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e /* . */) {
      if (digits === 0 || value > 255 || ++parts > 4) return false;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && value === 0) return false;
      value = value * 10 + (c - 0x30);
      if (++digits > 3) return false;
    } else return false;
  }
  return parts === 4;
}

function computeNormalized(text: string): string | null {
  const zone = text.indexOf("%");
  const bare = zone === -1 ? text : text.slice(0, zone);
  if (isPlainIPv4(bare)) return bare;
  const words = ipv6Words(bare);
  if (words === null) return null;
  // IPv4-mapped (::ffff:1.2.3.4): the IPv4 address.
  if (
    words[0] === 0 &&
    words[1] === 0 &&
    words[2] === 0 &&
    words[3] === 0 &&
    words[4] === 0 &&
    words[5] === 0xffff
  )
    return dotted(words[6]!, words[7]!);
  return ipv6Text(words);
}

/**
 * The eight 16-bit words of an IPv6 text (without a zone), or null: the texts net.isIPv6
 * accepts (hex words of 1 to 4 digits, at most one `::` standing for one word or more, an IPv4
 * address in the last two words). By hand: node's test is a long regular expression, compiled
 * at the first call (a few milliseconds of every scan's start-up), and its canonical form a
 * native call.
 */
export function ipv6Words(text: string): number[] | null {
  if (text.length < 2 || text.length > 45) return null;
  const gap = text.indexOf("::");
  if (gap !== -1 && text.indexOf("::", gap + 1) !== -1) return null;
  const head = gap === -1 ? text : text.slice(0, gap);
  const tail = gap === -1 ? "" : text.slice(gap + 2);
  const words: number[] = [];
  if (head !== "" && !pushWords(head, words, gap === -1)) return null;
  const headCount = words.length;
  if (tail !== "" && !pushWords(tail, words, true)) return null;
  if (gap === -1) return words.length === 8 ? words : null;
  if (words.length > 7) return null;
  const zeros = new Array<number>(8 - words.length).fill(0);
  return [...words.slice(0, headCount), ...zeros, ...words.slice(headCount)];
}

/**
 * Appends the words of `part` (words joined by single colons; the last may be an IPv4 address
 * when `last`, as two words): false when a word is not 1 to 4 hex digits.
 */
function pushWords(part: string, words: number[], last: boolean): boolean {
  const pieces = part.split(":");
  for (let k = 0; k < pieces.length; k++) {
    const piece = pieces[k]!;
    if (last && k === pieces.length - 1 && piece.includes(".")) {
      if (!isPlainIPv4(piece)) return false;
      const [a, b, c, d] = piece.split(".").map(Number) as [number, number, number, number];
      words.push((a << 8) | b, (c << 8) | d);
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return false;
    words.push(Number.parseInt(piece, 16));
  }
  return true;
}

/** Two words as the IPv4 address they hold. */
function dotted(high: number, low: number): string {
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

/**
 * The words in the form inet_ntop writes (RFC 5952; what net.SocketAddress gives): lower-case
 * hex without leading zeros, the longest run of two zero words or more (the first of equals) as
 * `::`, and an IPv4-compatible address (::1.2.3.4) with its IPv4 part dotted.
 */
function ipv6Text(words: readonly number[]): string {
  let bestAt = -1;
  let bestLength = 0;
  for (let k = 0; k < 8; ) {
    if (words[k] !== 0) {
      k++;
      continue;
    }
    let end = k;
    while (end < 8 && words[end] === 0) end++;
    if (end - k > bestLength) {
      bestAt = k;
      bestLength = end - k;
    }
    k = end;
  }
  if (bestLength < 2) bestAt = -1;
  let text = "";
  for (let k = 0; k < 8; k++) {
    if (bestAt !== -1 && k >= bestAt && k < bestAt + bestLength) {
      if (k === bestAt) text += ":";
      continue;
    }
    if (k !== 0) text += ":";
    if (k === 6 && bestAt === 0 && (bestLength === 6 || (bestLength === 5 && words[5] === 0xffff)))
      return text + dotted(words[6]!, words[7]!);
    text += words[k]!.toString(16);
  }
  return bestAt !== -1 && bestAt + bestLength === 8 ? `${text}:` : text;
}

/**
 * Parse the address forms Asterisk and friends write: `1.2.3.4`, `1.2.3.4:5060`,
 * `[2001:db8::1]:5060`, `[2001:db8::1]`, bare `2001:db8::1`.
 * `bareV6Port`: the writer printed `%s:%d` with an unbracketed IPv6 address (older PJSIP,
 * res_pjsip_registrar, Kamailio), so the last `:N` of an IPv6 text is a port.
 */
export function parseHostPort(text: string, bareV6Port = false): HostPort | null {
  if (text.length === 0 || text.length > 64) return null;
  if (text.charCodeAt(0) === 0x5b /* [ */) {
    const close = text.indexOf("]");
    if (close === -1) return null;
    const ip = normalizeIp(text.slice(1, close));
    if (ip === null) return null;
    if (close === text.length - 1) return { ip };
    if (text.charCodeAt(close + 1) !== 0x3a /* : */) return null;
    const port = parsePort(text.slice(close + 2));
    return port === null ? null : { ip, port };
  }
  const firstColon = text.indexOf(":");
  if (firstColon === -1) {
    const ip = normalizeIp(text);
    return ip === null ? null : { ip };
  }
  const lastColon = text.lastIndexOf(":");
  if (firstColon === lastColon) {
    // IPv4 with a port.
    const ip = normalizeIp(text.slice(0, firstColon));
    const port = parsePort(text.slice(firstColon + 1));
    return ip === null || port === null || ipFamily(ip) !== 4 ? null : { ip, port };
  }
  if (bareV6Port) {
    const ip = normalizeIp(text.slice(0, lastColon));
    const port = parsePort(text.slice(lastColon + 1));
    return ip === null || port === null ? null : { ip, port };
  }
  const ip = normalizeIp(text);
  return ip === null ? null : { ip };
}

/**
 * An address and its port written as separate fields (`IPV6/UDP/2001:db8::5/5060` in security
 * events), parsed as one: an IPv6 host is bracketed first, so its colons are never taken for a port.
 */
export function parseHostAndPort(host: string, port: string): HostPort | null {
  return parseHostPort(host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`);
}

/** 1 to 5 decimal digits, at most 65535. */
function parsePort(text: string): number | null {
  if (text.length === 0 || text.length > 5) return null;
  let port = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
    port = port * 10 + (c - 0x30);
  }
  return port <= 65_535 ? port : null;
}

/** 4 or 6 for a normalized address. */
export function ipFamily(ip: string): 4 | 6 {
  return ip.includes(":") ? 6 : 4;
}
