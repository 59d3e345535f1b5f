import type { BanEntry, FirewallBackend } from "./backend.js";

export interface ReconcileResult {
  /** Bans the kernel lacked and now holds. */
  added: number;
  /** Bans the kernel held for sipban that were not desired, now lifted. */
  removed: number;
  /** Desired bans the kernel already held (their time left unchanged). */
  kept: number;
}

/**
 * Makes the kernel hold exactly the `desired` bans that are not over at `now`: after a restart,
 * a flushed ruleset or deleted sets. Setup runs every time: it is idempotent, cheap, and puts
 * back whatever part of sipban's structure went missing. Only the backend's own sets and chain
 * are read and changed, so nothing sipban did not create is ever touched.
 */
export async function reconcile(
  backend: FirewallBackend,
  desired: readonly BanEntry[],
  now: number,
): Promise<ReconcileResult> {
  await backend.setup();
  const wanted = new Map<string, BanEntry>();
  for (const entry of desired) {
    if ((entry.until === 0 || entry.until > now) && !wanted.has(entry.ip)) wanted.set(entry.ip, entry);
  }
  const held = new Set((await backend.list()).map((entry) => entry.ip));
  const missing = [...wanted.values()].filter((entry) => !held.has(entry.ip));
  const unwanted = [...held].filter((ip) => !wanted.has(ip));
  if (missing.length > 0) await backend.add(missing);
  if (unwanted.length > 0) await backend.remove(unwanted);
  return { added: missing.length, removed: unwanted.length, kept: wanted.size - missing.length };
}
