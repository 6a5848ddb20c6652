import * as z from '../zod.js';
import type { AlertSettings, WorkHours } from '../device/device-schemas.js';
import { localTimeIn, type IsoWeekday, type LocalTime } from './local-time.js';

/**
 * The alert rules of contract section 5: whether a new-mail notification becomes an alert push, decided in the
 * device's time zone at the instant the notification arrived.
 */

/**
 * The rule that decided, recorded as the `reason` of the device's event log.
 * - `always`: `workHoursOnly` is off.
 * - `inside-work-hours`: the instant lies in a work-hours window.
 * - `vip-after-hours`: outside every window (or on a day not listed), but the sender is a VIP and `vipAfterHours` is on.
 * - `outside-work-hours`: a listed day, outside its window; suppressed.
 * - `weekend-alerts`: a day not listed and `weekendAlerts` is on.
 * - `non-work-day`: a day not listed; suppressed.
 */
export const alertRuleSchema = z.enum([
  'always',
  'inside-work-hours',
  'vip-after-hours',
  'outside-work-hours',
  'weekend-alerts',
  'non-work-day',
]);
export type AlertRule = z.infer<typeof alertRuleSchema>;

/** Whether to alert, and the rule that said so. */
export interface AlertDecision {
  alert: boolean;
  rule: AlertRule;
}

export interface AlertInput {
  /** The device's alert settings, already normalized by `alertSettingsSchema`. */
  alerts: AlertSettings;
  /** The device's IANA time zone (`"UTC"` when it registered none). */
  timeZone: string;
  /** When the notification arrived. */
  at: Date;
  /**
   * Whether the sender is on the organization's VIP list. Only organization mode knows senders; everywhere else
   * nobody is a VIP, hence the default `false`.
   */
  senderIsVip?: boolean;
}

function minuteOfDayOf(clock: string): number {
  // `alertSettingsSchema` guarantees "HH:MM" with HH 00..23 and MM 00..59.
  const [hours, minutes] = clock.split(':').map(Number);
  return (hours ?? 0) * 60 + (minutes ?? 0);
}

function previousWeekday(day: IsoWeekday): IsoWeekday {
  return (day === 1 ? 7 : day - 1) as IsoWeekday;
}

/**
 * True when `now` lies in the window of some listed day. The window of day D is [start, end) of D's wall clock; when
 * end < start it runs from D's start to the next day's end, still as D's window; when start == end it is all of D.
 */
function isInsideWorkHours(workHours: WorkHours, now: LocalTime): boolean {
  const start = minuteOfDayOf(workHours.start);
  const end = minuteOfDayOf(workHours.end);
  const listed = (day: IsoWeekday) => workHours.days.includes(day);
  const minute = now.minuteOfDay;
  if (start === end) {
    return listed(now.isoWeekday);
  }
  if (start < end) {
    return listed(now.isoWeekday) && minute >= start && minute < end;
  }
  // Past midnight: the evening part belongs to today's window, the early-morning part to yesterday's.
  return (listed(now.isoWeekday) && minute >= start) || (listed(previousWeekday(now.isoWeekday)) && minute < end);
}

/**
 * Decides whether a new-mail notification arriving at `at` should alert, per contract section 5:
 *
 * | `workHoursOnly` | now is | alert? |
 * |---|---|---|
 * | false | any time | yes (`always`) |
 * | true | inside a window | yes (`inside-work-hours`) |
 * | true | a listed day, outside every window | only a VIP when `vipAfterHours` (`vip-after-hours`, else `outside-work-hours`) |
 * | true | a day not listed, outside every window | yes if `weekendAlerts` (`weekend-alerts`), else only a VIP when `vipAfterHours` (`vip-after-hours`, else `non-work-day`) |
 *
 * How windows are read:
 * - Times are the wall clock of `timeZone` at the instant `at`; the instant is converted, so a DST switch moves no
 *   window. In a skipped hour no instant shows those minutes, so a window starting there opens at the first minute
 *   after the switch (one lying wholly inside the skipped hour does not open that day); in a repeated hour both
 *   passes are evaluated by their (equal) wall-clock minutes, so a window covering it lasts an hour longer.
 * - A window includes its start minute and excludes its end minute. `start` equal to `end` is the whole listed day,
 *   00:00 to 24:00.
 * - A window whose end is before its start runs past midnight and belongs to the day it starts on. With
 *   `days: [5]` and 22:00-06:00, Saturday 02:00 is inside Friday's window (a listed day, inside: alert) while
 *   Saturday 07:00 is a day not listed. With `days: [1..5]`, Monday 02:00 is inside no window (Sunday is not listed and
 *   Monday's own window opens at 22:00), so it counts as a listed day outside the window.
 * - With an empty `days` list no day is listed: `weekendAlerts` and the VIP rule decide at every hour.
 *
 * @throws RangeError when the runtime does not know `timeZone`.
 */
export function decideAlert(input: AlertInput): AlertDecision {
  const { alerts, timeZone, at, senderIsVip = false } = input;
  if (!alerts.workHoursOnly) {
    return { alert: true, rule: 'always' };
  }
  const now = localTimeIn(timeZone, at);
  if (isInsideWorkHours(alerts.workHours, now)) {
    return { alert: true, rule: 'inside-work-hours' };
  }
  const vipLetThrough = senderIsVip && alerts.vipAfterHours;
  if (alerts.workHours.days.includes(now.isoWeekday)) {
    return vipLetThrough ? { alert: true, rule: 'vip-after-hours' } : { alert: false, rule: 'outside-work-hours' };
  }
  if (alerts.weekendAlerts) {
    return { alert: true, rule: 'weekend-alerts' };
  }
  return vipLetThrough ? { alert: true, rule: 'vip-after-hours' } : { alert: false, rule: 'non-work-day' };
}
