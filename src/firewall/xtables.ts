import type { RunCommand } from "./command.js";
import type { PortRange, VoipPorts } from "./ports.js";

/** The iptables tools of one address family. */
export interface XtablesFamily {
  family: 4 | 6;
  /** The rule tool itself, for messages. */
  name: string;
  save: string;
  restore: string;
}

export const XTABLES_FAMILIES: readonly XtablesFamily[] = [
  { family: 4, name: "iptables", save: "iptables-save", restore: "iptables-restore" },
  { family: 6, name: "ip6tables", save: "ip6tables-save", restore: "ip6tables-restore" },
];

/** The raw table of one family, as `iptables-save` prints it. */
export class RawTable {
  private constructor(
    private readonly chains: ReadonlySet<string>,
    /** Rule lines, `-A CHAIN ...`. */
    private readonly rules: readonly string[],
  ) {}

  static parse(saved: string): RawTable {
    const chains = new Set<string>();
    const rules: string[] = [];
    for (const line of saved.split("\n")) {
      if (line.startsWith(":")) chains.add(line.slice(1).split(" ")[0]!);
      else if (line.startsWith("-A ")) rules.push(line);
    }
    return new RawTable(chains, rules);
  }

  hasChain(chain: string): boolean {
    return this.chains.has(chain);
  }

  /** The rules of `chain`, as `-A chain ...` lines. */
  rulesOf(chain: string): string[] {
    const head = `-A ${chain} `;
    return this.rules.filter((rule) => rule.startsWith(head));
  }

  /** PREROUTING's rules that jump to `chain`. */
  jumpsTo(chain: string): string[] {
    return this.rulesOf("PREROUTING").filter((rule) => rule.endsWith(` -j ${chain}`));
  }
}

export async function readRawTable(run: RunCommand, tools: XtablesFamily): Promise<RawTable> {
  return RawTable.parse(await run(tools.save, ["-t", "raw"]));
}

/**
 * Applies `lines` (`-A`, `-I`, `-D`, `-F`, `-X`, `:chain` declarations) to the raw table in one
 * transaction. `--noflush` keeps every rule not named; beware that it empties a declared chain
 * that already exists.
 */
export async function applyToRawTable(
  run: RunCommand,
  tools: XtablesFamily,
  lines: readonly string[],
): Promise<void> {
  if (lines.length === 0) return;
  await run(tools.restore, ["--wait=10", "--noflush"], `*raw\n${lines.join("\n")}\nCOMMIT\n`);
}

/**
 * Lines that put the jumps to `chain` at the top of raw PREROUTING: to every packet, or with
 * `ports` only to packets for those ports. Older jumps to `chain` are deleted in the same
 * transaction, so a rerun or a changed scope never leaves duplicates behind.
 */
export function hookLines(table: RawTable, chain: string, ports: VoipPorts | null): string[] {
  const jumps =
    ports === null
      ? [`-j ${chain}`]
      : (["udp", "tcp"] as const).flatMap((protocol) =>
          multiportLists(ports[protocol]).map(
            (list) => `-p ${protocol} -m multiport --dports ${list} -j ${chain}`,
          ),
        );
  return [...unhookLines(table, chain), ...jumps.reverse().map((jump) => `-I PREROUTING 1 ${jump}`)];
}

/** Lines that delete every jump to `chain` from raw PREROUTING. */
export function unhookLines(table: RawTable, chain: string): string[] {
  return table.jumpsTo(chain).map((rule) => `-D${rule.slice(2)}`);
}

/** Lines that delete `chain` with its rules, when it exists (its jumps must be gone first). */
export function dropChainLines(table: RawTable, chain: string): string[] {
  return table.hasChain(chain) ? [`-F ${chain}`, `-X ${chain}`] : [];
}

// The multiport match takes at most 15 ports, a range counting as two.
const MULTIPORT_MAX = 15;

function multiportLists(ranges: readonly PortRange[]): string[] {
  const lists: string[][] = [];
  let weight = MULTIPORT_MAX;
  for (const { from, to } of ranges) {
    const cost = from === to ? 1 : 2;
    if (weight + cost > MULTIPORT_MAX) {
      lists.push([]);
      weight = 0;
    }
    lists.at(-1)!.push(from === to ? `${from}` : `${from}:${to}`);
    weight += cost;
  }
  return lists.map((list) => list.join(","));
}
