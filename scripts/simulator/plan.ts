import { ALERT_INTENTS, INTENT_ALERTS, drawAlertProfile, type AlertIntent, type AlertProfile } from './alert-profiles.js';
import { seededRandom, type Random } from './random.js';

/**
 * Everything the simulation will do, decided up front from the seed: the devices, their mailboxes and settings, and
 * what Exchange sends to each mailbox in each round. Running the plan involves concurrency and a real clock; drawing
 * it does not, which is what makes a seed replay the same run.
 */

/** One POST that Exchange makes to a mailbox's callback URL. */
export type PlannedSend =
  /** A StatusEvent heartbeat on the current subscription. */
  | { kind: 'heartbeat' }
  /** New mail on the current subscription, one NewMailEvent per item; `sameItemsAsSuperseded` repeats the items the old subscription just reported. */
  | { kind: 'new-mail'; items: number; sameItemsAsSuperseded?: boolean }
  /** The exact body of this mailbox's last new-mail notification from an earlier round, again. */
  | { kind: 'retry' }
  /** A notification on the subscription the device has just replaced. */
  | { kind: 'superseded'; carries: 'new-mail' | 'heartbeat'; items: number };

export interface PlannedRound {
  /** The device renews this mailbox's subscription before the round's traffic. */
  resubscribe: boolean;
  /** In order. */
  sends: PlannedSend[];
}

export interface PlannedMailbox {
  /** The id the device registers it under. */
  id: string;
  kind: 'primary' | 'delegated';
  /** Its SMTP address at Exchange. */
  address: string;
  /** A delegated mailbox the user adds after registering (`addDelegatedMailbox`) rather than with the registration. */
  addedAfterRegistration: boolean;
  /** Exchange answers its first Subscribe with ErrorServerBusy. */
  busyOnFirstSubscribe: boolean;
  /**
   * How the device subscribes first: EWS push (on-premises Exchange), or Microsoft Graph (Exchange Online; primary
   * mailboxes only, since delegated permissions cannot subscribe to another user's mailbox).
   */
  protocol: 'ews' | 'graph';
  /** An EWS mailbox the device moves to Graph before this round (its Exchange moved to Exchange Online). */
  migratesToGraphBeforeRound?: number;
  /** The Graph lifecycle event Graph sends after the last round (Graph mailboxes, some of them). */
  lifecycleEvent?: 'missed' | 'reauthorizationRequired' | 'subscriptionRemoved';
  rounds: PlannedRound[];
}

export interface PlannedDevice {
  name: string;
  pushToken: string;
  apnsEnvironment: 'production' | 'sandbox';
  timeZone: string;
  profile: AlertProfile;
  mailboxes: PlannedMailbox[];
  /** A settings change (alert settings, sometimes the time zone) made before the last round. */
  settingsChange?: { profile: AlertProfile; timeZone?: string };
}

export interface SimulationPlan {
  seed: number;
  devices: PlannedDevice[];
}

/** The rounds of traffic, in order; settings change between the second and the third. */
export const ROUNDS = ['first mail', 'retries and more mail', 'settings changed, resubscriptions'] as const;
export const SETTINGS_CHANGE_BEFORE_ROUND = 2;

const TIME_ZONES = [
  'UTC',
  'Europe/London',
  'Europe/Berlin',
  'Europe/Helsinki',
  'America/New_York',
  'America/Chicago',
  'America/Los_Angeles',
  'America/Sao_Paulo',
  'America/St_Johns',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Asia/Tokyo',
  'Australia/Sydney',
  'Pacific/Auckland',
];

const SHARED_MAILBOXES = ['sales', 'support', 'billing', 'ceo-office', 'hr', 'it-helpdesk'];

/** Shares of the traffic features, each with at least one instance so that a small run still shows them all. */
const SHARE = {
  busySubscribe: 0.05,
  retryInSecondRound: 0.35,
  retryInThirdRound: 0.15,
  resubscribe: 0.25,
  settingsChange: 0.2,
  /** Primary mailboxes on Exchange Online (Graph) from the start, and EWS primaries that move there mid-run. */
  graph: 0.35,
  migrate: 0.2,
  lifecycle: 0.5,
};

/** Graph moves mailboxes before the second round, so that retries and resubscriptions after the move are played too. */
export const MIGRATION_BEFORE_ROUND = 1;

export function planSimulation(seed: number, deviceCount: number): SimulationPlan {
  if (!Number.isInteger(deviceCount) || deviceCount < 1) throw new RangeError('the simulation needs at least one device');
  const random = seededRandom(seed);
  const intents = drawIntents(random, deviceCount);

  const devices: PlannedDevice[] = intents.map((intent, index) => {
    const number = String(index + 1).padStart(3, '0');
    const delegated = random.shuffle(SHARED_MAILBOXES).slice(0, random.pick([0, 0, 0, 0, 0, 1, 1, 1, 2, 2]));
    const mailboxes: PlannedMailbox[] = [
      { id: 'me', kind: 'primary', address: `user${number}@contoso.example`, addedAfterRegistration: false, busyOnFirstSubscribe: false, protocol: 'ews', rounds: [] },
      ...delegated.map((name) => ({
        id: name,
        kind: 'delegated' as const,
        address: `${name}-${number}@contoso.example`,
        addedAfterRegistration: random.chance(0.4),
        busyOnFirstSubscribe: false,
        protocol: 'ews' as const,
        rounds: [],
      })),
    ];
    return {
      name: `device-${number}`,
      pushToken: random.hex(32),
      apnsEnvironment: random.chance(0.2) ? 'sandbox' : 'production',
      timeZone: random.pick(TIME_ZONES),
      profile: drawAlertProfile(random, intent),
      mailboxes,
    };
  });

  for (const device of random.shuffle(devices).slice(0, atLeastOne(devices.length, SHARE.settingsChange))) {
    // Flip between alerting and not, so the change shows in the decisions right away.
    const next = random.pick(ALERT_INTENTS.filter((intent) => INTENT_ALERTS[intent] !== INTENT_ALERTS[device.profile.intent]));
    device.settingsChange = { profile: drawAlertProfile(random, next), ...(random.chance(0.5) ? { timeZone: random.pick(TIME_ZONES) } : {}) };
  }

  const mailboxes = devices.flatMap((device) => device.mailboxes);
  for (const mailbox of pickShare(random, mailboxes, SHARE.busySubscribe)) mailbox.busyOnFirstSubscribe = true;
  const retrySecond = new Set(pickShare(random, mailboxes, SHARE.retryInSecondRound));
  const resubscribing = new Set(pickShare(random, mailboxes, SHARE.resubscribe));
  const retryThird = new Set(pickShare(random, mailboxes.filter((m) => !resubscribing.has(m)), SHARE.retryInThirdRound));

  const primaries = mailboxes.filter((m) => m.kind === 'primary');
  const onGraph = pickShare(random, primaries, SHARE.graph);
  for (const mailbox of onGraph) mailbox.protocol = 'graph';
  const migrating = pickShare(random, primaries.filter((m) => m.protocol === 'ews'), SHARE.migrate);
  for (const mailbox of migrating) mailbox.migratesToGraphBeforeRound = MIGRATION_BEFORE_ROUND;
  for (const mailbox of pickShare(random, [...onGraph, ...migrating], SHARE.lifecycle)) {
    mailbox.lifecycleEvent = random.pick(['missed', 'reauthorizationRequired', 'subscriptionRemoved'] as const);
  }

  for (const mailbox of mailboxes) {
    const first: PlannedSend[] = [
      ...(random.chance(0.4) ? [heartbeat] : []),
      newMail(random),
      ...(random.chance(0.2) ? [heartbeat] : []),
    ];

    // A third-round retry repeats second-round mail, so such a mailbox always gets some.
    const secondHasMail = random.chance(0.6) || retryThird.has(mailbox);
    const second: PlannedSend[] = random.shuffle([
      ...(retrySecond.has(mailbox) ? [retry] : []),
      ...(secondHasMail ? [newMail(random)] : []),
      ...(random.chance(0.5) ? [heartbeat] : []),
    ]);

    let third: PlannedSend[];
    if (resubscribing.has(mailbox)) {
      // Exchange still delivers on the old subscription until it is told Unsubscribe; a mail it reported there is
      // reported again on the new one.
      const carriesMail = random.chance(0.6);
      const items = newMailItems(random);
      third = [
        { kind: 'superseded', carries: carriesMail ? 'new-mail' : 'heartbeat', items: carriesMail ? items : 0 },
        ...(carriesMail ? [{ kind: 'new-mail' as const, items, sameItemsAsSuperseded: true }] : random.chance(0.5) ? [newMail(random)] : []),
        ...(random.chance(0.5) ? [heartbeat] : []),
      ];
    } else {
      third = random.shuffle([
        ...(retryThird.has(mailbox) ? [retry] : []),
        ...(random.chance(0.5) ? [newMail(random)] : []),
        ...(random.chance(0.5) ? [heartbeat] : []),
      ]);
    }
    mailbox.rounds = [
      { resubscribe: false, sends: first },
      { resubscribe: false, sends: second },
      { resubscribe: resubscribing.has(mailbox), sends: third },
    ];
  }
  return { seed, devices };
}

const heartbeat: PlannedSend = { kind: 'heartbeat' };
const retry: PlannedSend = { kind: 'retry' };

function newMail(random: Random): PlannedSend {
  return { kind: 'new-mail', items: newMailItems(random) };
}

/** Mostly one mail per notification; sometimes a few that Exchange batched into one. */
function newMailItems(random: Random): number {
  return random.chance(0.7) ? 1 : random.int(2, 4);
}

/**
 * Alert intents for the devices: the first five cover every intent once (in random order), so that any run of five
 * devices or more shows every rule; the rest follow the weights of a typical fleet, where most alert always.
 */
function drawIntents(random: Random, count: number): AlertIntent[] {
  const weighted: AlertIntent[] = [
    ...Array<AlertIntent>(4).fill('always'),
    ...Array<AlertIntent>(2).fill('inside-work-hours'),
    ...Array<AlertIntent>(2).fill('outside-work-hours'),
    'non-work-day',
    'weekend-alerts',
  ];
  const intents = random.shuffle(ALERT_INTENTS);
  while (intents.length < count) intents.push(random.pick(weighted));
  return intents.slice(0, count);
}

function atLeastOne(total: number, share: number): number {
  return total === 0 ? 0 : Math.max(1, Math.round(total * share));
}

function pickShare<T>(random: Random, items: readonly T[], share: number): T[] {
  return random.shuffle(items).slice(0, atLeastOne(items.length, share));
}
