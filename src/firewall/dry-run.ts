import type { Writable } from "node:stream";
import { counted } from "../util/counted.js";
import type { BackendSettings, BanEntry, FirewallBackend, FirewallStatus } from "./backend.js";
import { ipsByFamily, pendingBans } from "./entries.js";
import type { PortRange } from "./ports.js";

/**
 * Changes nothing: prints what it would do and keeps the bans in memory, so `list` answers as a
 * kernel would (bans whose time is over are gone, as with a timeout set).
 */
export class DryRunBackend implements FirewallBackend {
  readonly name = "dry-run";
  private readonly bans = new Map<string, number>();
  private ready = false;

  constructor(
    private readonly settings: BackendSettings,
    private readonly output: Writable,
  ) {}

  async setup(): Promise<void> {
    this.ready = true;
    this.say(`would set up "${this.settings.name}", dropping ${this.scope()} from banned addresses`);
  }

  async add(entries: readonly BanEntry[]): Promise<void> {
    const now = Date.now();
    this.forgetEnded(now);
    const { v4, v6 } = pendingBans(entries, now);
    for (const { ip, until } of [...v4, ...v6]) {
      if (this.bans.has(ip)) continue;
      this.bans.set(ip, until);
      this.say(`would ban ${ip} ${until === 0 ? "with no end" : `until ${new Date(until).toISOString()}`}`);
    }
  }

  async remove(ips: readonly string[]): Promise<void> {
    const { v4, v6 } = ipsByFamily(ips);
    for (const ip of [...v4, ...v6]) {
      if (this.bans.delete(ip)) this.say(`would lift the ban of ${ip}`);
    }
  }

  async list(): Promise<BanEntry[]> {
    this.forgetEnded(Date.now());
    return [...this.bans].map(([ip, until]) => ({ ip, until }));
  }

  async status(): Promise<FirewallStatus> {
    const entries = (await this.list()).length;
    return {
      present: this.ready,
      entries,
      detail: `dry-run: nothing in the kernel is changed; ${counted(entries, "address", "addresses")} would be banned`,
    };
  }

  async teardown(): Promise<void> {
    this.ready = false;
    this.bans.clear();
    this.say(`would remove everything of "${this.settings.name}" from the firewall`);
  }

  private forgetEnded(now: number): void {
    for (const [ip, until] of this.bans) if (until !== 0 && until <= now) this.bans.delete(ip);
  }

  private scope(): string {
    const ports = this.settings.ports;
    if (ports === null) return "all traffic";
    const list = (ranges: PortRange[]) =>
      ranges.map(({ from, to }) => (from === to ? from : `${from}-${to}`)).join(",");
    return `traffic to udp ports ${list(ports.udp) || "(none)"} and tcp ports ${list(ports.tcp) || "(none)"}`;
  }

  private say(text: string): void {
    this.output.write(`dry-run: ${text}\n`);
  }
}
