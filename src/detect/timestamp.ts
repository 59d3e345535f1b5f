import type { DateFields, DateFormat } from "./dateformat.js";

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

// A yearless date more than this far ahead of the reference time belongs to the previous year
// (a December line read in January). Two days leave room for clock skew and time zones.
const FUTURE_SLACK_MS = 2 * 24 * 3600 * 1000;

/**
 * Turns the date texts servers write into epoch milliseconds. Yearless dates (`Mar  5 10:00:01`,
 * `03-05 10:00:01.123456`) take the year of the reference time, one year earlier when that would
 * put them in the future. The reference is a scanned file's modification time, or, for a source
 * followed live, the clock: a daemon that has run for weeks must still date its lines in the present.
 * A `dateformat` configured (see DateFormat) is tried before the dates known without one.
 */
export class TimestampParser {
  private lastText = "";
  private lastTime = Number.NaN;
  // The reference's year, kept: finding it costs a local-time conversion.
  private yearFor = Number.NaN;
  private year = 0;
  // The start of the last local minute a yearless date fell in (a local-time conversion too).
  private minuteKey = -1;
  private minuteStart = 0;

  constructor(
    private readonly referenceMs: number = Date.now(),
    private readonly clock?: () => number,
    private readonly dateFormat?: DateFormat,
  ) {}

  reference(): number {
    return this.clock ? this.clock() : this.referenceMs;
  }

  /** Epoch ms, or NaN when the text is not a date this parser knows. */
  parse(text: string): number {
    // Lines come in bursts within one second: the same text is parsed once.
    if (text === this.lastText) return this.lastTime;
    const time = this.compute(text);
    this.lastText = text;
    this.lastTime = time;
    return time;
  }

  /**
   * Asterisk's default date (`Mar  5 10:00:01`, also `Mar 15 10:00:01.123`) read by hand: the
   * same answer as SYSLOG_DATE's, without a match object per line. NaN for any other text.
   */
  private syslogDate(text: string): number {
    const n = text.length;
    if (n < 15 || text.charCodeAt(3) !== 0x20 || text.charCodeAt(6) !== 0x20) return Number.NaN;
    const c0 = text.charCodeAt(0);
    const c1 = text.charCodeAt(1);
    const c2 = text.charCodeAt(2);
    // ASCII only: a wider code would alias another month's key.
    const month = (c0 | c1 | c2) < 0x80 ? MONTH_CODES.get((c0 << 16) | (c1 << 8) | c2) : undefined;
    const d1 = text.charCodeAt(4);
    if (month === undefined || (d1 !== 0x20 && !isDigit(d1)) || !isDigit(text.charCodeAt(5)))
      return Number.NaN;
    if (text.charCodeAt(9) !== 0x3a || text.charCodeAt(12) !== 0x3a) return Number.NaN;
    for (let k = 0; k < TIME_DIGITS.length; k++)
      if (!isDigit(text.charCodeAt(TIME_DIGITS[k]!))) return Number.NaN;
    let ms = 0;
    if (n > 15) {
      if (text.charCodeAt(15) !== 0x2e || n === 16) return Number.NaN;
      for (let i = 16; i < n; i++) if (!isDigit(text.charCodeAt(i))) return Number.NaN;
      ms = fractionToMs(text.slice(16));
    }
    const day = (d1 === 0x20 ? 0 : d1 - 0x30) * 10 + text.charCodeAt(5) - 0x30;
    const pair = (at: number) => (text.charCodeAt(at) - 0x30) * 10 + text.charCodeAt(at + 1) - 0x30;
    return this.yearless(month, day, pair(7), pair(10), pair(13), ms);
  }

  /** The time a configured `dateformat` wrote. */
  private fromFields(f: DateFields): number {
    if (f.epochSeconds !== undefined) return f.epochSeconds * 1000 + f.ms;
    // compile() holds the day and month to be written when the epoch is not.
    const month = f.month!;
    const day = f.day!;
    const offset = f.offsetMinutes;
    if (offset === undefined) {
      if (f.year === undefined) return this.yearless(month, day, f.hour, f.minute, f.second, f.ms);
      return new Date(f.year, month, day, f.hour, f.minute, f.second, f.ms).getTime();
    }
    const at = (year: number) =>
      Date.UTC(year, month, day, f.hour, f.minute, f.second, f.ms) - offset * 60_000;
    if (f.year !== undefined) return at(f.year);
    // Without a year, as yearless() has it: the reference's, or the one before.
    const reference = this.reference();
    const year = new Date(reference).getUTCFullYear();
    const t = at(yearOf(year, month, day));
    return t <= reference + FUTURE_SLACK_MS ? t : at(yearOf(year - 1, month, day));
  }

  /** A local time without a year: the reference time's year, or the year before it. */
  private yearless(month: number, day: number, h: number, mi: number, s: number, ms: number): number {
    const reference = this.reference();
    if (reference !== this.yearFor) {
      this.yearFor = reference;
      this.year = new Date(reference).getFullYear();
    }
    const year = this.year;
    let t: number;
    if (day >= 1 && day <= 28 && h < 24 && mi < 60 && s < 60 && ms < 1000) {
      // Offsets change only at whole minutes: within one, the seconds add as they are. (Only
      // for fields in range: Date rolls the others over, and a key cannot tell where.)
      const key = (((year * 12 + month) * 32 + day) * 24 + h) * 60 + mi;
      if (key !== this.minuteKey) {
        this.minuteKey = key;
        this.minuteStart = new Date(year, month, day, h, mi, 0, 0).getTime();
      }
      t = this.minuteStart + s * 1000 + ms;
    } else t = new Date(yearOf(year, month, day), month, day, h, mi, s, ms).getTime();
    if (t <= reference + FUTURE_SLACK_MS) return t;
    return new Date(yearOf(year - 1, month, day), month, day, h, mi, s, ms).getTime();
  }

  private compute(text: string): number {
    const fields = this.dateFormat?.read(text);
    if (fields) return this.fromFields(fields);
    const syslog = this.syslogDate(text);
    if (!Number.isNaN(syslog)) return syslog;
    let m = ISO_DATE.exec(text);
    if (m) {
      const [, y, mo, d, h, mi, s, frac, zone] = m;
      const ms = fractionToMs(frac);
      if (zone) {
        const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}.${String(ms).padStart(3, "0")}${normalizeZone(zone)}`;
        return Date.parse(iso);
      }
      return new Date(+y!, +mo! - 1, +d!, +h!, +mi!, +s!, ms).getTime();
    }
    m = SYSLOG_DATE.exec(text);
    if (m) {
      const [, mon, d, h, mi, s, frac] = m;
      const month = MONTHS[mon!];
      if (month === undefined) return Number.NaN;
      return this.yearless(month, +d!, +h!, +mi!, +s!, fractionToMs(frac));
    }
    m = MONTH_DAY_DATE.exec(text);
    if (m) {
      const [, mo, d, h, mi, s, frac] = m;
      return this.yearless(+mo! - 1, +d!, +h!, +mi!, +s!, fractionToMs(frac));
    }
    m = EPOCH.exec(text);
    if (m) return Math.round(Number(text) * 1000);
    return Number.NaN;
  }
}

/**
 * The year a yearless date falls in, at or before `year`: `year` itself, but for February's 29th,
 * which only a leap year has (Date would make it the 1st of March).
 */
function yearOf(year: number, month: number, day: number): number {
  if (month !== 1 || day !== 29) return year;
  let y = year;
  while (!(y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0))) y--;
  return y;
}

/** "Jan" → 0 ... "Dec" → 11, keyed by the three letters' codes. */
const MONTH_CODES = new Map(
  Object.entries(MONTHS).map(([name, n]) => [
    (name.charCodeAt(0) << 16) | (name.charCodeAt(1) << 8) | name.charCodeAt(2),
    n,
  ]),
);

/** Where `Mar  5 10:00:01` has the digits of its time. */
const TIME_DIGITS = [7, 8, 10, 11, 13, 14];

const MONTH_DAY_DATE = /^(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?$/;
const ISO_DATE = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?(Z|[+-]\d\d:?\d\d)?$/;
const SYSLOG_DATE = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?$/;
const EPOCH = /^(\d{9,11})(?:\.\d+)?$/;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function fractionToMs(frac: string | undefined): number {
  if (!frac) return 0;
  return Math.floor(Number(`0.${frac}`) * 1000);
}

function normalizeZone(zone: string): string {
  if (zone === "Z" || zone.includes(":")) return zone;
  return `${zone.slice(0, 3)}:${zone.slice(3)}`;
}
