/** A chan_sip failure line for `ip`, stamped `at` (default now), in Asterisk's own log file layout (local time). */
export function failureLine(ip: string, user = "1001", at = Date.now()): string {
  const d = new Date(at);
  const p = (n: number) => String(n).padStart(2, "0");
  const stamp = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return `[${stamp}] NOTICE[4242] chan_sip.c: Registration from '<sip:${user}@192.0.2.10>' failed for '${ip}:5060' - Wrong password\n`;
}
