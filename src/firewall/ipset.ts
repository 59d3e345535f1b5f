import { ipFamily, normalizeIp } from "../net/address.js";
import { counted } from "../util/counted.js";
import type { BackendSettings, BanEntry, FirewallBackend, FirewallStatus } from "./backend.js";
import { notSetUp, type RunCommand, toolSaid } from "./command.js";
import { ipsByFamily, pendingBans, remainingMs } from "./entries.js";
import {
  applyToRawTable,
  dropChainLines,
  hookLines,
  readRawTable,
  unhookLines,
  XTABLES_FAMILIES,
} from "./xtables.js";

// What ipset says when a set is not there.
const MISSING = "set with the given name does not exist";
// ipset's longest timeout, in seconds. A longer ban is lifted by the kernel at this point and
// put back by the next reconcile.
const MAX_TIMEOUT_S = 2_147_483;

/**
 * ipset + iptables: `hash:ip` sets `<name>-v4` and `<name>-v6` with timeouts (the kernel lifts a
 * ban on time even while sipban is down), matched by one DROP rule in a `<name>` chain of the raw
 * table, which raw PREROUTING jumps to from its top (before conntrack, so established flows are
 * cut too). Bans go through `ipset restore` on stdin, one process per batch.
 */
export class IpsetBackend implements FirewallBackend {
  readonly name = "ipset";

  constructor(
    private readonly settings: BackendSettings,
    private readonly run: RunCommand,
  ) {}

  async setup(): Promise<void> {
    const creates = XTABLES_FAMILIES.map(
      ({ family }) =>
        `create ${this.setName(family)} hash:ip family ${family === 4 ? "inet" : "inet6"} timeout 0 maxelem ${this.settings.maxelem}`,
    );
    try {
      await this.run("ipset", ["restore", "-exist"], `${creates.join("\n")}\n`);
    } catch (err) {
      if (!toolSaid(err, "already exists")) throw err;
      throw new Error(
        `ipset sets ${this.setName(4)}/${this.setName(6)} exist with other settings (was maxelem changed?): ` +
          "run `sipban firewall teardown`, then `sipban firewall setup`",
      );
    }
    const chain = this.settings.name;
    for (const tools of XTABLES_FAMILIES) {
      const table = await readRawTable(this.run, tools);
      await applyToRawTable(this.run, tools, [
        // Declaring the chain creates it, or empties it when it exists: refilled at once.
        `:${chain} - [0:0]`,
        `-A ${chain} -m set --match-set ${this.setName(tools.family)} src -j DROP`,
        ...hookLines(table, chain, this.settings.ports),
      ]);
    }
  }

  async add(entries: readonly BanEntry[]): Promise<void> {
    const bans = pendingBans(entries, Date.now());
    const batch = [...bans.v4, ...bans.v6];
    if (batch.length === 0) return;
    try {
      await this.restoreAdds(batch);
    } catch (err) {
      if (toolSaid(err, MISSING)) throw notSetUp(err, this.name);
      if (!toolSaid(err, "already added")) throw err;
      // `ipset restore` stopped at an address already banned, having applied the lines before
      // it. (`-exist` would have reset that ban's timeout.) Add what is still missing.
      const present = new Set((await this.list()).map((entry) => entry.ip));
      const missing = batch.filter((entry) => !present.has(entry.ip));
      if (missing.length > 0) await this.restoreAdds(missing);
    }
  }

  async remove(ips: readonly string[]): Promise<void> {
    const { v4, v6 } = ipsByFamily(ips);
    if (v4.length + v6.length === 0) return;
    const lines = [
      ...v4.map((ip) => `del ${this.setName(4)} ${ip}`),
      ...v6.map((ip) => `del ${this.setName(6)} ${ip}`),
    ];
    try {
      // With -exist, deleting an address that is not there is no error.
      await this.run("ipset", ["restore", "-exist"], `${lines.join("\n")}\n`);
    } catch (err) {
      // Without sipban's sets nothing is banned: there is nothing to remove.
      if (!toolSaid(err, MISSING)) throw err;
    }
  }

  async list(): Promise<BanEntry[]> {
    const now = Date.now();
    return (await this.savedSets()).flatMap(({ saved }) => (saved === null ? [] : parseSaved(saved, now)));
  }

  async status(): Promise<FirewallStatus> {
    const sets = await this.savedSets();
    const missing = sets.filter(({ saved }) => saved === null).map(({ set }) => `ipset ${set}`);
    const entries = sets.reduce((n, { saved }) => n + (saved === null ? 0 : parseSaved(saved, 0).length), 0);
    const chain = this.settings.name;
    for (const tools of XTABLES_FAMILIES) {
      const table = await readRawTable(this.run, tools);
      if (table.rulesOf(chain).length === 0) missing.push(`the rule of ${tools.name} chain ${chain}`);
      if (table.jumpsTo(chain).length === 0) missing.push(`the ${tools.name} jump to ${chain}`);
    }
    return {
      present: missing.length === 0,
      entries,
      detail:
        missing.length === 0
          ? `ipset: ${counted(entries, "address", "addresses")} banned in ${this.setName(4)} and ${this.setName(6)}`
          : `ipset: missing ${missing.join(", ")} (${counted(entries, "address", "addresses")} banned)`,
    };
  }

  async teardown(): Promise<void> {
    const chain = this.settings.name;
    for (const tools of XTABLES_FAMILIES) {
      const table = await readRawTable(this.run, tools);
      await applyToRawTable(this.run, tools, [...unhookLines(table, chain), ...dropChainLines(table, chain)]);
    }
    // The sets can go only once no rule refers to them.
    const existing = new Set((await this.run("ipset", ["list", "-n"])).split("\n"));
    const destroys = XTABLES_FAMILIES.map(({ family }) => this.setName(family))
      .filter((set) => existing.has(set))
      .map((set) => `destroy ${set}`);
    if (destroys.length > 0) await this.run("ipset", ["restore"], `${destroys.join("\n")}\n`);
  }

  private setName(family: 4 | 6): string {
    return `${this.settings.name}-v${family}`;
  }

  private async restoreAdds(batch: readonly BanEntry[]): Promise<void> {
    const now = Date.now();
    const lines = batch.map((entry) => {
      const ms = remainingMs(entry, now);
      // timeout 0: a ban without end.
      const seconds = ms === null ? 0 : Math.min(MAX_TIMEOUT_S, Math.ceil(ms / 1000));
      return `add ${this.setName(ipFamily(entry.ip))} ${entry.ip} timeout ${seconds}`;
    });
    await this.run("ipset", ["restore"], `${lines.join("\n")}\n`);
  }

  /** `ipset save` of each of sipban's sets; null for a set that does not exist. */
  private async savedSets(): Promise<{ set: string; saved: string | null }[]> {
    const sets = XTABLES_FAMILIES.map(({ family }) => this.setName(family));
    return Promise.all(
      sets.map(async (set) => {
        try {
          return { set, saved: await this.run("ipset", ["save", set]) };
        } catch (err) {
          if (toolSaid(err, MISSING)) return { set, saved: null };
          throw err;
        }
      }),
    );
  }
}

/** The bans in `ipset save` output: `add <set> <address> timeout <seconds left>` lines. */
function parseSaved(saved: string, now: number): BanEntry[] {
  const entries: BanEntry[] = [];
  for (const line of saved.split("\n")) {
    const [verb, , value, option, seconds] = line.split(" ");
    const ip = verb === "add" && value !== undefined ? normalizeIp(value) : null;
    if (ip === null) continue;
    const left = option === "timeout" ? Number(seconds) : 0;
    entries.push({ ip, until: left > 0 ? now + left * 1000 : 0 });
  }
  return entries;
}
