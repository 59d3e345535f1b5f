/** `2024-03-05 10:00:01` in local time. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Lays out rows under headers, each column as wide as its widest cell. */
export function table(
  headers: string[],
  rows: string[][],
  rightAligned: ReadonlySet<number> = new Set(),
): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        i === cells.length - 1 ? c : rightAligned.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!),
      )
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** Shortens text for a table cell. */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Makes attacker-written text safe to print on a terminal (no escape sequences, no line breaks). */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

const DAY_MS = 86_400_000;
let isoDay = Number.NaN;
let isoDayText = "";

/**
 * `new Date(ms).toISOString()`, faster for a report of thousands of times: the date part is
 * made once per day, the time of day by arithmetic.
 */
export function isoTime(ms: number): string {
  // Outside whole milliseconds of Date's range, Date says what it says (or throws).
  if (!Number.isInteger(ms) || Math.abs(ms) > 8.64e15) return new Date(ms).toISOString();
  const day = Math.floor(ms / DAY_MS);
  if (day !== isoDay) {
    isoDay = day;
    isoDayText = new Date(day * DAY_MS).toISOString().slice(0, -13);
  }
  const t = ms - day * DAY_MS;
  const h = Math.floor(t / 3_600_000);
  const m = Math.floor(t / 60_000) % 60;
  const s = Math.floor(t / 1000) % 60;
  return `${isoDayText}${two(h)}:${two(m)}:${two(s)}.${String(t % 1000).padStart(3, "0")}Z`;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
