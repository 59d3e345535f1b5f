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
 */
export class TimestampParser {
  private lastText = "";
  private lastTime = Number.NaN;
  // The reference's year, kept: finding it costs a local-time conversion.
  private yearFor = Number.NaN;
  private year = 0;

  constructor(
    private readonly referenceMs: number = Date.now(),
    private readonly clock?: () => number,
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

  /** A local time without a year: the reference time's year, or the year before it. */
  private yearless(month: number, day: number, h: number, mi: number, s: number, ms: number): number {
    const reference = this.reference();
    if (reference !== this.yearFor) {
      this.yearFor = reference;
      this.year = new Date(reference).getFullYear();
    }
    const year = this.year;
    const t = new Date(year, month, day, h, mi, s, ms).getTime();
    if (t <= reference + FUTURE_SLACK_MS) return t;
    return new Date(year - 1, month, day, h, mi, s, ms).getTime();
  }

  private compute(text: string): number {
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

const MONTH_DAY_DATE = /^(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?$/;
const ISO_DATE = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?(Z|[+-]\d\d:?\d\d)?$/;
const SYSLOG_DATE = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?$/;
const EPOCH = /^(\d{9,11})(?:\.\d+)?$/;

function fractionToMs(frac: string | undefined): number {
  if (!frac) return 0;
  return Math.floor(Number(`0.${frac}`) * 1000);
}

function normalizeZone(zone: string): string {
  if (zone === "Z" || zone.includes(":")) return zone;
  return `${zone.slice(0, 3)}:${zone.slice(3)}`;
}
