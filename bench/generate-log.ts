// Deterministic generator of a realistic Asterisk `messages` log for the scan benchmark, with the
// truth (failures per address) written next to it. Run alone:
//   node dist/bench/generate-log.js [--lines N] [--seed S] [--out DIR]
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { SocketAddress } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Bump when the output for the same parameters changes: cached logs are then regenerated. */
const GENERATOR_VERSION = 2;

export interface LogParams {
  /** Physical lines (a chan_sip retransmission warning takes two). */
  lines: number;
  seed: number;
  /** Share of lines that are counted failures. */
  failureShare: number;
  /** Distinct attacking addresses (each appears at least once in practice: see pickAttacker). */
  attackers: number;
  /** Share of attackers with an IPv6 address. */
  ipv6Share: number;
  /** Lines in the prefix recorded for slow contenders (fail2ban-regex). */
  prefixLines: number;
  /** Seconds the log spans. */
  spanSeconds: number;
}

export const DEFAULT_PARAMS: LogParams = {
  lines: 1_000_000,
  seed: 20240305,
  failureShare: 0.2,
  attackers: 6000,
  ipv6Share: 0.1,
  prefixLines: 100_000,
  spanSeconds: 4 * 3600,
};

export interface Truth {
  version: number;
  params: LogParams;
  lines: number;
  bytes: number;
  /** Counted failure lines: one attempt each. */
  failures: number;
  /** Lines containing "failed for" (what grep -c and the Node floor count). */
  failedForLines: number;
  /** Per address (canonical form, as sipban prints it): failure lines. */
  perAddress: Record<string, number>;
  /** Failure lines per kind, for the report. */
  perKind: Record<string, number>;
  prefix: { lines: number; bytes: number; failures: number; perKind: Record<string, number> };
}

export interface GeneratedLog {
  logPath: string;
  truthPath: string;
  truth: Truth;
  /** False when an existing log with the same parameters was reused. */
  generated: boolean;
  seconds: number;
}

const DEFAULT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../bench/data");

/** Returns the log for these parameters, generating it only if missing or stale. */
export function ensureLog(overrides: Partial<LogParams> = {}, dir = DEFAULT_DIR): GeneratedLog {
  const params: LogParams = { ...DEFAULT_PARAMS, ...overrides };
  const base = `messages-${params.lines}-s${params.seed}-v${GENERATOR_VERSION}`;
  const logPath = join(dir, `${base}.log`);
  const truthPath = join(dir, `${base}.truth.json`);
  if (existsSync(logPath) && existsSync(truthPath)) {
    try {
      const truth = JSON.parse(readFileSync(truthPath, "utf8")) as Truth;
      if (
        truth.version === GENERATOR_VERSION &&
        JSON.stringify(truth.params) === JSON.stringify(params) &&
        statSync(logPath).size === truth.bytes
      ) {
        return { logPath, truthPath, truth, generated: false, seconds: 0 };
      }
    } catch {
      // Unreadable truth: regenerate.
    }
  }
  mkdirSync(dir, { recursive: true });
  const started = process.hrtime.bigint();
  const truth = generate(params, `${logPath}.tmp`);
  renameSync(`${logPath}.tmp`, logPath);
  writeFileSync(truthPath, `${JSON.stringify(truth, null, 1)}\n`);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { logPath, truthPath, truth, generated: true, seconds };
}

// ---------------------------------------------------------------------------------------------
// PRNG: sfc32 seeded through splitmix32, so every run with a seed writes the same bytes.

class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** [0, 1) */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** [0, n) */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  hex(chars: number): string {
    let s = "";
    while (s.length < chars) s += this.u32().toString(16).padStart(8, "0");
    return s.slice(0, chars);
  }
}

// ---------------------------------------------------------------------------------------------
// Vocabulary

const PBX = "192.0.2.10";
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const START = Date.UTC(2024, 2, 5, 10, 0, 0);

const ENUM_USERS = [
  "100",
  "101",
  "1000",
  "1001",
  "1002",
  "1234",
  "2000",
  "200",
  "admin",
  "test",
  "guest",
  "asterisk",
  "sip",
  "user",
  "operator",
  "support",
  "info",
  "office",
  "500",
  "9999",
  "0",
  "12345",
  "voip",
  "pbx",
];
const EXTENSIONS_DIALLED = [
  "900972599999999",
  "011441234567890",
  "9011441234",
  "0046812345678",
  "00972595555555",
  "1011447700900123",
  "81011442037691",
  "000441618503020",
  "9000441234567",
  "00441315101010",
];
const CONTEXTS_EXTERNAL = ["default", "from-external", "anonymous", "public", "from-sip-external"];

/** Internal phones: 10.0.x.y, registered and qualified all day. */
const PHONES = 240;
const TRUNKS = ["provider1", "provider2", "backup-trunk"];
const AMI_USERS = ["admin", "fop2", "crm"];

type Kind =
  | "sip-wrong-password"
  | "sip-no-peer"
  | "pjsip-no-endpoint"
  | "pjsip-failed-auth"
  | "sip-call-noext"
  | "pjsip-call-noext-old"
  | "pjsip-call-noext-new"
  | "ami-auth"
  | "iax2-noreg";

interface Attacker {
  ip: string;
  v6: boolean;
  /** How the address is written inside chan_sip/PJSIP's 'addr:port'. */
  sipAddr: string;
  port: number;
  /** The attack this address mostly runs (its tool). */
  style: "sip" | "pjsip" | "calls" | "ami" | "iax2";
}

function makeAttackers(rng: Rng, params: LogParams): Attacker[] {
  const seen = new Set<string>();
  const list: Attacker[] = [];
  const v6Count = Math.round(params.attackers * params.ipv6Share);
  let guard = 0;
  while (list.length < params.attackers && guard++ < params.attackers * 100) {
    const v6 = list.length < v6Count;
    let ip: string;
    if (v6) {
      // RFC 5952 text, as Asterisk prints it: either a::b compressed or all eight groups non-zero.
      const g = () => (1 + rng.int(0xffff)).toString(16);
      ip =
        rng.float() < 0.6
          ? `2001:db8:${g()}:${g()}::${g()}`
          : `2001:db8:${g()}:${g()}:${g()}:${g()}:${g()}:${g()}`;
      const canonical = new SocketAddress({ address: ip, family: "ipv6" }).address;
      if (canonical !== ip) throw new Error(`generator bug: ${ip} is not canonical (${canonical})`);
    } else {
      ip = `198.${18 + rng.int(2)}.${rng.int(256)}.${1 + rng.int(254)}`;
    }
    if (seen.has(ip)) continue;
    seen.add(ip);
    const r = rng.float();
    const style: Attacker["style"] = v6
      ? r < 0.45
        ? "pjsip"
        : r < 0.8
          ? "sip"
          : r < 0.95
            ? "calls"
            : "ami"
      : r < 0.4
        ? "sip"
        : r < 0.78
          ? "pjsip"
          : r < 0.9
            ? "calls"
            : r < 0.94
              ? "ami"
              : "iax2";
    const port = rng.float() < 0.5 ? 5060 + rng.int(40) : 1024 + rng.int(64000);
    list.push({ ip, v6, sipAddr: v6 ? `[${ip}]` : ip, port, style });
  }
  // Mix the families so the heavy hitters (low indices) are not all IPv6.
  for (let i = list.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}

// ---------------------------------------------------------------------------------------------

/** Writes the log to `path` and returns the truth. */
export function generate(params: LogParams, path: string): Truth {
  const rng = new Rng(params.seed);
  const attackers = makeAttackers(rng, params);
  const perAddress = new Map<string, number>();
  const perKind: Record<string, number> = {};
  const phones = Array.from({ length: PHONES }, (_, i) => ({
    ext: String(1001 + i),
    ip: `10.0.${1 + (i >> 7)}.${10 + (i & 127)}`,
    port: 5060 + (i % 3),
  }));

  const fd = openSync(path, "w");
  let out = "";
  let bytes = 0;
  let lines = 0;
  let failures = 0;
  let failedForLines = 0;
  const prefix = { lines: 0, bytes: 0, failures: 0, perKind: {} as Record<string, number> };

  let second = 0;
  let stamp = formatStamp(0);
  let callSeq = 0x2a;
  let burst: Attacker | null = null;

  const flush = () => {
    if (out.length === 0) return;
    bytes += writeSync(fd, out);
    out = "";
  };
  const emit = (text: string) => {
    out += text;
    out += "\n";
    lines++;
    if (text.includes("failed for")) failedForLines++;
    if (lines === params.prefixLines) {
      flush();
      prefix.lines = lines;
      prefix.bytes = bytes;
      prefix.failures = failures;
      prefix.perKind = { ...perKind };
    }
    if (out.length > 1 << 22) flush();
  };
  const head = (level: string, lwp: number, file: string, callId = "") =>
    `[${stamp}] ${level}[${lwp}]${callId} ${file}: `;
  const newCall = () => `[C-${(callSeq++ >>> 0).toString(16).padStart(8, "0")}]`;

  // Picks an attacker: skewed (a few heavy hitters, a long tail) and bursty.
  const pickAttacker = (): Attacker => {
    if (burst && rng.float() < 0.75) return burst;
    const r = rng.float();
    burst = attackers[Math.floor(r * r * attackers.length)]!;
    return burst;
  };

  const failure = () => {
    const a = pickAttacker();
    const r = rng.float();
    let kind: Kind;
    switch (a.style) {
      case "sip":
        kind = r < 0.8 ? "sip-wrong-password" : r < 0.95 ? "sip-no-peer" : "sip-call-noext";
        break;
      case "pjsip":
        kind = r < 0.55 ? "pjsip-no-endpoint" : r < 0.9 ? "pjsip-failed-auth" : "pjsip-call-noext-old";
        break;
      case "calls":
        kind = r < 0.4 ? "sip-call-noext" : r < 0.7 ? "pjsip-call-noext-old" : "pjsip-call-noext-new";
        break;
      case "ami":
        kind = "ami-auth";
        break;
      default:
        kind = "iax2-noreg";
    }
    const user = rng.float() < 0.6 ? String(100 + rng.int(9900)) : rng.pick(ENUM_USERS);
    const host = rng.float() < 0.85 ? PBX : a.ip.includes(":") ? `[${a.ip}]` : a.ip;
    let line: string;
    switch (kind) {
      case "sip-wrong-password":
      case "sip-no-peer": {
        const to = rng.float() < 0.6 ? `"${user}" <sip:${user}@${host}>` : `<sip:${user}@${host}>`;
        const reason = kind === "sip-wrong-password" ? "Wrong password" : "No matching peer found";
        line = `${head("NOTICE", 12311, "chan_sip.c")}Registration from '${to}' failed for '${a.sipAddr}:${a.port}' - ${reason}`;
        break;
      }
      case "pjsip-no-endpoint":
      case "pjsip-failed-auth": {
        const method = rng.float() < 0.85 ? "REGISTER" : rng.float() < 0.8 ? "INVITE" : "OPTIONS";
        const from = rng.float() < 0.5 ? `"${user}" <sip:${user}@${host}>` : `<sip:${user}@${host}>`;
        const reason = kind === "pjsip-no-endpoint" ? "No matching endpoint found" : "Failed to authenticate";
        const callid =
          rng.float() < 0.7 ? rng.hex(32) : `${rng.hex(8)}-${rng.hex(4)}-${rng.hex(4)}-${rng.hex(12)}`;
        line =
          `${head("NOTICE", 12400 + rng.int(8), "res_pjsip/pjsip_distributor.c")}Request '${method}' from '${from}' ` +
          `failed for '${a.sipAddr}:${a.port}' (callid: ${callid}) - ${reason}`;
        break;
      }
      case "sip-call-noext":
        line =
          `${head("NOTICE", 12311, "chan_sip.c", newCall())}Call from '${rng.float() < 0.7 ? "" : user}' ` +
          `(${a.sipAddr}:${a.port}) to extension '${rng.pick(EXTENSIONS_DIALLED)}' rejected because extension not found ` +
          `in context '${rng.pick(CONTEXTS_EXTERNAL)}'.`;
        break;
      case "pjsip-call-noext-old":
        line =
          `${head("NOTICE", 12400 + rng.int(8), "res_pjsip_session.c", newCall())}Call from 'anonymous' ` +
          `(UDP:${a.sipAddr}:${a.port}) to extension '${rng.pick(EXTENSIONS_DIALLED)}' rejected because extension ` +
          `not found in context 'anonymous'.`;
        break;
      case "pjsip-call-noext-new":
        line =
          `${head("NOTICE", 12400 + rng.int(8), "res_pjsip_session.c", newCall())} anonymous: Call ` +
          `(UDP:${a.sipAddr}:${a.port}) to extension '${rng.pick(EXTENSIONS_DIALLED)}' rejected because extension ` +
          `not found in context '${rng.pick(CONTEXTS_EXTERNAL)}'.`;
        break;
      case "ami-auth":
        line = `${head("NOTICE", 12500 + rng.int(4), "manager.c")}${a.ip} failed to authenticate as '${rng.pick(AMI_USERS)}'`;
        break;
      case "iax2-noreg":
        line = `${head("NOTICE", 12322, "chan_iax2.c")}No registration for peer '${rng.pick(ENUM_USERS)}' (from ${a.ip})`;
        break;
    }
    // Counted before emit() so that a prefix ending on this line includes it.
    failures++;
    perAddress.set(a.ip, (perAddress.get(a.ip) ?? 0) + 1);
    perKind[kind] = (perKind[kind] ?? 0) + 1;
    emit(line);
  };

  const ordinary = () => {
    const p = rng.pick(phones);
    const r = rng.int(1000);
    if (r < 150) {
      emit(`${head("VERBOSE", 12311, "chan_sip.c")}    -- Registered SIP '${p.ext}' at ${p.ip}:${p.port}`);
    } else if (r < 175) {
      emit(`${head("VERBOSE", 12311, "chan_sip.c")}    -- Unregistered SIP '${p.ext}'`);
    } else if (r < 300) {
      const ms = 5 + rng.int(60);
      emit(`${head("NOTICE", 12311, "chan_sip.c")}Peer '${p.ext}' is now Reachable. (${ms}ms / 2000ms)`);
    } else if (r < 330) {
      const ms = 2001 + rng.int(3000);
      emit(`${head("NOTICE", 12311, "chan_sip.c")}Peer '${p.ext}' is now Lagged. (${ms}ms / 2000ms)`);
    } else if (r < 340) {
      emit(
        `${head("NOTICE", 12311, "chan_sip.c")}Peer '${p.ext}' is now UNREACHABLE!  Last qualify: ${10 + rng.int(90)}`,
      );
    } else if (r < 450) {
      const ob = `sip:${p.ext}@${p.ip}:${p.port};transport=UDP;rinstance=${rng.hex(16)}`;
      emit(
        `${head("VERBOSE", 12400 + rng.int(8), "res_pjsip_registrar.c")}    -- Added contact '${ob}' to AOR '${p.ext}' ` +
          `with expiration of 3600 seconds`,
      );
    } else if (r < 480) {
      const ob = `sip:${p.ext}@${p.ip}:${p.port};transport=UDP;rinstance=${rng.hex(16)}`;
      emit(
        `${head("VERBOSE", 12400 + rng.int(8), "res_pjsip_registrar.c")}    -- Removed contact '${ob}' from AOR '${p.ext}' due to request`,
      );
    } else if (r < 510) {
      const ob = `sip:${p.ext}@${p.ip}:${p.port};transport=UDP;rinstance=${rng.hex(16)}`;
      emit(
        `${head("VERBOSE", 12400 + rng.int(8), "res_pjsip_registrar.c")}    -- Refreshed contact '${ob}' on AOR ` +
          `'${p.ext}' with new expiration of 3600 seconds`,
      );
    } else if (r < 520) {
      emit(
        `${head("WARNING", 12400 + rng.int(8), "res_pjsip_registrar.c")}Registration attempt from endpoint ` +
          `'${p.ext}' (${p.ip}:${p.port}) to AOR '${p.ext}' will exceed max contacts of 1`,
      );
    } else if (r < 600) {
      emit(
        `${head("VERBOSE", 12410, "res_pjsip/pjsip_options.c")}Contact ${p.ext}/sip:${p.ext}@${p.ip}:${p.port} is now ` +
          `Reachable.  RTT: ${(rng.float() * 40).toFixed(3)} msec`,
      );
    } else if (r < 620) {
      emit(`${head("NOTICE", 12410, "res_pjsip/pjsip_configuration.c")}Endpoint ${p.ext} is now Reachable`);
    } else if (r < 800) {
      // A call: a few dialplan lines under one call id.
      const call = newCall();
      const chan = `PJSIP/${p.ext}-${rng.hex(8)}`;
      const dst = 1001 + rng.int(PHONES);
      const lwp = 13000 + rng.int(500);
      emit(
        `${head("VERBOSE", lwp, "pbx.c", call)}    -- Executing [${dst}@from-internal:1] ` +
          `Dial("${chan}", "PJSIP/${dst},30,tT") in new stack`,
      );
      emit(`${head("VERBOSE", lwp, "app_dial.c", call)}    -- Called PJSIP/${dst}`);
      if (rng.float() < 0.3) {
        emit(
          `${head("WARNING", lwp, "Ext. " + dst, call)}"Call from ${p.ext} to ${dst} on trunk ${rng.pick(TRUNKS)}"`,
        );
      }
      if (rng.float() < 0.5) {
        emit(`${head("VERBOSE", lwp, "app_dial.c", call)}    -- PJSIP/${dst}-${rng.hex(8)} is ringing`);
      } else {
        emit(`${head("NOTICE", lwp, "app_dial.c", call)}Everyone is busy/congested at this time (1:0/0/1)`);
      }
    } else if (r < 850) {
      // chan_sip retransmission: the second physical line has no prefix.
      const call = rng.float() < 0.5 ? newCall() : "";
      const seqno = 100 + rng.int(900);
      const kind = rng.float() < 0.5 ? "Critical Request" : "Non-critical Response";
      emit(
        `${head("WARNING", 12311, "chan_sip.c", call)}Retransmission timeout reached on transmission ` +
          `${rng.hex(12)}@${p.ip}:${p.port} for seqno ${seqno} (${kind}) -- ` +
          `See https://wiki.asterisk.org/wiki/display/AST/SIP+Retransmissions`,
      );
      emit(`Packet timed out after ${rng.float() < 0.5 ? 6400 : 32000}ms with no response`);
    } else if (r < 870) {
      const u = rng.pick(AMI_USERS);
      const src = rng.float() < 0.7 ? "10.0.0.5" : "127.0.0.1";
      emit(`${head("VERBOSE", 12500 + rng.int(4), "manager.c")}  == Manager '${u}' logged on from ${src}`);
      if (rng.float() < 0.8)
        emit(`${head("VERBOSE", 12500 + rng.int(4), "manager.c")}  == Manager '${u}' logged off from ${src}`);
    } else if (r < 900) {
      emit(
        `${head("WARNING", 14000 + rng.int(200), "res_rtp_asterisk.c", newCall())}${rng.int(10000)}: Received RTP packet ` +
          `from ${p.ip}:${10000 + 2 * rng.int(5000)}, dropping due to strict RTP protection. Will switch to new source in 2 seconds`,
      );
    } else if (r < 920) {
      const trunk = rng.pick(TRUNKS);
      emit(
        `${head("NOTICE", 12311, "chan_sip.c")}   -- Registration for '${trunk}@sip.provider.example' timed out, ` +
          `trying again (Attempt #${1 + rng.int(5)})`,
      );
    } else if (r < 935) {
      // An auth failure chan_sip logs without an address: never counted (the From host is attacker text).
      const u = rng.pick(ENUM_USERS);
      emit(
        `${head("NOTICE", 12311, "chan_sip.c", newCall())}Failed to authenticate device "${u}" <sip:${u}@${PBX}>;` +
          `tag=as${rng.hex(8)} for INVITE, code = -1`,
      );
    } else if (r < 950) {
      emit(
        `${head("WARNING", 12311, "chan_sip.c")}Timeout on ${rng.hex(24)}@${p.ip}:${p.port} on non-critical invite transaction.`,
      );
    } else if (r < 975) {
      emit(
        `${head("WARNING", 12420, "taskprocessor.c")}The 'stasis/m:devicestate:all-00000004' task processor queue reached 500 scheduled tasks.`,
      );
    } else {
      emit(
        `${head("ERROR", 12400 + rng.int(8), "res_pjsip_outbound_registration.c")}No response received from 'sip:sip.provider.example' on registration attempt to 'sip:${rng.pick(TRUNKS)}@sip.provider.example', retrying in '60'`,
      );
    }
  };

  // failureShare is a share of lines, and an ordinary record can take several lines (a call, a
  // retransmission warning): the chance per record follows their running average length.
  let ordinaryRecords = 0;
  let ordinaryLines = 0;
  while (lines < params.lines) {
    // The clock follows the lines written, in irregular one-second steps.
    if (second < (lines * params.spanSeconds) / params.lines && rng.float() < 0.5) {
      second++;
      stamp = formatStamp(second);
    }
    const perRecord = ordinaryRecords > 100 ? ordinaryLines / ordinaryRecords : 1.4;
    const share = params.failureShare;
    if (rng.float() < (share * perRecord) / (1 - share + share * perRecord)) {
      failure();
    } else {
      const before = lines;
      ordinary();
      ordinaryRecords++;
      ordinaryLines += lines - before;
    }
  }
  flush();
  closeSync(fd);
  if (prefix.lines === 0) Object.assign(prefix, { lines, bytes, failures, perKind: { ...perKind } });

  const sorted = [...perAddress.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return {
    version: GENERATOR_VERSION,
    params,
    lines,
    bytes,
    failures,
    failedForLines,
    perAddress: Object.fromEntries(sorted),
    perKind,
    prefix,
  };
}

/** Asterisk's default `%b %e %T`: a single-digit day is space-padded. */
function formatStamp(offsetSeconds: number): string {
  const d = new Date(START + offsetSeconds * 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  return (
    `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, " ")} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`
  );
}

// ---------------------------------------------------------------------------------------------

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const overrides: Partial<LogParams> = {};
  let dir = DEFAULT_DIR;
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    if (
      (flag === "--lines" || flag === "--seed") &&
      Number.isSafeInteger(Number(value)) &&
      Number(value) > 0
    ) {
      overrides[flag === "--lines" ? "lines" : "seed"] = Number(value);
    } else if (flag === "--out" && value) dir = resolve(value);
    else {
      console.error("usage: generate-log [--lines N] [--seed S] [--out DIR]");
      process.exit(2);
    }
  }
  const g = ensureLog(overrides, dir);
  const t = g.truth;
  console.log(
    `${g.generated ? `generated in ${g.seconds.toFixed(1)} s` : "reused"}: ${g.logPath}\n` +
      `${t.lines} lines, ${(t.bytes / 1e6).toFixed(1)} MB, ${t.failures} failures from ` +
      `${Object.keys(t.perAddress).length} addresses; truth: ${g.truthPath}`,
  );
}
