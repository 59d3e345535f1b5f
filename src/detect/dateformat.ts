import { escapeRegExp } from "../util/escape-regexp.js";

/** What a date written by a `dateformat` says; fields it does not write are undefined. */
export interface DateFields {
  year?: number;
  /** 0 to 11. */
  month?: number;
  day?: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
  /** Seconds since the epoch (`%s`): the whole time. */
  epochSeconds?: number;
  /** The offset from UTC in minutes (`%z`); without it the time is local. */
  offsetMinutes?: number;
}

const MONTH_NAMES = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const WEEKDAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

type Setter = (fields: DateFields, text: string) => void;

interface Directive {
  pattern: string;
  /** The most characters it writes. */
  width: number;
  set?: Setter;
}

const number = (pattern: string, width: number, set: (f: DateFields, n: number) => void): Directive => ({
  pattern,
  width,
  set: (f, text) => set(f, Number(text.trim())),
});
// A number padded with a space (%e, %k, %l): the space may be gone where the date starts, as
// sipban reads the date without the spaces around it.
const spaced = (set: (f: DateFields, n: number) => void) => number("[ \\d]?\\d", 2, set);
const monthName = (names: readonly string[]): Directive => ({
  pattern: names.join("|"),
  width: Math.max(...names.map((n) => n.length)),
  set: (f, text) => {
    f.month = names.indexOf(text);
  },
});

// strftime's conversions in the C locale (Asterisk formats its dates with it), one capture each
// (or none, for what says nothing the date needs: weekday names, a time zone's name).
const DIRECTIVES: Record<string, Directive> = {
  Y: number("\\d{4}", 4, (f, n) => {
    f.year = n;
  }),
  // As glibc's strptime reads it: 69 to 99 are 1969 to 1999, 00 to 68 are 2000 to 2068.
  y: number("\\d\\d", 2, (f, n) => {
    f.year = n < 69 ? 2000 + n : 1900 + n;
  }),
  m: number("\\d\\d", 2, (f, n) => {
    f.month = n - 1;
  }),
  d: number("\\d\\d", 2, (f, n) => {
    f.day = n;
  }),
  e: spaced((f, n) => {
    f.day = n;
  }),
  b: monthName(MONTH_NAMES.map((m) => m.slice(0, 3))),
  h: monthName(MONTH_NAMES.map((m) => m.slice(0, 3))),
  B: monthName(MONTH_NAMES),
  a: { pattern: WEEKDAY_NAMES.map((d) => d.slice(0, 3)).join("|"), width: 3 },
  A: { pattern: WEEKDAY_NAMES.join("|"), width: 9 },
  H: number("\\d\\d", 2, (f, n) => {
    f.hour = n;
  }),
  k: spaced((f, n) => {
    f.hour = n;
  }),
  // 12-hour clocks (1 to 12): 12 AM is 0 h; %p adds 12 for PM (read after the hour; see compile).
  I: number("\\d\\d", 2, (f, n) => {
    f.hour = twelveHour(n);
  }),
  l: spaced((f, n) => {
    f.hour = twelveHour(n);
  }),
  p: {
    pattern: "AM|PM",
    width: 2,
    set: (f, text) => {
      if (text === "PM") f.hour += 12;
    },
  },
  M: number("\\d\\d", 2, (f, n) => {
    f.minute = n;
  }),
  S: number("\\d\\d", 2, (f, n) => {
    f.second = n;
  }),
  // Up to the year 5138: a longer number is no date Date can hold.
  s: number("\\d{1,11}", 11, (f, n) => {
    f.epochSeconds = n;
  }),
  z: {
    pattern: "[+-]\\d{4}",
    width: 5,
    set: (f, text) => {
      const minutes = Number(text.slice(3, 5));
      const offset = Number(text.slice(1, 3)) * 60 + (minutes < 60 ? minutes : Number.NaN);
      f.offsetMinutes = text[0] === "-" ? -offset : offset;
    },
  },
  // A zone's abbreviation: letters (CET), or its offset where the zone has none (+04).
  Z: { pattern: "[A-Za-z+-][A-Za-z0-9+-]*", width: 6 },
  n: { pattern: "\\n", width: 1 },
  t: { pattern: "\\t", width: 1 },
};

// Conversions that stand for others.
const SHORTHANDS: Record<string, string> = {
  F: "%Y-%m-%d",
  T: "%H:%M:%S",
  D: "%m/%d/%y",
  R: "%H:%M",
  r: "%I:%M:%S %p",
  x: "%m/%d/%y",
  X: "%H:%M:%S",
};

/** A fraction of a second as Asterisk writes it: `%3q` is milliseconds, `%6q` microseconds. */
function fraction(digits: number | undefined): Directive {
  return {
    pattern: digits === undefined ? "\\d{1,6}" : `\\d{${digits}}`,
    width: digits ?? 6,
    set: (f, text) => {
      f.ms = Math.floor(Number(`0.${text}`) * 1000);
    },
  };
}

/** A 12-hour clock's hour as 0 to 11 (NaN, refused by read(), outside 1 to 12). */
function twelveHour(n: number): number {
  return n >= 1 && n <= 12 ? n % 12 : Number.NaN;
}

/** The longest date, in bytes, the file layouts are read with (see LayoutParser and the WebAssembly parser). */
const MAX_DATE_LENGTH = 64;

function daysIn(month: number, year: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}

/** A capture of the date's pattern and what it sets. */
interface Capture {
  group: number;
  set: Setter;
}

/**
 * Reads the dates Asterisk writes with a `dateformat` of logger.conf: strftime's conversions in
 * the C locale, and Asterisk's `%q` (`%1q` to `%6q`) for fractions of a second. Built once from
 * the format; `read` then takes a whole date text apart, or says it is not one.
 */
export class DateFormat {
  private constructor(
    private readonly pattern: RegExp,
    /** In the order to apply them: %p after the hour it turns. */
    private readonly captures: readonly Capture[],
  ) {}

  /** Throws an Error that says what is wrong with `format`, in words for the configuration. */
  static compile(format: string): DateFormat {
    // One pass, so that "%%F" stays a percent sign and an F.
    const expanded = format.replace(/%([%FTDRrxX])/g, (whole, c: string) => SHORTHANDS[c] ?? whole);
    if (expanded.includes("]"))
      throw new Error(`"${format}" writes a ], which cannot be told from the one that ends the date`);
    let source = "";
    let width = 0;
    const captures: Capture[] = [];
    const halfDay: Capture[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < expanded.length; i++) {
      const c = expanded[i]!;
      if (c !== "%") {
        source += escapeRegExp(c);
        width += Buffer.byteLength(c);
        continue;
      }
      const conversion = /^(?:[1-6]?q|[\s\S])/.exec(expanded.slice(i + 1))?.[0];
      if (conversion === undefined) throw new Error(`"${format}" ends with a lone %`);
      i += conversion.length;
      if (conversion === "%") {
        source += "%";
        width++;
        continue;
      }
      const isFraction = conversion.endsWith("q");
      const directive = isFraction
        ? fraction(conversion.length === 2 ? Number(conversion[0]) : undefined)
        : DIRECTIVES[conversion];
      if (directive === undefined)
        throw new Error(`"${format}": %${conversion} is not a conversion sipban can read back into a date`);
      seen.add(isFraction ? "q" : conversion);
      width += directive.width;
      if (directive.set === undefined) {
        source += `(?:${directive.pattern})`;
        continue;
      }
      source += `(${directive.pattern})`;
      const capture = { group: captures.length + halfDay.length + 1, set: directive.set };
      (conversion === "p" ? halfDay : captures).push(capture);
    }
    const hasDay = seen.has("d") || seen.has("e");
    const hasMonth = seen.has("m") || seen.has("b") || seen.has("h") || seen.has("B");
    if (!seen.has("s") && !(hasDay && hasMonth))
      throw new Error(`"${format}" writes no day and month (%d or %e, and %m or %b) nor epoch seconds (%s)`);
    if (width > MAX_DATE_LENGTH)
      throw new Error(
        `"${format}" writes dates of up to ${width} bytes; sipban reads at most ${MAX_DATE_LENGTH}`,
      );
    // AM and PM turn a 12-hour clock's hour; beside %H they say nothing more.
    const twelveHour = seen.has("I") || seen.has("l");
    return new DateFormat(new RegExp(`^${source}$`), twelveHour ? [...captures, ...halfDay] : captures);
  }

  /** The fields of `text`, or null when the format did not write it. */
  read(text: string): DateFields | null {
    const m = this.pattern.exec(text);
    if (m === null) return null;
    const fields: DateFields = { hour: 0, minute: 0, second: 0, ms: 0 };
    for (const { group, set } of this.captures) set(fields, m[group]!);
    // Date would roll a field out of range over into the next; such a text is not a date.
    const { year, month, day, hour, minute, second, offsetMinutes } = fields;
    if (Number.isNaN(hour) || (offsetMinutes !== undefined && Number.isNaN(offsetMinutes))) return null;
    if (month !== undefined && (month < 0 || month > 11)) return null;
    // Without a year, February may have its 29th.
    if (day !== undefined && month !== undefined && (day < 1 || day > daysIn(month, year ?? 2000)))
      return null;
    return hour > 23 || minute > 59 || second > 60 ? null : fields;
  }
}
