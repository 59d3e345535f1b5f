import type { Writable } from "node:stream";
import type { Config } from "../config/schema.js";
import { commandRunner } from "./command.js";
import { DryRunBackend } from "./dry-run.js";
import { IpsetBackend } from "./ipset.js";
import { IptablesBackend } from "./iptables.js";
import { NftablesBackend } from "./nftables.js";
import { parsePorts, type VoipPorts } from "./ports.js";

/** One banned address. `until`: epoch ms when the ban ends, 0 for a ban without end. */
export interface BanEntry {
  ip: string;
  until: number;
}

export interface FirewallStatus {
  /** Everything sipban needs in the kernel is in place. */
  present: boolean;
  /** Addresses the kernel holds for sipban. */
  entries: number;
  /** One line for a person: what is there, or what is missing. */
  detail: string;
}

/**
 * What every firewall backend does (the verbs of sshguard's backends, the shape of CrowdSec's
 * bouncers). Addresses given to a backend must be normalized (normalizeIp); a backend throws on
 * anything else. A backend only ever touches the table, sets and chains it created itself.
 */
export interface FirewallBackend {
  readonly name: string;
  /** Creates sipban's table/sets/chains and hooks them in. Idempotent; keeps the bans present. */
  setup(): Promise<void>;
  /** Bans a batch in one kernel transaction. An address already banned keeps its ban as it is. */
  add(entries: readonly BanEntry[]): Promise<void>;
  /** Lifts bans in one transaction; addresses that are not banned are fine. */
  remove(ips: readonly string[]): Promise<void>;
  /** The bans the kernel holds, `until` from the time left. */
  list(): Promise<BanEntry[]>;
  status(): Promise<FirewallStatus>;
  /** Removes everything sipban created, and nothing else. Idempotent. */
  teardown(): Promise<void>;
}

export type FirewallConfig = Config["firewall"];

export interface BackendOptions {
  /**
   * Runs every firewall command through this prefix, e.g. `["ip", "netns", "exec", "sb-pbx"]`:
   * tests and benchmarks use it to work inside a network namespace.
   */
  commandPrefix?: readonly string[];
  /** Where the dry-run backend prints what it would do (default stderr: stdout is for reports, such as `scan --ban --json`). */
  output?: Writable;
}

/** The parts of the configuration a backend works from, checked once. */
export interface BackendSettings {
  /** Table name, chain name and set-name prefix. */
  name: string;
  /** null: drop everything from a banned address; otherwise only its traffic to these ports. */
  ports: VoipPorts | null;
  /** The most addresses one ipset set holds. */
  maxelem: number;
}

/** The backend the configuration names. Throws on a port list that cannot be used. */
export function createBackend(config: FirewallConfig, options: BackendOptions = {}): FirewallBackend {
  const settings: BackendSettings = { name: config.name, ports: voipPorts(config), maxelem: config.maxelem };
  const run = commandRunner(options.commandPrefix);
  switch (config.backend) {
    case "nftables":
      return new NftablesBackend(settings, run);
    case "ipset":
      return new IpsetBackend(settings, run);
    case "iptables":
      return new IptablesBackend(settings, run);
    case "dry-run":
      return new DryRunBackend(settings, options.output ?? process.stderr);
  }
}

function voipPorts(config: FirewallConfig): VoipPorts | null {
  if (config.scope === "all") return null;
  const ports = { udp: parsePorts(config.ports.udp), tcp: parsePorts(config.ports.tcp) };
  if (ports.udp.length === 0 && ports.tcp.length === 0) {
    throw new Error(
      'firewall scope "voip" needs at least one port in firewall.ports.udp or firewall.ports.tcp',
    );
  }
  return ports;
}
