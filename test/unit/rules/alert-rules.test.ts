import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alertSettingsSchema, deviceSettingsSchema, type AlertSettings } from '../../../shared/device/device-schemas.js';
import { decideAlert, type AlertDecision } from '../../../shared/rules/alert-rules.js';

const MINUTE_MS = 60_000;

/** Alert settings with work hours on, from the same schema the device API parses with. */
function workHours(
  window: { start?: string; end?: string; days?: number[] } = {},
  flags: { weekendAlerts?: boolean; vipAfterHours?: boolean } = {},
): AlertSettings {
  return alertSettingsSchema.parse({ workHoursOnly: true, workHours: window, ...flags });
}

// The week of 2026-01-05 (Monday) .. 2026-01-11 (Sunday), read in UTC.
const at = (iso: string) => new Date(`${iso}Z`);
const MONDAY = '2026-01-05';
const TUESDAY = '2026-01-06';
const FRIDAY = '2026-01-09';
const SATURDAY = '2026-01-10';
const SUNDAY = '2026-01-11';

const ALERT_INSIDE: AlertDecision = { alert: true, rule: 'inside-work-hours' };
const SUPPRESS_OUTSIDE: AlertDecision = { alert: false, rule: 'outside-work-hours' };
const SUPPRESS_NON_WORK_DAY: AlertDecision = { alert: false, rule: 'non-work-day' };
const ALERT_VIP: AlertDecision = { alert: true, rule: 'vip-after-hours' };
const ALERT_WEEKEND: AlertDecision = { alert: true, rule: 'weekend-alerts' };

describe('decideAlert, contract section 5 row by row', () => {
  it('alerts at any time when workHoursOnly is off, whatever the window says', () => {
    const alerts = alertSettingsSchema.parse({ workHoursOnly: false, workHours: { days: [] } });

    const decision = decideAlert({ alerts, timeZone: 'UTC', at: at(`${SUNDAY}T03:00`) });

    expect(decision).toEqual({ alert: true, rule: 'always' });
  });

  it('alerts on a listed day inside the window', () => {
    expect(decideAlert({ alerts: workHours(), timeZone: 'UTC', at: at(`${MONDAY}T10:00`) })).toEqual(ALERT_INSIDE);
  });

  it.each([
    { case: 'nobody is a VIP without organization mode', vipAfterHours: true, senderIsVip: undefined, expected: SUPPRESS_OUTSIDE },
    { case: 'a non-VIP sender', vipAfterHours: true, senderIsVip: false, expected: SUPPRESS_OUTSIDE },
    { case: 'a VIP sender while vipAfterHours is off', vipAfterHours: false, senderIsVip: true, expected: SUPPRESS_OUTSIDE },
    { case: 'a VIP sender while vipAfterHours is on', vipAfterHours: true, senderIsVip: true, expected: ALERT_VIP },
  ])('on a listed day outside the window decides $expected.rule for $case', ({ vipAfterHours, senderIsVip, expected }) => {
    const alerts = workHours({}, { vipAfterHours });

    const decision = decideAlert({ alerts, timeZone: 'UTC', at: at(`${MONDAY}T19:00`), senderIsVip });

    expect(decision).toEqual(expected);
  });

  it.each([
    { case: 'weekendAlerts on', weekendAlerts: true, vipAfterHours: false, senderIsVip: false, expected: ALERT_WEEKEND },
    { case: 'weekendAlerts on, VIP', weekendAlerts: true, vipAfterHours: true, senderIsVip: true, expected: ALERT_WEEKEND },
    { case: 'weekendAlerts off', weekendAlerts: false, vipAfterHours: false, senderIsVip: false, expected: SUPPRESS_NON_WORK_DAY },
    { case: 'weekendAlerts off, non-VIP', weekendAlerts: false, vipAfterHours: true, senderIsVip: false, expected: SUPPRESS_NON_WORK_DAY },
    { case: 'weekendAlerts off, VIP without vipAfterHours', weekendAlerts: false, vipAfterHours: false, senderIsVip: true, expected: SUPPRESS_NON_WORK_DAY },
    { case: 'weekendAlerts off, VIP with vipAfterHours', weekendAlerts: false, vipAfterHours: true, senderIsVip: true, expected: ALERT_VIP },
  ])('on a day not listed decides $expected.rule with $case', ({ weekendAlerts, vipAfterHours, senderIsVip, expected }) => {
    const alerts = workHours({}, { weekendAlerts, vipAfterHours });

    const decision = decideAlert({ alerts, timeZone: 'UTC', at: at(`${SATURDAY}T10:00`), senderIsVip });

    expect(decision).toEqual(expected);
  });

  it('treats a day not listed the same at an hour that would be inside the window on a listed day', () => {
    const alerts = workHours({ start: '09:00', end: '18:00', days: [1, 2, 3, 4, 5] });

    expect(decideAlert({ alerts, timeZone: 'UTC', at: at(`${SUNDAY}T12:00`) })).toEqual(SUPPRESS_NON_WORK_DAY);
  });
});

describe('decideAlert, window edges', () => {
  const alerts = workHours({ start: '09:00', end: '18:00', days: [1] });

  it.each([
    ['08:59:59.999', SUPPRESS_OUTSIDE],
    ['09:00:00.000', ALERT_INSIDE],
    ['17:59:59.999', ALERT_INSIDE],
    ['18:00:00.000', SUPPRESS_OUTSIDE],
  ])('at Monday %s includes the start minute and excludes the end minute', (time, expected) => {
    expect(decideAlert({ alerts, timeZone: 'UTC', at: at(`${MONDAY}T${time}`) })).toEqual(expected);
  });

  it.each(['00:00', '09:00', '23:30'])('reads start == end == %s as the whole listed day', (clock) => {
    const wholeMonday = workHours({ start: clock, end: clock, days: [1] });

    expect(decideAlert({ alerts: wholeMonday, timeZone: 'UTC', at: at(`${MONDAY}T00:00`) })).toEqual(ALERT_INSIDE);
    expect(decideAlert({ alerts: wholeMonday, timeZone: 'UTC', at: at(`${MONDAY}T23:59`) })).toEqual(ALERT_INSIDE);
    expect(decideAlert({ alerts: wholeMonday, timeZone: 'UTC', at: at(`${TUESDAY}T00:00`) })).toEqual(SUPPRESS_NON_WORK_DAY);
    expect(decideAlert({ alerts: wholeMonday, timeZone: 'UTC', at: at(`${SUNDAY}T23:59`) })).toEqual(SUPPRESS_NON_WORK_DAY);
  });

  it('lists no day when days is empty, so weekendAlerts and the VIP rule decide at every hour', () => {
    const noDays = workHours({ start: '00:00', end: '00:00', days: [] });
    const noDaysWeekendAlerts = workHours({ days: [] }, { weekendAlerts: true });
    const noDaysVip = workHours({ days: [] }, { vipAfterHours: true });

    expect(decideAlert({ alerts: noDays, timeZone: 'UTC', at: at(`${MONDAY}T10:00`) })).toEqual(SUPPRESS_NON_WORK_DAY);
    expect(decideAlert({ alerts: noDaysWeekendAlerts, timeZone: 'UTC', at: at(`${MONDAY}T10:00`) })).toEqual(ALERT_WEEKEND);
    expect(decideAlert({ alerts: noDaysVip, timeZone: 'UTC', at: at(`${MONDAY}T10:00`), senderIsVip: true })).toEqual(ALERT_VIP);
  });

  it('evaluates in UTC for a device that registered no time zone', () => {
    const settings = deviceSettingsSchema.parse({ alerts: { workHoursOnly: true } });

    const before = decideAlert({ alerts: settings.alerts, timeZone: settings.timeZone, at: at(`${MONDAY}T08:59`) });
    const after = decideAlert({ alerts: settings.alerts, timeZone: settings.timeZone, at: at(`${MONDAY}T09:00`) });

    expect([before, after]).toEqual([SUPPRESS_OUTSIDE, ALERT_INSIDE]);
  });

  it('refuses a time zone the runtime does not know rather than guessing one', () => {
    expect(() => decideAlert({ alerts: workHours(), timeZone: 'Nowhere/Null_Island', at: at(`${MONDAY}T10:00`) })).toThrow(
      RangeError,
    );
  });
});

describe('decideAlert, windows past midnight belong to the day they start on', () => {
  const fridayNight = workHours({ start: '22:00', end: '06:00', days: [5] });
  const weeknights = workHours({ start: '22:00', end: '06:00', days: [1, 2, 3, 4, 5] });

  it.each([
    [`${FRIDAY}T21:59`, 'Friday 21:59, before it opens', SUPPRESS_OUTSIDE],
    [`${FRIDAY}T22:00`, 'Friday 22:00, its start', ALERT_INSIDE],
    [`${FRIDAY}T23:59`, 'Friday 23:59', ALERT_INSIDE],
    [`${SATURDAY}T00:00`, 'Saturday 00:00', ALERT_INSIDE],
    [`${SATURDAY}T02:00`, 'Saturday 02:00, though Saturday is not listed', ALERT_INSIDE],
    [`${SATURDAY}T05:59`, 'Saturday 05:59', ALERT_INSIDE],
    [`${SATURDAY}T06:00`, 'Saturday 06:00, its end', SUPPRESS_NON_WORK_DAY],
    [`${SATURDAY}T07:00`, 'Saturday 07:00', SUPPRESS_NON_WORK_DAY],
    [`${FRIDAY}T02:00`, 'Friday 02:00, in the window Thursday would have started', SUPPRESS_OUTSIDE],
  ])('Friday 22:00-06:00 at %s (%s)', (iso, _label, expected) => {
    expect(decideAlert({ alerts: fridayNight, timeZone: 'UTC', at: at(iso) })).toEqual(expected);
  });

  it('alerts at Saturday 07:00 only as a day not listed when weekendAlerts is on', () => {
    const withWeekendAlerts = workHours({ start: '22:00', end: '06:00', days: [5] }, { weekendAlerts: true });

    expect(decideAlert({ alerts: withWeekendAlerts, timeZone: 'UTC', at: at(`${SATURDAY}T07:00`) })).toEqual(ALERT_WEEKEND);
  });

  it('puts Monday 02:00 outside the window because Sunday, which would have started it, is not listed', () => {
    expect(decideAlert({ alerts: weeknights, timeZone: 'UTC', at: at(`${MONDAY}T02:00`) })).toEqual(SUPPRESS_OUTSIDE);
  });

  it('puts Tuesday 02:00 inside the window Monday started', () => {
    expect(decideAlert({ alerts: weeknights, timeZone: 'UTC', at: at(`${TUESDAY}T02:00`) })).toEqual(ALERT_INSIDE);
  });

  it('wraps from Sunday to Monday: a Sunday night window covers Monday 02:00', () => {
    const sundayNight = workHours({ start: '22:00', end: '06:00', days: [7] });

    expect(decideAlert({ alerts: sundayNight, timeZone: 'UTC', at: at(`${MONDAY}T02:00`) })).toEqual(ALERT_INSIDE);
    expect(decideAlert({ alerts: sundayNight, timeZone: 'UTC', at: at(`${MONDAY}T06:00`) })).toEqual(SUPPRESS_NON_WORK_DAY);
  });

  it('agrees with "start <= minute < end on a listed day" for windows that do not cross midnight', () => {
    const clock = fc.integer({ min: 0, max: 1439 });
    const toClock = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
    fc.assert(
      fc.property(
        clock,
        clock,
        fc.subarray([1, 2, 3, 4, 5, 6, 7]),
        fc.integer({ min: Date.parse('2026-01-01T00:00:00Z'), max: Date.parse('2026-12-31T23:59:00Z') }),
        (a, b, days, epochMs) => {
          fc.pre(a !== b);
          const [start, end] = a < b ? [a, b] : [b, a];
          const instant = new Date(Math.floor(epochMs / MINUTE_MS) * MINUTE_MS);
          const minute = instant.getUTCHours() * 60 + instant.getUTCMinutes();
          const weekday = instant.getUTCDay() === 0 ? 7 : instant.getUTCDay();
          const expectedInside = days.includes(weekday) && minute >= start && minute < end;

          const decision = decideAlert({
            alerts: workHours({ start: toClock(start), end: toClock(end), days }),
            timeZone: 'UTC',
            at: instant,
          });

          expect(decision.rule === 'inside-work-hours').toBe(expectedInside);
        },
      ),
      { seed: 20260109, numRuns: 500 },
    );
  });
});

describe('decideAlert across DST switches', () => {
  const everyDay = [1, 2, 3, 4, 5, 6, 7];

  /** Every minute of one local day, as instants. */
  function minutesOf(fromUtc: string, toUtc: string): Date[] {
    const minutes: Date[] = [];
    for (let t = Date.parse(fromUtc); t < Date.parse(toUtc); t += MINUTE_MS) minutes.push(new Date(t));
    return minutes;
  }

  it.each([
    // America/New_York springs forward on Sunday 2026-03-08 (EST -5 to EDT -4).
    ['America/New_York', '2026-03-07T13:59:00Z', '2026-03-07T14:00:00Z'],
    ['America/New_York', '2026-03-08T12:59:00Z', '2026-03-08T13:00:00Z'],
    ['America/New_York', '2026-03-09T12:59:00Z', '2026-03-09T13:00:00Z'],
    // and falls back on Sunday 2026-11-01 (EDT -4 to EST -5).
    ['America/New_York', '2026-10-31T12:59:00Z', '2026-10-31T13:00:00Z'],
    ['America/New_York', '2026-11-01T13:59:00Z', '2026-11-01T14:00:00Z'],
    // Europe/Berlin springs forward on Sunday 2026-03-29 (CET +1 to CEST +2) and falls back on Sunday 2026-10-25.
    ['Europe/Berlin', '2026-03-28T07:59:00Z', '2026-03-28T08:00:00Z'],
    ['Europe/Berlin', '2026-03-29T06:59:00Z', '2026-03-29T07:00:00Z'],
    ['Europe/Berlin', '2026-10-24T06:59:00Z', '2026-10-24T07:00:00Z'],
    ['Europe/Berlin', '2026-10-25T07:59:00Z', '2026-10-25T08:00:00Z'],
  ])('opens a 09:00 window in %s at local 09:00 (%s is 08:59, %s is 09:00)', (timeZone, lastMinuteBefore, opening) => {
    const alerts = workHours({ start: '09:00', end: '17:00', days: everyDay });

    expect(decideAlert({ alerts, timeZone, at: new Date(lastMinuteBefore) })).toEqual(SUPPRESS_OUTSIDE);
    expect(decideAlert({ alerts, timeZone, at: new Date(opening) })).toEqual(ALERT_INSIDE);
  });

  it('opens a window that starts in the skipped hour at the first minute after the switch', () => {
    const alerts = workHours({ start: '02:30', end: '04:00', days: everyDay });

    // 06:59Z is 01:59 EST, 07:00Z is 03:00 EDT.
    expect(decideAlert({ alerts, timeZone: 'America/New_York', at: new Date('2026-03-08T06:59:00Z') })).toEqual(SUPPRESS_OUTSIDE);
    expect(decideAlert({ alerts, timeZone: 'America/New_York', at: new Date('2026-03-08T07:00:00Z') })).toEqual(ALERT_INSIDE);
  });

  it('never opens, that day, a window lying wholly in the skipped hour', () => {
    const alerts = workHours({ start: '02:00', end: '02:45', days: everyDay });
    // 2026-03-08 in New York runs from 05:00Z to 04:00Z the next day (23 hours).
    const day = minutesOf('2026-03-08T05:00:00Z', '2026-03-09T04:00:00Z');

    const inside = day.filter((instant) => decideAlert({ alerts, timeZone: 'America/New_York', at: instant }).alert);

    expect(day).toHaveLength(23 * 60);
    expect(inside).toEqual([]);
  });

  it('keeps a window in the repeated hour open for both passes of it', () => {
    const alerts = workHours({ start: '01:00', end: '02:00', days: everyDay });
    // 2026-11-01 in New York runs from 04:00Z to 05:00Z the next day (25 hours); 01:xx happens at 05:xxZ and 06:xxZ.
    const day = minutesOf('2026-11-01T04:00:00Z', '2026-11-02T05:00:00Z');

    const inside = day.filter((instant) => decideAlert({ alerts, timeZone: 'America/New_York', at: instant }).alert);

    expect(inside).toHaveLength(120);
    expect(inside[0]).toEqual(new Date('2026-11-01T05:00:00Z'));
    expect(inside.at(-1)).toEqual(new Date('2026-11-01T06:59:00Z'));
  });

  it('closes a window past midnight at local 06:00 on the morning the clocks spring forward', () => {
    const saturdayNight = workHours({ start: '22:00', end: '06:00', days: [6] });

    // Saturday 2026-03-07 22:00 EST is 03:00Z; Sunday 05:59 EDT is 09:59Z.
    expect(decideAlert({ alerts: saturdayNight, timeZone: 'America/New_York', at: new Date('2026-03-08T03:00:00Z') })).toEqual(
      ALERT_INSIDE,
    );
    expect(decideAlert({ alerts: saturdayNight, timeZone: 'America/New_York', at: new Date('2026-03-08T09:59:00Z') })).toEqual(
      ALERT_INSIDE,
    );
    expect(decideAlert({ alerts: saturdayNight, timeZone: 'America/New_York', at: new Date('2026-03-08T10:00:00Z') })).toEqual(
      SUPPRESS_NON_WORK_DAY,
    );
  });
});

describe('decideAlert in far zones', () => {
  // Monday 2026-01-05 10:30 UTC is Tuesday 00:30 in Kiritimati (+14), Sunday 23:30 in Pago Pago (-11) and Monday 16:15
  // in Kathmandu (+5:45).
  const mondayUtc = new Date('2026-01-05T10:30:00Z');
  const wholeMonday = workHours({ start: '00:00', end: '00:00', days: [1] });

  it.each([
    ['UTC', ALERT_INSIDE],
    ['Asia/Kathmandu', ALERT_INSIDE],
    ['Pacific/Kiritimati', SUPPRESS_NON_WORK_DAY],
    ['Pacific/Pago_Pago', SUPPRESS_NON_WORK_DAY],
  ])('decides by the weekday in %s', (timeZone, expected) => {
    expect(decideAlert({ alerts: wholeMonday, timeZone, at: mondayUtc })).toEqual(expected);
  });

  it('starts Monday in Kathmandu at 18:15 UTC on Sunday', () => {
    expect(decideAlert({ alerts: wholeMonday, timeZone: 'Asia/Kathmandu', at: new Date('2026-01-04T18:14:00Z') })).toEqual(
      SUPPRESS_NON_WORK_DAY,
    );
    expect(decideAlert({ alerts: wholeMonday, timeZone: 'Asia/Kathmandu', at: new Date('2026-01-04T18:15:00Z') })).toEqual(
      ALERT_INSIDE,
    );
  });

  it('reads a 09:00-17:00 window on the local clock of Kiritimati and Pago Pago', () => {
    const weekdays = workHours({ start: '09:00', end: '17:00', days: [1, 2, 3, 4, 5] });

    // Monday 09:00 in Kiritimati is Sunday 19:00 UTC; Monday 09:00 in Pago Pago is Monday 20:00 UTC.
    expect(decideAlert({ alerts: weekdays, timeZone: 'Pacific/Kiritimati', at: new Date('2026-01-04T19:00:00Z') })).toEqual(
      ALERT_INSIDE,
    );
    expect(decideAlert({ alerts: weekdays, timeZone: 'Pacific/Pago_Pago', at: new Date('2026-01-05T19:59:00Z') })).toEqual(
      SUPPRESS_OUTSIDE,
    );
    expect(decideAlert({ alerts: weekdays, timeZone: 'Pacific/Pago_Pago', at: new Date('2026-01-05T20:00:00Z') })).toEqual(
      ALERT_INSIDE,
    );
  });
});
