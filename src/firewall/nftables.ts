import { normalizeIp } from "../net/address.js";
import { counted } from "../util/counted.js";
import type { BackendSettings, BanEntry, FirewallBackend, FirewallStatus } from "./backend.js";
import { notSetUp, type RunCommand, toolSaid } from "./command.js";
import { ipsByFamily, pendingBans, remainingMs } from "./entries.js";
import type { PortRange, VoipPorts } from "./ports.js";

const CHAIN = "prerouting";
// What nft says when the table or a set is not there.
const MISSING = "No such file or directory";
const SETS = [
  { set: "v4", type: "ipv4_addr", match: "ip saddr" },
  { set: "v6", type: "ipv6_addr", match: "ip6 saddr" },
] as const;

type ByFamily<T> = { v4: T[]; v6: T[] };

/**
 * nftables: table `inet <name>` with timeout sets `v4` and `v6` (the kernel lifts a ban on time
 * even while sipban is down) and a chain at prerouting, priority raw: a ban cuts established
 * flows too, before conntrack and any `ct state established accept` of the host's own firewall,
 * and covers traffic forwarded to containers. Every change is one `nft -f -` transaction.
 */
export class NftablesBackend implements FirewallBackend {
  readonly name = "nftables";
  private readonly table: string;

  constructor(
    private readonly settings: BackendSettings,
    private readonly run: RunCommand,
  ) {
    this.table = `inet ${settings.name}`;
  }

  async setup(): Promise<void> {
    // The chain is flushed and refilled in the same transaction: a rerun (or a changed scope)
    // never duplicates a rule, and the sets, with their bans, stay as they are.
    await this.apply(
      [
        `add table ${this.table}`,
        ...SETS.map(({ set, type }) => `add set ${this.table} ${set} { type ${type}; flags timeout; }`),
        `add chain ${this.table} ${CHAIN} { type filter hook prerouting priority raw; policy accept; }`,
        `flush chain ${this.table} ${CHAIN}`,
        ...this.dropRules().map((rule) => `add rule ${this.table} ${CHAIN} ${rule}`),
      ].join("\n"),
    );
  }

  async add(entries: readonly BanEntry[]): Promise<void> {
    const bans = pendingBans(entries, Date.now());
    if (bans.v4.length + bans.v6.length === 0) return;
    try {
      // `add element` would reset the timeout of an address already banned; `create` refuses it
      // instead, and the whole transaction with it.
      await this.apply(this.elementCommands("create", bans));
    } catch (err) {
      if (toolSaid(err, MISSING)) throw notSetUp(err, this.name);
      if (!toolSaid(err, "File exists")) throw err;
      const present = new Set((await this.list()).map((entry) => entry.ip));
      const missing = {
        v4: bans.v4.filter((entry) => !present.has(entry.ip)),
        v6: bans.v6.filter((entry) => !present.has(entry.ip)),
      };
      if (missing.v4.length + missing.v6.length > 0) await this.apply(this.elementCommands("add", missing));
    }
  }

  async remove(ips: readonly string[]): Promise<void> {
    const { v4, v6 } = ipsByFamily(ips);
    const lines: string[] = [];
    for (const [set, list] of [
      ["v4", v4],
      ["v6", v6],
    ] as const) {
      if (list.length === 0) continue;
      // `delete element` fails on an absent address; adding it first in the same transaction
      // makes the pair mean "delete if present", still one step.
      const elements = `{ ${list.join(", ")} }`;
      lines.push(
        `add element ${this.table} ${set} ${elements}`,
        `delete element ${this.table} ${set} ${elements}`,
      );
    }
    if (lines.length === 0) return;
    try {
      await this.apply(lines.join("\n"));
    } catch (err) {
      // Without sipban's table nothing is banned: there is nothing to remove.
      if (!toolSaid(err, MISSING) || (await this.readTable()) !== null) throw err;
    }
  }

  async list(): Promise<BanEntry[]> {
    const table = await this.readTable();
    return table === null ? [] : [...table.elements.v4, ...table.elements.v6];
  }

  async status(): Promise<FirewallStatus> {
    const table = await this.readTable();
    if (table === null) {
      return { present: false, entries: 0, detail: `nftables table ${this.table} does not exist` };
    }
    const missing = [
      ...SETS.filter(({ set }) => !table.sets.has(set)).map(({ set }) => `set ${set}`),
      ...(table.hooked ? [] : [`chain ${CHAIN} at prerouting`]),
      ...(table.rules === this.dropRules().length ? [] : ["its drop rules as configured"]),
    ];
    const { v4, v6 } = table.elements;
    const held = `${counted(v4.length + v6.length, "address", "addresses")} banned (${v4.length.toLocaleString("en")} IPv4, ${v6.length.toLocaleString("en")} IPv6)`;
    return {
      present: missing.length === 0,
      entries: v4.length + v6.length,
      detail:
        missing.length === 0
          ? `nftables table ${this.table}: ${held}`
          : `nftables table ${this.table} lacks ${missing.join(", ")} (${held})`,
    };
  }

  async teardown(): Promise<void> {
    // Adding the table first makes the delete succeed whether or not it existed.
    await this.apply(`add table ${this.table}\ndelete table ${this.table}`);
  }

  private dropRules(): string[] {
    const ports = this.settings.ports;
    const toPorts = ports === null ? [""] : voipMatches(ports);
    return SETS.flatMap(({ set, match }) => toPorts.map((to) => `${match} @${set}${to} drop`));
  }

  private elementCommands(verb: "create" | "add", bans: ByFamily<BanEntry>): string {
    const now = Date.now();
    const lines: string[] = [];
    for (const [set, list] of [
      ["v4", bans.v4],
      ["v6", bans.v6],
    ] as const) {
      if (list.length === 0) continue;
      const elements = list.map((entry) => {
        const ms = remainingMs(entry, now);
        return ms === null ? entry.ip : `${entry.ip} timeout ${nftDuration(ms)}`;
      });
      lines.push(`${verb} element ${this.table} ${set} { ${elements.join(", ")} }`);
    }
    return lines.join("\n");
  }

  private async apply(script: string): Promise<void> {
    await this.run("nft", ["-f", "-"], `${script}\n`);
  }

  /** sipban's table as the kernel has it, or null when there is none. */
  private async readTable(): Promise<NftTable | null> {
    let json: string;
    try {
      json = await this.run("nft", ["-j", "list", "table", ...this.table.split(" ")]);
    } catch (err) {
      if (toolSaid(err, MISSING)) return null;
      throw err;
    }
    return parseTable(json, Date.now());
  }
}

function voipMatches(ports: VoipPorts): string[] {
  const matches: string[] = [];
  if (ports.udp.length > 0) matches.push(` udp dport ${portSet(ports.udp)}`);
  if (ports.tcp.length > 0) matches.push(` tcp dport ${portSet(ports.tcp)}`);
  return matches;
}

function portSet(ranges: readonly PortRange[]): string {
  return `{ ${ranges.map(({ from, to }) => (from === to ? `${from}` : `${from}-${to}`)).join(", ")} }`;
}

interface NftTable {
  sets: Set<string>;
  elements: ByFamily<BanEntry>;
  hooked: boolean;
  rules: number;
}

/**
 * A timeout as nft reads it, in days, hours, minutes, seconds and ms: nft refuses a number of
 * 10^8 or more in any one unit (`100000000ms`, 27.8 hours, is "value too large").
 */
export function nftDuration(ms: number): string {
  const units: Array<[string, number]> = [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ];
  let rest = Math.round(ms);
  let text = "";
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) text += `${n}${unit}`;
    rest -= n * size;
  }
  return rest > 0 || text === "" ? `${text}${rest}ms` : text;
}

/** One element of `nft -j` output: a bare value, or an object with its timeout (seconds). */
type NftElement = string | { elem: { val: string; expires?: number } };

interface NftObject {
  set?: { name: string; elem?: NftElement[] };
  chain?: { name: string; hook?: string };
  rule?: { chain: string };
}

function parseTable(json: string, now: number): NftTable {
  const objects = (JSON.parse(json) as { nftables: NftObject[] }).nftables;
  const table: NftTable = { sets: new Set(), elements: { v4: [], v6: [] }, hooked: false, rules: 0 };
  for (const { set, chain, rule } of objects) {
    if (set && (set.name === "v4" || set.name === "v6")) {
      table.sets.add(set.name);
      for (const element of set.elem ?? []) {
        const { val, expires } =
          typeof element === "string" ? { val: element, expires: undefined } : element.elem;
        const ip = normalizeIp(val);
        const until = expires === undefined ? 0 : now + expires * 1000;
        if (ip !== null) table.elements[set.name].push({ ip, until });
      }
    }
    if (chain?.name === CHAIN && chain.hook === "prerouting") table.hooked = true;
    if (rule?.chain === CHAIN) table.rules++;
  }
  return table;
}
