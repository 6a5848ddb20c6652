import type { Random } from './random.js';

/**
 * Alert settings whose verdict the simulator knows in advance. The relay decides on the device's wall clock at the
 * moment a notification arrives (contract section 5); a run lasts seconds, so a device's work-hours window is laid
 * out around its own local "now" with at least {@link MARGIN_MINUTES} to spare on either side. Whatever the time of
 * day or the seed, an `outside-work-hours` device is then outside its window for the whole run, and the relay's
 * decisions can be checked one by one.
 *
 * This deliberately re-derives the rules from the contract instead of calling `shared/rules`: the simulator checks the
 * relay, so it must not borrow the relay's own reading of them.
 */

/** The rule the relay should name for a device's new mail (the `rule:` reasons of the decision log). */
export type AlertIntent = 'always' | 'inside-work-hours' | 'outside-work-hours' | 'non-work-day' | 'weekend-alerts';

export const ALERT_INTENTS: readonly AlertIntent[] = ['always', 'inside-work-hours', 'outside-work-hours', 'non-work-day', 'weekend-alerts'];

/** Whether an intent lets new mail through. VIP rules never do here: without organization mode nobody is a VIP. */
export const INTENT_ALERTS: Readonly<Record<AlertIntent, boolean>> = {
  always: true,
  'inside-work-hours': true,
  'outside-work-hours': false,
  'non-work-day': false,
  'weekend-alerts': true,
};

/** Distance kept between "now" and a window's edges: far longer than a run, and than a DST jump during it. */
export const MARGIN_MINUTES = 90;

const DAY_MINUTES = 24 * 60;

/** The random parts of a profile, drawn while planning so that the settings depend only on the seed and the clock. */
export interface AlertProfile {
  intent: AlertIntent;
  /** inside: minutes of window before and after now. outside: minutes from now to the window's start, and its length. */
  lead: number;
  span: number;
  /** Weekdays listed besides the ones the intent needs, as offsets from today (2..6 = the day after tomorrow ..). */
  extraDayOffsets: number[];
  /** For day-based intents: an ordinary daytime window, "HH:MM" in minutes. */
  dayStart: number;
  dayEnd: number;
  vipAfterHours: boolean;
  showDetails: boolean;
}

/** The `alerts` member of a registration or a settings patch (contract section 3). */
export interface AlertSettingsBody {
  workHoursOnly: boolean;
  workHours: { start: string; end: string; days: number[] };
  weekendAlerts: boolean;
  vipAfterHours: boolean;
  showDetails: boolean;
}

export function drawAlertProfile(random: Random, intent: AlertIntent): AlertProfile {
  const insideLead = random.int(MARGIN_MINUTES, 300);
  const outsideLead = random.int(MARGIN_MINUTES, 420);
  return {
    intent,
    lead: intent === 'inside-work-hours' ? insideLead : outsideLead,
    // outside: the window must end MARGIN_MINUTES before now comes round again.
    span: intent === 'inside-work-hours' ? random.int(MARGIN_MINUTES, 300) : random.int(240, DAY_MINUTES - 2 * MARGIN_MINUTES - 420),
    extraDayOffsets: random.shuffle([2, 3, 4, 5, 6]).slice(0, random.int(0, 4)),
    dayStart: random.int(6 * 4, 10 * 4) * 15,
    dayEnd: random.int(15 * 4, 20 * 4) * 15,
    // Suppressed profiles sometimes allow VIPs after hours: the relay must still suppress, since no sender is a VIP.
    vipAfterHours: !INTENT_ALERTS[intent] && random.chance(0.4),
    showDetails: random.chance(0.3),
  };
}

/** The device's wall clock in `timeZone` at `at`: ISO weekday (1 = Monday) and minute of the day. */
export function localClock(timeZone: string, at: Date): { weekday: number; minuteOfDay: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const weekday = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(part('weekday')) + 1;
  if (weekday === 0) throw new Error(`cannot read the weekday in ${timeZone}`);
  return { weekday, minuteOfDay: (Number(part('hour')) % 24) * 60 + Number(part('minute')) };
}

/**
 * The alert settings that make the relay decide `profile.intent` for mail arriving within {@link MARGIN_MINUTES} of
 * `at`, on the device's clock in `timeZone`.
 *
 * Window intents list today and yesterday: a window that runs past midnight belongs to the day it starts on, so with
 * both listed, "now" is inside exactly when its clock time falls in the window. Day intents leave today out and use a
 * daytime window, which cannot reach into today from yesterday.
 */
export function alertSettingsFor(profile: AlertProfile, timeZone: string, at: Date): AlertSettingsBody {
  const { weekday, minuteOfDay } = localClock(timeZone, at);
  const dayAt = (offset: number) => ((weekday - 1 + offset + 7) % 7) + 1;
  const extraDays = profile.extraDayOffsets.map(dayAt);
  const common = { vipAfterHours: profile.vipAfterHours, showDetails: profile.showDetails };
  const daytime = (days: number[]) => ({ start: clock(profile.dayStart), end: clock(profile.dayEnd), days: sortedDays(days) });
  switch (profile.intent) {
    case 'always':
      // Work hours set up but not enforced, as many users leave them.
      return { workHoursOnly: false, workHours: daytime([1, 2, 3, 4, 5]), weekendAlerts: false, ...common };
    case 'inside-work-hours':
      return {
        workHoursOnly: true,
        workHours: { start: clock(minuteOfDay - profile.lead), end: clock(minuteOfDay + profile.span), days: sortedDays([dayAt(0), dayAt(-1), ...extraDays]) },
        weekendAlerts: false,
        ...common,
      };
    case 'outside-work-hours': {
      const start = minuteOfDay + profile.lead;
      return {
        workHoursOnly: true,
        workHours: { start: clock(start), end: clock(start + profile.span), days: sortedDays([dayAt(0), dayAt(-1), ...extraDays]) },
        weekendAlerts: false,
        ...common,
      };
    }
    case 'non-work-day':
    case 'weekend-alerts': {
      // At least one listed day, never today.
      const days = extraDays.length > 0 ? extraDays : [dayAt(1)];
      return { workHoursOnly: true, workHours: daytime(days), weekendAlerts: profile.intent === 'weekend-alerts', ...common };
    }
  }
}

/** The decision-log reason the relay should give for suppressed mail of this intent, or undefined when it pushes. */
export function suppressionReason(intent: AlertIntent): string | undefined {
  return INTENT_ALERTS[intent] ? undefined : `rule:${intent}`;
}

function clock(minutes: number): string {
  const m = ((minutes % DAY_MINUTES) + DAY_MINUTES) % DAY_MINUTES;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

function sortedDays(days: number[]): number[] {
  return [...new Set(days)].sort((a, b) => a - b);
}
