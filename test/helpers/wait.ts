import { setTimeout as sleep } from "node:timers/promises";

/** Between probes: short. A probe that starts a process (the CLI) takes longer than this itself. */
const POLL_MS = 10;

/**
 * Polls `probe` until it gives a value (not undefined or false) and returns that value; fails after
 * `ms`. `what` names what is awaited; as a function it is called only when the wait times out, so
 * the failure can show the state seen then.
 */
export async function waitFor<T>(
  what: string | (() => string),
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 5000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${typeof what === "string" ? what : what()}`);
    }
    await sleep(POLL_MS);
  }
}
