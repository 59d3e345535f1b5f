/** Polls `probe` until it gives a value (not undefined or false), or fails after `ms`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 5000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A chan_sip failure line for `ip`, stamped now, in Asterisk's own log file layout. */
export function failureLine(ip: string, user = "1001"): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, "0");
  const stamp = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return `[${stamp}] NOTICE[4242] chan_sip.c: Registration from '<sip:${user}@192.0.2.10>' failed for '${ip}:5060' - Wrong password\n`;
}
