import type { FirewallBackend } from "../firewall/backend.js";
import { reconcile } from "../firewall/reconcile.js";
import type { Allowlist } from "../policy/allowlist.js";
import type { BanRecord, StateStore } from "../store/state.js";

/** Why a ban was not applied. */
export interface Skipped {
  ip: string;
  why: "allowlisted" | "already banned" | "already over" | "protected" | "lifted before";
}

/**
 * Applies bans: the allowlist is checked on every path, the store is written first (a crash
 * never loses an announced ban), then the kernel gets one batch. An address already banned keeps
 * its ban as it is: applying the same decisions again changes nothing.
 */
export class BanManager {
  private setUp = false;

  constructor(
    private readonly store: StateStore,
    private readonly backend: FirewallBackend,
    private allowlist: Allowlist,
    /** Addresses never to ban in this run beyond the allowlist (the admin's own SSH client). */
    private readonly protectedIps: readonly string[] = [],
  ) {}

  async apply(bans: readonly BanRecord[], now: number): Promise<{ added: BanRecord[]; skipped: Skipped[] }> {
    const added: BanRecord[] = [];
    const skipped: Skipped[] = [];
    const seen = new Set<string>();
    for (const ban of bans) {
      if (this.allowlist.has(ban.ip)) skipped.push({ ip: ban.ip, why: "allowlisted" });
      else if (this.protectedIps.includes(ban.ip)) skipped.push({ ip: ban.ip, why: "protected" });
      else if (ban.until !== 0 && ban.until <= now) skipped.push({ ip: ban.ip, why: "already over" });
      else if (seen.has(ban.ip) || this.store.activeBan(ban.ip, now))
        skipped.push({ ip: ban.ip, why: "already banned" });
      // The policy decided this ban on these failures before, and it was lifted since (by hand,
      // or by time): a cron `scan --ban` over the same log must not bring it back.
      else if (ban.origin === "policy" && this.store.wasRecorded(ban.ip, ban.since, ban.origin))
        skipped.push({ ip: ban.ip, why: "lifted before" });
      else {
        added.push(ban);
        seen.add(ban.ip);
      }
    }
    if (added.length > 0) {
      this.store.addBans(added);
      await this.ensureSetUp();
      await this.backend.add(added.map((b) => ({ ip: b.ip, until: b.until })));
    }
    return { added, skipped };
  }

  // A ban must land even when nobody ran `firewall setup` yet (a cron `scan --ban`): setting up
  // is idempotent, so it is done once per run before the first batch.
  private async ensureSetUp(): Promise<void> {
    if (this.setUp) return;
    await this.backend.setup();
    this.setUp = true;
  }

  /** A reloaded configuration's allowlist. */
  useAllowlist(allowlist: Allowlist): void {
    this.allowlist = allowlist;
  }

  /** Ends a ban now, in the store and the kernel. Returns whether there was one. */
  async unban(ip: string): Promise<boolean> {
    const existed = this.store.removeBan(ip);
    await this.backend.remove([ip]);
    return existed;
  }

  /** Lifts bans whose time is over (the kernel does it alone where sets have timeouts). */
  async expire(now: number): Promise<string[]> {
    const ips = this.store.expire(now);
    if (ips.length > 0) await this.backend.remove(ips);
    return ips;
  }

  /** Makes the kernel hold exactly the active bans (after a restart or an external flush). */
  async reconcile(now: number) {
    this.store.expire(now);
    // reconcile() sets the structure up first.
    this.setUp = true;
    return reconcile(this.backend, this.store.activeBanEnds(now), now);
  }

  activeBans(now: number): BanRecord[] {
    return this.store.activeBans(now);
  }
}

/** The address of the SSH client this command runs under, if any (SSH_CLIENT / SSH_CONNECTION). */
export function sshClientAddress(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const text = env.SSH_CONNECTION ?? env.SSH_CLIENT;
  return text?.trim().split(/\s+/)[0] || undefined;
}
