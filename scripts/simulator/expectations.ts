import { decodePush } from '../../shared/client/index.js';
import type { ObservedPush } from './relay-target.js';
import { NOTIFICATION_KINDS, type DecisionOutcomeName, type DeviceRun, type Expectation, type MailboxRun, type SimulationReport } from './report.js';

/**
 * The simulation's own expectations, from the contract (sections 4 to 6): each compares what the played Exchange and
 * the devices did with what the relay answered, logged and pushed, and names where it went wrong when it did.
 */

export const EXPECTATIONS = {
  answered: 'every callback answered 200 with a SendNotificationResult',
  currentOk: 'every notification on a current subscription answered OK',
  supersededUnsubscribe: 'every superseded notification answered Unsubscribe',
  retriesDuplicate: 'every exact retry decided duplicate (none pushed again)',
  rules: "every new mail pushed or suppressed as its device's settings say",
  settingsNow: 'every settings change applies now (client) and governed the next mail (relay)',
  settled: 'the relay decided every accepted notification',
  noPushWithoutMail: 'no alert push without new mail; every mail let through announced once',
  apnsAccepted: 'APNs accepted every push',
  graphAccepted: 'every Graph notification and lifecycle event answered 202',
  graphValidated: "Graph validated every relay URL (the exact token echoed)",
  migratedUnsubscribe: 'every EWS leftover of a mailbox moved to Graph answered Unsubscribe (no alert twice)',
  lifecyclePushed: 'every lifecycle event led to its push (reauthorize, resubscribe or sync)',
} as const;

export interface CheckInput {
  report: SimulationReport;
  devices: DeviceRun[];
  events: Array<{ device: DeviceRun; events: Array<{ mailbox: string; outcome: DecisionOutcomeName; reason: string }> }>;
  /** Undefined when the relay's pushes are not visible (a real APNs server). */
  pushes: ObservedPush[] | undefined;
  /** Per settings change, `now` when the client said every change applies now. */
  settingsAnswers: string[];
  /** Devices whose decisions did not all arrive, by round. */
  unsettled: string[];
}

export function checkExpectations(input: CheckInput): Expectation[] {
  const decisions = checkDecisions(input);
  const now = input.settingsAnswers.filter((a) => a === 'now').length;
  return [
    ...checkAnswers(input.report),
    decisions.retries,
    decisions.rules,
    expectation(EXPECTATIONS.settingsNow, now === input.settingsAnswers.length && decisions.rules.ok === true, `${now}/${input.settingsAnswers.length} now`),
    expectation(EXPECTATIONS.settled, input.unsettled.length === 0, input.unsettled.length === 0 ? 'all rounds settled' : examples(input.unsettled)),
    ...checkPushes(input),
    ...checkGraph(input),
  ];
}

/** Contract section 7: the Graph side. */
function checkGraph({ report, events, devices }: CheckInput): Expectation[] {
  const g = report.graph;
  const sent = Object.values(g.notifications).reduce((sum, t) => sum + t.sent, 0);
  const accepted = Object.values(g.notifications).reduce((sum, t) => sum + t.accepted, 0);
  const { migrated } = report.notifications;
  const lifecycleAccepted = devices.reduce((sum, d) => sum + [...d.mailboxes.values()].reduce((n, m) => n + m.lifecycleAccepted, 0), 0);
  const requested = events.flatMap((e) => e.events).filter((e) => e.reason.startsWith('lifecycle:') && e.outcome.endsWith('-requested')).length;
  const lifecyclePushes = report.apns.visible ? report.apns.reauthorizeRequests + report.apns.syncRequests : undefined;
  return [
    expectation(EXPECTATIONS.graphAccepted, sent > 0 && accepted === sent, `${accepted}/${sent}`),
    expectation(EXPECTATIONS.graphValidated, g.validations.sent > 0 && g.validations.echoed === g.validations.sent, `${g.validations.echoed}/${g.validations.sent}`),
    g.migrated > 0
      ? expectation(EXPECTATIONS.migratedUnsubscribe, migrated.sent > 0 && migrated.unsubscribe === migrated.sent, `${migrated.unsubscribe}/${migrated.sent}`)
      : { name: EXPECTATIONS.migratedUnsubscribe, ok: undefined, detail: 'no mailbox moved in this run' },
    expectation(
      EXPECTATIONS.lifecyclePushed,
      requested === lifecycleAccepted,
      `${requested}/${lifecycleAccepted} decided${lifecyclePushes === undefined ? '' : `, ${lifecyclePushes} reauthorize/sync pushes seen`}`,
    ),
  ];
}

/** Contract section 4: the callback's answers. */
function checkAnswers(report: SimulationReport): Expectation[] {
  const n = report.notifications;
  const sum = (kinds: typeof NOTIFICATION_KINDS, field: 'sent' | 'ok' | 'errors') => kinds.reduce((total, kind) => total + n[kind][field], 0);
  const current = NOTIFICATION_KINDS.filter((kind) => kind !== 'superseded' && kind !== 'migrated');
  const sent = sum(NOTIFICATION_KINDS, 'sent');
  const errors = sum(NOTIFICATION_KINDS, 'errors');
  const { superseded } = n;
  return [
    expectation(EXPECTATIONS.answered, errors === 0, `${sent - errors}/${sent}`),
    expectation(EXPECTATIONS.currentOk, sum(current, 'ok') === sum(current, 'sent'), `${sum(current, 'ok')}/${sum(current, 'sent')}`),
    expectation(EXPECTATIONS.supersededUnsubscribe, superseded.sent > 0 && superseded.unsubscribe === superseded.sent, `${superseded.unsubscribe}/${superseded.sent}`),
  ];
}

/** Contract sections 4 and 5, per mailbox: a duplicate for each retry, and each new mail decided by its rule. */
function checkDecisions({ events }: CheckInput): { retries: Expectation; rules: Expectation } {
  const wrongDuplicates: string[] = [];
  const wrongRules: string[] = [];
  let duplicates = 0;
  let retries = 0;
  let decided = 0;
  let accepted = 0;
  for (const { device, events: log } of events) {
    for (const mailbox of device.mailboxes.values()) {
      const { expected } = mailbox;
      const where = `${device.plan.name}/${mailbox.plan.id}`;
      const mine = log.filter((e) => e.mailbox === mailbox.plan.id);

      const gotDuplicates = mine.filter((e) => e.outcome === 'duplicate').length;
      duplicates += gotDuplicates;
      retries += expected.duplicates;
      if (gotDuplicates !== expected.duplicates) wrongDuplicates.push(`${where}: ${gotDuplicates} duplicates for ${expected.duplicates} retries`);

      const pushed = mine.filter((e) => e.outcome === 'pushed').length;
      const suppressed = countBy(mine.filter((e) => e.outcome === 'suppressed').map((e) => e.reason));
      const expectedSuppressed = [...expected.suppressed.values()].reduce((a, b) => a + b, 0);
      accepted += expected.alertNotifications + expectedSuppressed;
      if (pushed === expected.alertNotifications && sameCounts(suppressed, expected.suppressed)) {
        decided += pushed + expectedSuppressed;
      } else {
        wrongRules.push(
          `${where}: pushed ${pushed}, suppressed ${describeCounts(suppressed)}; ` +
            `expected pushed ${expected.alertNotifications}, suppressed ${describeCounts(expected.suppressed)}`,
        );
      }
    }
  }
  return {
    retries: expectation(
      EXPECTATIONS.retriesDuplicate,
      retries > 0 && wrongDuplicates.length === 0,
      wrongDuplicates.length === 0 ? `${duplicates}/${retries}` : examples(wrongDuplicates),
    ),
    rules: expectation(EXPECTATIONS.rules, wrongRules.length === 0, wrongRules.length === 0 ? `${decided}/${accepted}` : examples(wrongRules)),
  };
}

/** Contract section 6: what reached APNs. */
function checkPushes({ report, devices, pushes }: CheckInput): Expectation[] {
  if (!pushes) {
    const why = 'pushes go to an external APNs server (APNS_URL); not visible';
    return [
      { name: EXPECTATIONS.noPushWithoutMail, ok: undefined, detail: why },
      { name: EXPECTATIONS.apnsAccepted, ok: undefined, detail: why },
    ];
  }
  const byToken = new Map(devices.map((d) => [d.plan.pushToken.toLowerCase(), d]));
  const perMailbox = new Map<MailboxRun, { pushes: number; newMessages: number }>();
  const strays: string[] = [];
  for (const push of pushes.filter((p) => p.status === 200)) {
    const instruction = decodePush(push.payload);
    if (instruction.type !== 'sync-mailbox') continue;
    const mailbox = byToken.get(push.token.toLowerCase())?.mailboxes.get(instruction.mailboxId);
    if (!mailbox) {
      strays.push(`an alert for unknown mailbox ${instruction.mailboxId}`);
      continue;
    }
    const seen = perMailbox.get(mailbox) ?? { pushes: 0, newMessages: 0 };
    seen.pushes += 1;
    seen.newMessages += instruction.newMessages;
    perMailbox.set(mailbox, seen);
  }
  let announced = 0;
  let letThrough = 0;
  for (const device of devices) {
    for (const mailbox of device.mailboxes.values()) {
      const seen = perMailbox.get(mailbox) ?? { pushes: 0, newMessages: 0 };
      const { alertNotifications, alertItems } = mailbox.expected;
      const where = `${device.plan.name}/${mailbox.plan.id}`;
      announced += seen.newMessages;
      letThrough += alertItems;
      // Coalescing may fold notifications into one alert; it may never add one, nor count mail that was not let through.
      if (seen.pushes > alertNotifications) strays.push(`${where}: ${seen.pushes} alerts for ${alertNotifications} notifications let through`);
      if (seen.newMessages !== alertItems) strays.push(`${where}: ${seen.newMessages} new messages announced for ${alertItems} let through`);
    }
  }
  const accepted = pushes.length - report.apns.refused;
  return [
    expectation(EXPECTATIONS.noPushWithoutMail, strays.length === 0, strays.length === 0 ? `${announced}/${letThrough} new messages` : examples(strays)),
    expectation(EXPECTATIONS.apnsAccepted, report.apns.refused === 0, `${accepted}/${pushes.length}`),
  ];
}

function expectation(name: string, ok: boolean, detail: string): Expectation {
  return { name, ok, detail };
}

function countBy(values: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}

function sameCounts(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  return a.size === b.size && [...a].every(([key, count]) => b.get(key) === count);
}

function describeCounts(counts: ReadonlyMap<string, number>): string {
  return counts.size === 0 ? 'none' : [...counts].map(([reason, c]) => `${c} ${reason}`).join(', ');
}

function examples(problems: string[]): string {
  return problems.length <= 3 ? problems.join('; ') : `${problems.slice(0, 3).join('; ')}; and ${problems.length - 3} more`;
}
