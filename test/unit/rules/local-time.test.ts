import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { localTimeIn } from '../../../shared/rules/local-time.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/**
 * An oracle that shares nothing with the code under test: the zone's UTC offset from its published rule, then plain
 * Date arithmetic in UTC.
 */
function expectedLocalTime(epochMs: number, offsetMinutes: number) {
  const shifted = new Date(epochMs + offsetMinutes * MINUTE_MS);
  const sundayZero = shifted.getUTCDay();
  return {
    isoWeekday: sundayZero === 0 ? 7 : sundayZero,
    minuteOfDay: shifted.getUTCHours() * 60 + shifted.getUTCMinutes(),
    date: shifted.toISOString().slice(0, 10),
  };
}

/** Epoch ms of 00:00 UTC on the n-th (1-based) Sunday of a month, or the last one when n is 'last'. */
function sundayOf(year: number, monthIndex: number, n: number | 'last'): number {
  if (n === 'last') {
    const lastDay = new Date(Date.UTC(year, monthIndex + 1, 0));
    return Date.UTC(year, monthIndex, lastDay.getUTCDate() - lastDay.getUTCDay());
  }
  const firstWeekday = new Date(Date.UTC(year, monthIndex, 1)).getUTCDay();
  return Date.UTC(year, monthIndex, 1 + ((7 - firstWeekday) % 7) + 7 * (n - 1));
}

/** US rule since 2007: EDT from the 2nd Sunday of March 02:00 EST to the 1st Sunday of November 02:00 EDT. */
function newYorkOffset(epochMs: number): number {
  const year = new Date(epochMs).getUTCFullYear();
  const dstStart = sundayOf(year, 2, 2) + 7 * HOUR_MS;
  const dstEnd = sundayOf(year, 10, 1) + 6 * HOUR_MS;
  return epochMs >= dstStart && epochMs < dstEnd ? -240 : -300;
}

/** EU rule since 1996: CEST from the last Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC. */
function berlinOffset(epochMs: number): number {
  const year = new Date(epochMs).getUTCFullYear();
  const dstStart = sundayOf(year, 2, 'last') + HOUR_MS;
  const dstEnd = sundayOf(year, 9, 'last') + HOUR_MS;
  return epochMs >= dstStart && epochMs < dstEnd ? 120 : 60;
}

const instantsBetween = (from: string, to: string) =>
  fc.integer({ min: Date.parse(from), max: Date.parse(to) }).map((ms) => new Date(ms));

describe('localTimeIn', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('reads the wall clock of the zone, not of the host', () => {
    const at = new Date('2026-01-05T10:30:00Z');

    expect(localTimeIn('UTC', at)).toEqual({ isoWeekday: 1, minuteOfDay: 630, date: '2026-01-05' });
    expect(localTimeIn('Europe/Berlin', at)).toEqual({ isoWeekday: 1, minuteOfDay: 690, date: '2026-01-05' });
  });

  it('puts the same instant on three different weekdays in far zones', () => {
    const mondayUtc = new Date('2026-01-05T10:30:00Z');

    expect(localTimeIn('Pacific/Kiritimati', mondayUtc)).toEqual({ isoWeekday: 2, minuteOfDay: 30, date: '2026-01-06' });
    expect(localTimeIn('Asia/Kathmandu', mondayUtc)).toEqual({ isoWeekday: 1, minuteOfDay: 975, date: '2026-01-05' });
    expect(localTimeIn('Pacific/Pago_Pago', mondayUtc)).toEqual({ isoWeekday: 7, minuteOfDay: 1410, date: '2026-01-04' });
  });

  it('turns the Kathmandu day at 18:15 UTC because of its quarter-hour offset', () => {
    expect(localTimeIn('Asia/Kathmandu', new Date('2026-01-04T18:14:00Z'))).toEqual({
      isoWeekday: 7,
      minuteOfDay: 1439,
      date: '2026-01-04',
    });
    expect(localTimeIn('Asia/Kathmandu', new Date('2026-01-04T18:15:00Z'))).toEqual({
      isoWeekday: 1,
      minuteOfDay: 0,
      date: '2026-01-05',
    });
  });

  it('reports local midnight as minute 0, not 1440', () => {
    expect(localTimeIn('America/New_York', new Date('2026-06-01T04:00:00Z')).minuteOfDay).toBe(0);
  });

  it('jumps from 01:59 to 03:00 when New York springs forward and repeats 01:xx when it falls back', () => {
    expect(localTimeIn('America/New_York', new Date('2026-03-08T06:59:00Z')).minuteOfDay).toBe(119);
    expect(localTimeIn('America/New_York', new Date('2026-03-08T07:00:00Z')).minuteOfDay).toBe(180);
    expect(localTimeIn('America/New_York', new Date('2026-11-01T05:30:00Z')).minuteOfDay).toBe(90);
    expect(localTimeIn('America/New_York', new Date('2026-11-01T06:30:00Z')).minuteOfDay).toBe(90);
  });

  it('treats an hour printed as "24" as midnight of the printed date', () => {
    vi.spyOn(Intl.DateTimeFormat.prototype, 'formatToParts').mockReturnValueOnce([
      { type: 'month', value: '01' },
      { type: 'literal', value: '/' },
      { type: 'day', value: '06' },
      { type: 'literal', value: '/' },
      { type: 'year', value: '2026' },
      { type: 'literal', value: ', ' },
      { type: 'hour', value: '24' },
      { type: 'literal', value: ':' },
      { type: 'minute', value: '05' },
    ]);

    const local = localTimeIn('UTC', new Date('2026-01-06T00:05:00Z'));

    expect(local).toEqual({ isoWeekday: 2, minuteOfDay: 5, date: '2026-01-06' });
  });

  it('builds one formatter per zone and reuses it', () => {
    const RealDateTimeFormat = Intl.DateTimeFormat;
    const constructor = vi
      .spyOn(Intl, 'DateTimeFormat')
      .mockImplementation(function (...args: ConstructorParameters<typeof Intl.DateTimeFormat>) {
        return new RealDateTimeFormat(...args);
      } as unknown as typeof Intl.DateTimeFormat);

    localTimeIn('Africa/Abidjan', new Date('2026-01-05T10:00:00Z'));
    localTimeIn('Africa/Abidjan', new Date('2026-07-05T10:00:00Z'));

    expect(constructor).toHaveBeenCalledTimes(1);
  });

  it('refuses a zone the runtime does not know', () => {
    expect(() => localTimeIn('Mars/Olympus_Mons', new Date('2026-01-05T10:00:00Z'))).toThrow(RangeError);
  });

  it('refuses an invalid date', () => {
    expect(() => localTimeIn('UTC', new Date(Number.NaN))).toThrow(RangeError);
  });

  describe('agrees with an offset computed from the published rule', () => {
    const fixedOffsetZones = [
      ['UTC', 0],
      ['Pacific/Kiritimati', 14 * 60],
      ['Pacific/Pago_Pago', -11 * 60],
      ['Asia/Kathmandu', 5 * 60 + 45],
      ['Asia/Kolkata', 5 * 60 + 30],
    ] as const;

    it.each(fixedOffsetZones)('in %s, whose offset has been constant since 2000', (zone, offset) => {
      fc.assert(
        fc.property(instantsBetween('2000-01-01T00:00:00Z', '2099-12-31T23:59:59Z'), (at) => {
          expect(localTimeIn(zone, at)).toEqual(expectedLocalTime(at.getTime(), offset));
        }),
        { seed: 20260105, numRuns: 300 },
      );
    });

    it('in America/New_York, across the US DST rule', () => {
      fc.assert(
        fc.property(instantsBetween('2007-01-01T00:00:00Z', '2037-12-31T23:59:59Z'), (at) => {
          expect(localTimeIn('America/New_York', at)).toEqual(expectedLocalTime(at.getTime(), newYorkOffset(at.getTime())));
        }),
        { seed: 20260308, numRuns: 500 },
      );
    });

    it('in Europe/Berlin, across the EU DST rule', () => {
      fc.assert(
        fc.property(instantsBetween('2000-01-01T00:00:00Z', '2037-12-31T23:59:59Z'), (at) => {
          expect(localTimeIn('Europe/Berlin', at)).toEqual(expectedLocalTime(at.getTime(), berlinOffset(at.getTime())));
        }),
        { seed: 20260329, numRuns: 500 },
      );
    });

    it('in America/New_York and Europe/Berlin within an hour of every switch', () => {
      const switches = fc
        .tuple(fc.integer({ min: 2007, max: 2037 }), fc.constantFrom('ny-spring', 'ny-fall', 'eu-spring', 'eu-fall'))
        .map(([year, which]) => {
          const switchAt = {
            'ny-spring': sundayOf(year, 2, 2) + 7 * HOUR_MS,
            'ny-fall': sundayOf(year, 10, 1) + 6 * HOUR_MS,
            'eu-spring': sundayOf(year, 2, 'last') + HOUR_MS,
            'eu-fall': sundayOf(year, 9, 'last') + HOUR_MS,
          }[which];
          return { zone: which.startsWith('ny') ? 'America/New_York' : 'Europe/Berlin', switchAt };
        });
      fc.assert(
        fc.property(switches, fc.integer({ min: -60, max: 60 }), ({ zone, switchAt }, minutes) => {
          const epochMs = switchAt + minutes * MINUTE_MS;
          const offset = zone === 'America/New_York' ? newYorkOffset(epochMs) : berlinOffset(epochMs);
          expect(localTimeIn(zone, new Date(epochMs))).toEqual(expectedLocalTime(epochMs, offset));
        }),
        { seed: 20261101, numRuns: 500 },
      );
    });
  });
});
