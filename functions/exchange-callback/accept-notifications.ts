import type { InboundNotification } from '../../shared/inbound/inbound-notification.js';
import type { RegistrationSeal } from '../../shared/queue/carried-registration.js';
import type { EventQueue, NewMailMessage } from '../../shared/queue/queue-messages.js';
import type { CallbackDirectory, DecisionLog, DeviceReader, DeviceRecord, MailboxRecord, SupervisionIndex } from '../../shared/store/ports.js';
import type { OutcomeCounter, UseCaseLogger } from '../_lib/powertools.js';
import { hashSecret, secretMatches, urlSecretTarget } from '../_lib/device-secrets.js';
import { eventKey } from '../_lib/event-keys.js';
import { lastSeenWriteIntervalMs, markedSuperseded } from '../../shared/supervision/subscription-state.js';

export interface CallbackDeps {
  callbacks: CallbackDirectory;
  devices: Pick<DeviceReader, 'getDeviceAndMailbox'>;
  /** Records a superseded subscription. */
  supervision: Pick<SupervisionIndex, 'updateMailboxSupervision'>;
  queue: EventQueue;
  /** Records why a notification for a known mailbox was refused (contract section 3: every notification explained). */
  decisions: Pick<DecisionLog, 'record'>;
  /**
   * Seals the registration read here onto the new-mail messages, so the dispatcher need not read it again (issue 15).
   * Absent (tests, or a wiring without the key): messages go without one and the dispatcher reads.
   */
  registrationSeal?: Pick<RegistrationSeal, 'seal'>;
  now: () => number;
  logger: UseCaseLogger;
  counter: OutcomeCounter;
}

export type SubscriptionStatus = 'OK' | 'Unsubscribe';

export interface AcceptNotificationsInput {
  /** The last path segment of the callback URL. */
  secret: string;
  /** What the server sent, normalized by its protocol's reader (`shared/ews/inbound.ts`). */
  notifications: InboundNotification[];
}

/** Event keys per queue message; a 256 KiB body holds at most a few hundred NewMail events. */
const EVENT_KEYS_PER_MESSAGE = 100;

/**
 * Notifications of one body that get a queue message (and so a chance of an alert) of their own. More than the
 * storm budget (3 alerts per 5 s) could ever push at once, so what comes after them, which a storm would hold anyway,
 * is queued 100 keys to a message as the rest of the body: a Graph body of 4,000 items is 50 messages, not 4,000.
 */
const NOTIFICATIONS_WITH_OWN_MESSAGE = 10;

/**
 * Accepts the notifications of one callback (contract section 4), once the edge has read and normalized them:
 * checks the URL secret and the subscription's state, then queues the new mail. New mail is queued before OK is
 * answered: if the queue refuses, the error propagates, the answer is 5xx, and the server retries.
 */
export async function acceptNotifications(input: AcceptNotificationsInput, deps: CallbackDeps): Promise<SubscriptionStatus> {
  const { notifications } = input;
  const receivedAt = deps.now();

  const found = await findMailboxOfSecret(input.secret, deps);
  if (!found) return unsubscribe('unknown-callback', deps);
  const { device, mailbox } = found;
  if (!device || !mailbox) return unsubscribe('mailbox-removed', deps);
  // From here the mailbox is known, and only a holder of its URL secret gets here: each refusal is explained in the
  // device's events (`suppressed`, with the reason), as Graph's refused items are, and cannot be driven by forged
  // traffic. Exchange stops calling on a subscription once it is answered Unsubscribe, so it is said once.
  const refuse = async (reason: string, logged: string): Promise<SubscriptionStatus> => {
    await recordRefusal({ device, mailbox, reason, at: receivedAt }, deps);
    return unsubscribe(logged, deps);
  };
  if (device.status !== 'active') return refuse('retired', 'device-retired');
  if (mailbox.expiresAt !== undefined && mailbox.expiresAt <= receivedAt) return refuse('expired', 'subscription-expired');
  // The mailbox moved to Graph (contract section 3): its EWS subscription is a leftover, ended by this answer. Not
  // marked superseded: the current (Graph) subscription is fine, and nobody needs to be asked to renew.
  if (mailbox.protocol === 'graph') return refuse('superseded', 'protocol-superseded');
  // The relay's own EWS subscription of a mailbox since handed back (contract section 9): ended by this answer, and
  // no sign that the device's subscription is wrong, so not marked superseded either.
  if (mailbox.endedSubscriptionId !== undefined && notifications.some((n) => n.subscriptionId === mailbox.endedSubscriptionId)) {
    return refuse('superseded', 'relay-subscription-ended');
  }
  if (mailbox.subscriptionId !== undefined && notifications.some((n) => n.subscriptionId !== mailbox.subscriptionId)) {
    await deps.supervision
      .updateMailboxSupervision(mailbox.deviceId, mailbox.mailboxId, { supersededAt: receivedAt })
      .catch((error: unknown) => deps.logger.warn('could not record a superseded subscription', { error: error as Error }));
    return refuse('superseded', 'subscription-superseded');
  }

  await queueNewMail({ device, mailbox, notifications, receivedAt }, deps);
  return 'OK';
}

/**
 * The mailbox (with its device) whose URL secret this is, or undefined when it is no mailbox's. A secret that names
 * its mailbox (`newUrlSecret`) costs one batched read of the device and the mailbox, and counts only if the mailbox's
 * stored hash is the secret's (compared in constant time); an older one is looked up by its hash first. Either may
 * come back without its device (deleted) or mailbox (removed).
 */
export async function findMailboxOfSecret(
  secret: string,
  deps: Pick<CallbackDeps, 'callbacks' | 'devices'>,
): Promise<{ device?: DeviceRecord; mailbox?: MailboxRecord } | undefined> {
  const named = urlSecretTarget(secret);
  if (named) {
    const read = await deps.devices.getDeviceAndMailbox(named.deviceId, named.mailboxId);
    return read.mailbox && secretMatches(secret, read.mailbox.callbackKey) ? read : undefined;
  }
  const callback = await deps.callbacks.findCallback(hashSecret(secret));
  return callback && deps.devices.getDeviceAndMailbox(callback.deviceId, callback.mailboxId);
}

/**
 * Queues the new mail of accepted notifications (any protocol, normalized) for the dispatcher, or records the
 * mailbox's last-seen time when they bring none. Resolves only once the queue has taken every message: if it refuses,
 * the error propagates and the answer is 5xx, so the server retries.
 */
export async function queueNewMail(
  input: { device: DeviceRecord; mailbox: MailboxRecord; notifications: InboundNotification[]; receivedAt: number },
  deps: Pick<CallbackDeps, 'callbacks' | 'queue' | 'registrationSeal' | 'logger' | 'counter'>,
): Promise<void> {
  const { mailbox, notifications, receivedAt } = input;
  // One message per notification that brings new mail: the dispatcher gives each message its own alert (contract
  // section 4: at least one per notification), within the mailbox's burst budget.
  const keysPerNotification = newMailEventKeys(mailbox, notifications);
  // Item ids travel only in organization mode, where the dispatcher may read the mail (contract section 8).
  const carryItemIds = mailbox.sealedAddress !== undefined;
  const registration = keysPerNotification.length > 0 && !carryItemIds ? await sealRegistration(input, deps) : undefined;
  const messages: NewMailMessage[] = [];
  const rest = keysPerNotification.slice(NOTIFICATIONS_WITH_OWN_MESSAGE).flat();
  const groups = [...keysPerNotification.slice(0, NOTIFICATIONS_WITH_OWN_MESSAGE).map((keys) => ({ keys, continued: false })), ...(rest.length > 0 ? [{ keys: rest, continued: true }] : [])];
  for (const { keys: group, continued } of groups) {
    for (let start = 0; start < group.length; start += EVENT_KEYS_PER_MESSAGE) {
      const slice = group.slice(start, start + EVENT_KEYS_PER_MESSAGE);
      const itemIds = slice.flatMap((entry) => (entry.itemId === undefined ? [] : [entry.itemId]));
      messages.push({
        v: 1,
        type: 'new-mail',
        deviceId: mailbox.deviceId,
        mailboxId: mailbox.mailboxId,
        receivedAt,
        eventKeys: slice.map((entry) => entry.key),
        ...(carryItemIds && itemIds.length > 0 ? { itemIds } : {}),
        // The rest of a notification (or of the body) is only ever held, which the dispatcher decides by a fresh read.
        ...(start > 0 || continued ? { continued: true as const } : registration === undefined ? {} : { registration }),
      });
    }
  }
  const keyCount = keysPerNotification.reduce((sum, keys) => sum + keys.length, 0);
  if (messages.length > 0 && mailbox.lastNotificationAt !== undefined && !markedSuperseded(mailbox)) {
    // The dispatcher records new mail's last-seen time, with the mailbox write it makes for the alert anyway; only
    // a mailbox's first notification (its first last-seen time) and one that clears a superseded mark are written
    // here, so that the device and the supervisor see them at once.
    await deps.queue.enqueue(messages);
  } else {
    // Only the enqueue decides the answer; the last-seen write is best effort and runs alongside it.
    const [queued] = await Promise.allSettled([messages.length > 0 ? deps.queue.enqueue(messages) : Promise.resolve(), recordLastSeen(mailbox, receivedAt, deps)]);
    if (queued.status === 'rejected') throw queued.reason;
  }

  deps.counter.count(messages.length > 0 ? 'CallbackNewMailQueued' : 'CallbackWithoutNewMail');
  if (keyCount > 0) deps.counter.count('NewMailEventsQueued', keyCount);
}

/**
 * The registration this callback read (strongly consistent, moments ago), sealed for the dispatcher. Organization
 * mode's mailboxes carry none: their judgement reads more than the default mode's and keeps its fresh read. A seal
 * that fails (no key) leaves the messages without one: it must never cost the callback its answer.
 */
async function sealRegistration(
  input: { device: DeviceRecord; mailbox: MailboxRecord; receivedAt: number },
  deps: Pick<CallbackDeps, 'registrationSeal' | 'logger'>,
): Promise<string | undefined> {
  if (!deps.registrationSeal) return undefined;
  const { device, mailbox, receivedAt } = input;
  try {
    return await deps.registrationSeal.seal({ device, mailbox }, { deviceId: mailbox.deviceId, mailboxId: mailbox.mailboxId, receivedAt });
  } catch (error) {
    deps.logger.warn('could not seal the registration; new mail is queued without it', { error: (error as Error).name });
    return undefined;
  }
}

/**
 * Records a notification (or Graph item) for a known mailbox that was refused: decision `suppressed` with the reason.
 * Best effort: a write that fails is logged, and the mail server still gets its answer (never a 5xx for it).
 */
export async function recordRefusal(
  input: { device: DeviceRecord; mailbox: MailboxRecord; reason: string; at: number },
  deps: Pick<CallbackDeps, 'decisions' | 'logger'>,
): Promise<void> {
  try {
    await deps.decisions.record(input.device.deviceId, { at: new Date(input.at).toISOString(), mailbox: input.mailbox.mailboxId, outcome: 'suppressed', reason: input.reason });
  } catch (error) {
    deps.logger.warn('could not record a refused notification', { error: error as Error, reason: input.reason });
  }
}

function unsubscribe(reason: string, deps: CallbackDeps): SubscriptionStatus {
  deps.logger.info('answering Unsubscribe', { reason });
  deps.counter.count(`CallbackUnsubscribe`);
  return 'Unsubscribe';
}

/**
 * One idempotency key per distinct new mail, grouped by notification (notifications without new mail left out): a
 * retry of the same body, or the same item reported twice, gives the same keys, and an item a notification repeats
 * from an earlier one in the body stays with the earlier one.
 */
function newMailEventKeys(mailbox: MailboxRecord, notifications: InboundNotification[]): Array<Array<{ key: string; itemId?: string }>> {
  const seen = new Set<string>();
  const groups: Array<Array<{ key: string; itemId?: string }>> = [];
  for (const notification of notifications) {
    const keys: Array<{ key: string; itemId?: string }> = [];
    for (const mail of notification.newMail) {
      const key = eventKey(mailbox.deviceId, mailbox.mailboxId, mail.kind, mail.kind === 'item' ? mail.id : mail.value);
      if (seen.has(key)) continue;
      seen.add(key);
      keys.push(mail.kind === 'item' ? { key, itemId: mail.id } : { key });
    }
    if (keys.length > 0) groups.push(keys);
  }
  return groups;
}

/**
 * Notifications without new mail (heartbeats; new mail's is the dispatcher's to record, but for a mailbox's first
 * notification) write `lastNotificationAt` only when the stored one is `lastSeenWriteIntervalMs` old (a quarter of
 * the StatusFrequency, at most a minute), so every heartbeat of a quiet mailbox is written and only a busy mailbox's
 * notifications are thinned; the supervision's silence threshold allows for that lag. The write never moves the mailbox's due time (an index key): a notification
 * can only make the subscription more alive, so the supervisor, when the old due time comes, finds it alive and
 * reschedules it from this time (`run-sweep.ts`), and a mailbox whose device reports its subscription regularly never
 * comes due at all.
 */
async function recordLastSeen(mailbox: MailboxRecord, at: number, deps: Pick<CallbackDeps, 'callbacks' | 'logger'>): Promise<void> {
  // The one exception: after a stray notification of an old subscription marked the mailbox superseded, the first
  // notification of the current one clears the mark at once, even within the write interval.
  const throttled = mailbox.lastNotificationAt !== undefined && at - mailbox.lastNotificationAt < lastSeenWriteIntervalMs(mailbox);
  if (throttled && !markedSuperseded(mailbox)) return;
  try {
    await deps.callbacks.touchMailbox(mailbox.deviceId, mailbox.mailboxId, at);
  } catch (error) {
    deps.logger.warn('could not record the mailbox last-seen time', { error: error as Error });
  }
}
