import type { Command } from "commander";
import { normalizeIp } from "../net/address.js";
import { Allowlist } from "../policy/allowlist.js";
import { durationProblem, formatMs, parseDuration } from "../policy/policy.js";
import { InputError } from "../sources/file-reader.js";
import type { BanRecord } from "../store/state.js";
import { resolveConfig } from "./config-option.js";
import { formatTime, printable, table } from "./format.js";

/** The store, firewall and daemon modules: loaded when a ban command runs, not for every command. */
async function banModules() {
  const [context, link, manager] = await Promise.all([
    import("./context.js"),
    import("./daemon-link.js"),
    import("../bans/ban-manager.js"),
  ]);
  return {
    withBanContext: context.withBanContext,
    askDaemon: link.askDaemon,
    sshClientAddress: manager.sshClientAddress,
  };
}

/** `sipban ban`, `unban` and `bans`: manual bans and the list of active ones. */
export function registerBanCommands(program: Command): void {
  program
    .command("ban")
    .description("ban an address now")
    .argument("<ip>", "IPv4 or IPv6 address")
    .option("--for <duration>", "how long, e.g. 1h, 2d, 1w (default: the policy's bantime)")
    .option("--reason <text>", "why, shown in `sipban bans`", "manual ban")
    .action(async (ipText: string, options: { for?: string; reason: string }, command: Command) => {
      const ip = validAddress(ipText);
      const config = await resolveConfig(command.optsWithGlobals().config);
      const { withBanContext, askDaemon, sshClientAddress } = await banModules();
      const duration = options.for === undefined ? config.policy.bantime : parseDuration(options.for);
      const problem = options.for === undefined ? undefined : durationProblem(options.for, duration);
      if (problem !== undefined) throw new InputError(`--for: ${problem}`);
      const ssh = sshClientAddress();
      if (ssh !== undefined && normalizeIp(ssh) === ip && !new Allowlist(config.allowlist).has(ip)) {
        throw new InputError(
          `refusing to ban ${ip}: it is the address your SSH session comes from (add it to the allowlist or ban from elsewhere)`,
        );
      }
      const viaDaemon = await askDaemon(config, {
        cmd: "ban",
        ip,
        durationMs: duration,
        reason: options.reason,
      });
      if (viaDaemon) {
        reportBan(
          ip,
          duration,
          viaDaemon.banned ? "banned" : viaDaemon.skipped,
          viaDaemon.existing as BanRecord | null,
        );
        return;
      }
      await withBanContext(config, async (ctx) => {
        const now = Date.now();
        const { added, skipped } = await ctx.manager.apply(
          [{ ip, since: now, until: now + duration, reason: options.reason, origin: "manual" }],
          now,
        );
        reportBan(
          ip,
          duration,
          added.length === 1 ? "banned" : skipped[0]?.why,
          ctx.store.activeBan(ip, now) ?? null,
        );
      });
    });

  program
    .command("unban")
    .description("lift a ban now")
    .argument("<ip>", "IPv4 or IPv6 address")
    .action(async (ipText: string, _options: unknown, command: Command) => {
      const ip = validAddress(ipText);
      const config = await resolveConfig(command.optsWithGlobals().config);
      const { withBanContext, askDaemon } = await banModules();
      const viaDaemon = await askDaemon(config, { cmd: "unban", ip });
      const existed = viaDaemon
        ? viaDaemon.existed === true
        : await withBanContext(config, (ctx) => ctx.manager.unban(ip));
      console.log(
        existed ? `unbanned ${ip}` : `${ip} was not banned; made sure the firewall does not hold it`,
      );
    });

  program
    .command("bans")
    .description("list active bans")
    .option("--json", "print JSON for scripts")
    .action(async (options: { json?: boolean }, command: Command) => {
      const config = await resolveConfig(command.optsWithGlobals().config);
      const { withBanContext, askDaemon } = await banModules();
      // A running daemon answers from its own state: the store and firewall are opened only without one.
      const viaDaemon = await askDaemon(config, { cmd: "bans" });
      const listing: BanListing = viaDaemon
        ? { bans: viaDaemon.bans as BanRecord[], inKernel: new Set(viaDaemon.inFirewall as string[]) }
        : await withBanContext(config, async (ctx) => ({
            bans: ctx.manager.activeBans(Date.now()),
            inKernel: new Set((await ctx.backend.list()).map((e) => e.ip)),
          }));
      printBans(listing, options.json === true);
    });
}

interface BanListing {
  bans: BanRecord[];
  /** Addresses the firewall holds. */
  inKernel: ReadonlySet<string>;
}

function printBans({ bans, inKernel }: BanListing, json: boolean): void {
  if (json) {
    const rows = bans.map((b) => ({
      ip: b.ip,
      since: new Date(b.since).toISOString(),
      until: b.until === 0 ? null : new Date(b.until).toISOString(),
      reason: b.reason,
      origin: b.origin,
      inFirewall: inKernel.has(b.ip),
      evidence: b.evidence ?? null,
    }));
    console.log(JSON.stringify({ bans: rows }, null, 2));
    return;
  }
  if (bans.length === 0) {
    console.log("No active bans.");
    return;
  }
  const rows = bans.map((b) => [
    b.ip,
    formatTime(b.since),
    b.until === 0 ? "never" : formatTime(b.until),
    inKernel.has(b.ip) ? "yes" : "MISSING",
    printable(b.reason),
  ]);
  console.log(table(["ADDRESS", "SINCE", "UNTIL", "IN FIREWALL", "REASON"], rows));
  if (rows.some((r) => r[3] === "MISSING"))
    console.log("\nSome bans are missing from the firewall: run `sipban firewall setup` to restore them.");
}

/** Says what became of a ban request, or throws the refusal (non-zero exit). */
function reportBan(ip: string, duration: number, outcome: unknown, existing: BanRecord | null): void {
  if (outcome === "banned") {
    console.log(`banned ${ip} for ${formatMs(duration)} (until ${formatTime(Date.now() + duration)})`);
    return;
  }
  if (outcome === "already banned" && existing) {
    console.log(`${ip} is already banned (until ${formatTime(existing.until)}); nothing changed`);
    return;
  }
  if (outcome === "protected") {
    throw new InputError(
      `refusing to ban ${ip}: it is the address your SSH session comes from (add it to the allowlist or ban from elsewhere)`,
    );
  }
  throw new InputError(
    `refusing to ban ${ip}: it is allowlisted (the configuration, loopback or one of this host's own addresses)`,
  );
}

/** A normalized address, or a clear error (nothing unvalidated goes further). */
export function validAddress(text: string): string {
  const ip = normalizeIp(text.trim());
  if (ip === null) throw new InputError(`"${printable(text)}" is not an IPv4 or IPv6 address`);
  return ip;
}
