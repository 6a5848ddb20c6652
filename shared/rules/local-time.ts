/**
 * Wall-clock time in an IANA time zone, computed with `Intl` only so Lambda and devices agree and no offset is ever
 * added by hand: the instant is converted, which makes every answer correct across DST switches.
 */

/** ISO weekday: 1 = Monday .. 7 = Sunday. */
export type IsoWeekday = 1 | 2 | 3 | 4 | 5 | 6 | 7;

/** What a wall clock and calendar in one time zone show at one instant. */
export interface LocalTime {
  /** 1 = Monday .. 7 = Sunday, of the local date. */
  isoWeekday: IsoWeekday;
  /** Minutes since local midnight, 0..1439. */
  minuteOfDay: number;
  /** The local calendar date, `YYYY-MM-DD`. */
  date: string;
}

/**
 * One formatter per zone. Building an `Intl.DateTimeFormat` loads zone data and costs far more than formatting, and
 * this runs for every notification. The set of zones is bounded by the IANA database, and a zone the runtime does not
 * know throws before it is stored, so the map cannot grow without limit.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      // Pin calendar and digits so the numeric parts parse the same whatever the runtime's default locale data says.
      calendar: 'gregory',
      numberingSystem: 'latn',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

function numericPart(parts: Intl.DateTimeFormatPart[], type: Intl.DateTimeFormatPartTypes): number {
  const part = parts.find((p) => p.type === type);
  const value = part === undefined ? Number.NaN : Number.parseInt(part.value, 10);
  if (!Number.isInteger(value)) {
    throw new RangeError(`Intl.DateTimeFormat returned no numeric ${type}`);
  }
  return value;
}

/** ISO weekday of a proleptic Gregorian date, by plain calendar arithmetic (no zone involved). */
function isoWeekdayOf(year: number, month: number, day: number): IsoWeekday {
  const utcMidnight = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0..99 to 1900..1999.
  utcMidnight.setUTCFullYear(year, month - 1, day);
  const sundayZero = utcMidnight.getUTCDay();
  return (sundayZero === 0 ? 7 : sundayZero) as IsoWeekday;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/**
 * The local weekday, minute of the day and date in `timeZone` at the instant `at`.
 *
 * @param timeZone an IANA zone name such as `"Europe/Berlin"` or `"UTC"`.
 * @param at the instant; only its epoch value matters.
 * @throws RangeError when the runtime does not know `timeZone` or `at` is an invalid date.
 */
export function localTimeIn(timeZone: string, at: Date): LocalTime {
  const parts = formatterFor(timeZone).formatToParts(at);
  const year = numericPart(parts, 'year');
  const month = numericPart(parts, 'month');
  const day = numericPart(parts, 'day');
  // Some engines print midnight as hour "24" of the same date even when asked for h23; it is hour 0 of that date.
  const hour = numericPart(parts, 'hour') % 24;
  const minute = numericPart(parts, 'minute');
  return {
    isoWeekday: isoWeekdayOf(year, month, day),
    minuteOfDay: hour * 60 + minute,
    date: `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`,
  };
}
