import type { DecisionOutcome } from '../../shared/device/device-schemas.js';
import type { FlushHeldAlertsMessage, NewMailMessage } from '../../shared/queue/queue-messages.js';
import type { DeviceRecord, MailboxRecord } from '../../shared/store/ports.js';
import type { DispatcherDeps, DispatchRecord } from './deps.js';
import type { LastSeen } from './dispatch-notifications.js';
import { completeKeys } from './event-claims.js';
import { pushNewMail } from './push-new-mail.js';
import { recordOutcome } from './record-outcome.js';
import { newMailRefusal } from './device-refusal.js';

/**
 * Burst coalescing: new mail beyond the mailbox's alert budget (`DispatcherDeps.alertBudget`) is held on the mailbox
 * and pushed as one alert with the count when the window closes, by a delayed flush message on the event queue.
 */

/** A new-mail record whose idempotency keys this dispatch claimed. */
export interface ClaimedRecord {
  record: DispatchRecord<NewMailMessage>;
  keys: string[];
  /** When the claims expire (the claim's time plus the dedupe TTL). */
  expiresAt: number;
}

/**
 * Beyond the budget: the mails are counted on the mailbox and a delayed flush is queued for the end of the window. The
 * flush is queued first, so a crash in between leaves a flush that finds nothing to push rather than held mail
 * that nobody pushes. Their idempotency keys are completed as held: a retry of them is a duplicate.
 */
export async function holdForBurst(
  input: { held: ClaimedRecord[]; mailbox: MailboxRecord; now: number; seen?: LastSeen },
  deps: DispatcherDeps,
): Promise<void> {
  const { held, mailbox, now, seen } = input;
  const newMessages = held.reduce((sum, entry) => sum + entry.keys.length, 0);
  const heldSince = Math.min(...held.map((entry) => entry.record.message.receivedAt));
  await enqueueFlush({ mailbox, heldSince, now }, deps);
  await deps.burstBudget.holdAlerts(mailbox.deviceId, mailbox.mailboxId, newMessages, seen?.at);
  if (seen) seen.at = undefined;
  deps.counter.count('AlertsHeldInBurst', newMessages);
  for (const entry of held) {
    await completeKeys({ deviceId: mailbox.deviceId, record: entry.record, keys: entry.keys, outcome: 'held' }, deps);
  }
}

/** Queues a flush for when the mailbox's current burst window closes. */
async function enqueueFlush(input: { mailbox: MailboxRecord; heldSince: number; now: number }, deps: DispatcherDeps): Promise<void> {
  // The mailbox read may predate the window another consumer just opened; then assume it opened now.
  const { windowMs } = deps.alertBudget;
  const { mailbox, now } = input;
  const started = mailbox.alertWindowStartedAt;
  const opened = started !== undefined && started > now - windowMs ? started : now;
  await enqueueFlushIn({ mailbox, heldSince: input.heldSince, delayMs: opened + windowMs - now }, deps);
}

/** Queues a flush to arrive after `delayMs` (rounded up to whole seconds, at least 1 s, at most SQS's 900 s). */
async function enqueueFlushIn(input: { mailbox: MailboxRecord; heldSince: number; delayMs: number }, deps: DispatcherDeps): Promise<void> {
  const delaySeconds = Math.min(900, Math.max(1, Math.ceil(input.delayMs / 1000)));
  const { deviceId, mailboxId } = input.mailbox;
  await deps.queue.enqueue([{ v: 1, type: 'flush-held-alerts', deviceId, mailboxId, heldSince: input.heldSince }], { delaySeconds });
}

/**
 * How long a flush holds a mailbox's held alerts: longer than one flush takes (a budget claim and a push with the
 * gateway's own retries). Only a crashed flush keeps it that long; a failing one gives it back before it rethrows.
 */
const FLUSH_LEASE_MS = 30_000;

/**
 * Pushes what a burst held back, as one alert with the count. Each held notification queued a flush, and they may run
 * at once in separate batches: the lease (`beginFlush`) lets exactly one of them push; one that finds the lease taken
 * looks again when it ends, and one that comes later finds nothing held.
 */
export async function flushHeldAlerts(
  input: { flushes: DispatchRecord<FlushHeldAlertsMessage>[]; device: DeviceRecord; mailbox: MailboxRecord },
  deps: DispatcherDeps,
): Promise<void> {
  const { flushes, device, mailbox } = input;
  if ((mailbox.heldAlerts ?? 0) <= 0) return;
  const at = Math.min(...flushes.map((flush) => flush.message.heldSince));
  const { deviceId, mailboxId } = mailbox;
  const now = deps.now();
  const lease = await deps.burstBudget.beginFlush(deviceId, mailboxId, now, now + FLUSH_LEASE_MS);
  if (lease === undefined) return;
  if ('busyUntil' in lease) {
    // Another flush is pushing them. Should it crash, its lease ends and this one takes over then.
    await enqueueFlushIn({ mailbox, heldSince: at, delayMs: lease.busyUntil - now + 1_000 }, deps);
    return;
  }
  const { held } = lease;
  let outcome: { outcome: DecisionOutcome; reason: string };
  try {
    // A device retired, or switched to interval mode, while the mail was held gets no alert for it now.
    const refusal = newMailRefusal(device);
    if (refusal) {
      outcome = refusal;
    } else if (!(await deps.burstBudget.claimAlertSlot(deviceId, mailboxId, deps.now(), deps.alertBudget))) {
      // The window's budget is still spent (other alerts opened or filled it since this flush was queued): flush
      // again when it closes.
      await deps.burstBudget.endFlush(deviceId, mailboxId);
      await enqueueFlush({ mailbox, heldSince: at, now: deps.now() }, deps);
      return;
    } else {
      const notifications = flushes.map((flush) => ({ at, receiveCount: flush.receiveCount }));
      outcome = await pushNewMail({ device, mailboxId, newMessages: held, notifications }, deps);
    }
  } catch (error) {
    // The record fails and SQS brings the flush back; the lease must not make it wait.
    await deps.burstBudget.endFlush(deviceId, mailboxId).catch(() => undefined);
    throw error;
  }
  // Released only after the push: a crash before this line pushes the held mail again (at most once more).
  if (!(await deps.burstBudget.releaseHeldAlerts(deviceId, mailboxId, held))) {
    deps.logger.warn('held alerts were already released by another flush', { held });
  }
  await recordOutcome({ deviceId, at, mailbox: mailboxId, ...outcome }, deps);
}
