import { homedir } from "node:os";
import { join } from "node:path";
import { BanManager, sshClientAddress } from "../bans/ban-manager.js";
import type { Config } from "../config/schema.js";
import type { FirewallBackend } from "../firewall/backend.js";
import { createBackend } from "../firewall/backend.js";
import { normalizeIp } from "../net/address.js";
import { Allowlist } from "../policy/allowlist.js";
import { StateStore } from "../store/state.js";
import { counted } from "../util/counted.js";

const DEFAULT_STATE = "/var/lib/sipban/sipban.db";

export interface BanContext {
  config: Config;
  store: StateStore;
  backend: FirewallBackend;
  manager: BanManager;
  allowlist: Allowlist;
  /** The admin's SSH client address, when this runs under SSH. */
  sshClient?: string;
  close(): void;
}

/**
 * Opens the store and the firewall backend the configuration names. Without root the backend is
 * dry-run (it prints what it would do) and the state lives in the user's home: trying sipban
 * never needs root and never touches the kernel by surprise.
 */
export function openBanContext(
  config: Config,
  warn: (text: string) => void = (t) => process.stderr.write(`${t}\n`),
): BanContext {
  const root = process.getuid?.() === 0;
  let firewall = config.firewall;
  let statePath = config.state.path;
  if (!root) {
    if (firewall.backend !== "dry-run") {
      warn(
        `sipban: not running as root, so the ${firewall.backend} backend runs as dry-run (nothing is changed)`,
      );
      firewall = { ...firewall, backend: "dry-run" };
    }
    if (statePath === DEFAULT_STATE) statePath = join(homedir(), ".local", "state", "sipban", "sipban.db");
  }
  const store = new StateStore(statePath);
  const backend = createBackend(firewall);
  const allowlist = new Allowlist(config.allowlist);
  const ssh = sshClientAddress();
  const sshClient = ssh === undefined ? undefined : (normalizeIp(ssh) ?? undefined);
  const protectedIps = sshClient && !allowlist.has(sshClient) ? [sshClient] : [];
  const manager = new BanManager(store, backend, allowlist, protectedIps);
  return { config, store, backend, manager, allowlist, sshClient, close: () => store.close() };
}

/** Runs `work` with a ban context, closing it afterwards whatever happens. */
export async function withBanContext<T>(config: Config, work: (ctx: BanContext) => Promise<T>): Promise<T> {
  const ctx = openBanContext(config);
  try {
    return await work(ctx);
  } finally {
    ctx.close();
  }
}

/** One line on the firewall: whether sipban's structure is there, and what it and the store hold. */
export async function describeFirewall(
  ctx: BanContext,
): Promise<{ line: string; present: boolean; detail: string }> {
  const recorded = ctx.store.countActiveBans(Date.now());
  // A dry-run has nothing in the kernel to find: "not set up" would send the admin to set it up.
  if (ctx.backend.name === "dry-run")
    return {
      line: `dry-run: nothing in the kernel is changed or looked at; ${counted(recorded, "active ban")} recorded`,
      present: true,
      detail: "",
    };
  const status = await ctx.backend.status();
  return {
    line: `${ctx.backend.name}: ${status.present ? "in place" : "not set up"}, ${counted(status.entries, "address", "addresses")} in the kernel, ${counted(recorded, "active ban")} recorded`,
    present: status.present,
    detail: status.detail,
  };
}
