import { normalizeIp } from "../net/address.js";
import { counted } from "../util/counted.js";
import type { BackendSettings, BanEntry, FirewallBackend, FirewallStatus } from "./backend.js";
import type { RunCommand } from "./command.js";
import { ipsByFamily, pendingBans } from "./entries.js";
import {
  applyToRawTable,
  dropChainLines,
  hookLines,
  type RawTable,
  readRawTable,
  unhookLines,
  XTABLES_FAMILIES,
  type XtablesFamily,
} from "./xtables.js";

/**
 * iptables alone, for hosts without nft or ipset: chain `<name>` in the raw table (iptables and
 * ip6tables), jumped to from the top of raw PREROUTING, with one `-s <address> -j DROP` rule per
 * ban. A rule has no timeout: `until` is not enforced by the kernel here, lifting a ban on time
 * is the daemon's job. Every batch is one `iptables-restore --noflush` per family, after reading
 * the chain so that no address is ever added twice or deleted when absent. Each packet walks the
 * chain rule by rule: fine for hundreds of bans, slow for many thousands (use nftables or ipset).
 */
export class IptablesBackend implements FirewallBackend {
  readonly name = "iptables";

  constructor(
    private readonly settings: BackendSettings,
    private readonly run: RunCommand,
  ) {}

  async setup(): Promise<void> {
    const chain = this.settings.name;
    for (const tools of XTABLES_FAMILIES) {
      const table = await readRawTable(this.run, tools);
      // The chain is declared only when missing: declaring an existing one would empty it.
      await applyToRawTable(this.run, tools, [
        ...(table.hasChain(chain) ? [] : [`:${chain} - [0:0]`]),
        ...hookLines(table, chain, this.settings.ports),
      ]);
    }
  }

  async add(entries: readonly BanEntry[]): Promise<void> {
    const { v4, v6 } = pendingBans(entries, Date.now());
    for (const tools of XTABLES_FAMILIES) {
      await this.change(
        (tools.family === 4 ? v4 : v6).map((entry) => entry.ip),
        tools,
        "add",
      );
    }
  }

  async remove(ips: readonly string[]): Promise<void> {
    const { v4, v6 } = ipsByFamily(ips);
    for (const tools of XTABLES_FAMILIES) await this.change(tools.family === 4 ? v4 : v6, tools, "delete");
  }

  async list(): Promise<BanEntry[]> {
    const entries: BanEntry[] = [];
    for (const tools of XTABLES_FAMILIES) {
      const table = await readRawTable(this.run, tools);
      for (const ip of this.banRules(table).keys()) entries.push({ ip, until: 0 });
    }
    return entries;
  }

  async status(): Promise<FirewallStatus> {
    const chain = this.settings.name;
    const missing: string[] = [];
    let entries = 0;
    for (const tools of XTABLES_FAMILIES) {
      const table = await readRawTable(this.run, tools);
      if (!table.hasChain(chain)) missing.push(`${tools.name} chain ${chain}`);
      else if (table.jumpsTo(chain).length === 0) missing.push(`the ${tools.name} jump to ${chain}`);
      entries += this.banRules(table).size;
    }
    return {
      present: missing.length === 0,
      entries,
      detail:
        missing.length === 0
          ? `iptables: ${counted(entries, "address", "addresses")} banned in raw chain ${chain} (lifted on time by sipban, not the kernel)`
          : `iptables: missing ${missing.join(", ")} (${counted(entries, "address", "addresses")} banned)`,
    };
  }

  async teardown(): Promise<void> {
    const chain = this.settings.name;
    for (const tools of XTABLES_FAMILIES) {
      const table = await readRawTable(this.run, tools);
      await applyToRawTable(this.run, tools, [...unhookLines(table, chain), ...dropChainLines(table, chain)]);
    }
  }

  /** Adds the rules of `ips` not yet present, or deletes those present: one transaction. */
  private async change(
    ips: readonly string[],
    tools: XtablesFamily,
    action: "add" | "delete",
  ): Promise<void> {
    if (ips.length === 0) return;
    const table = await readRawTable(this.run, tools);
    const chain = this.settings.name;
    if (action === "add" && !table.hasChain(chain)) {
      throw new Error(
        `${tools.name} has no chain ${chain} in its raw table: sipban's iptables firewall is not set up ` +
          "(`sipban firewall setup` creates it)",
      );
    }
    const present = this.banRules(table);
    const lines: string[] = [];
    for (const ip of new Set(ips)) {
      const rule = present.get(ip);
      if (action === "add" && rule === undefined) lines.push(`-A ${chain} -s ${ip} -j DROP`);
      if (action === "delete" && rule !== undefined) lines.push(`-D${rule.slice(2)}`);
    }
    await applyToRawTable(this.run, tools, lines);
  }

  /** sipban's ban rules in `table`, by address (`-A <name> -s 192.0.2.7/32 -j DROP`). */
  private banRules(table: RawTable): Map<string, string> {
    const rules = new Map<string, string>();
    for (const rule of table.rulesOf(this.settings.name)) {
      const source = /^-A \S+ -s ([0-9a-fA-F.:]+)\/(?:32|128) -j DROP$/.exec(rule)?.[1];
      const ip = source === undefined ? null : normalizeIp(source);
      if (ip !== null) rules.set(ip, rule);
    }
    return rules;
  }
}
