import { createHash } from 'node:crypto';
import type { DecisionOutcome } from '../../shared/device/device-schemas.js';
import { RetryableDeliveryError } from '../../shared/errors.js';
import { newMailPush } from '../../shared/push/apns-payloads.js';
import type { PushGateway, PushResult } from '../../shared/push/push-gateway.js';
import { queueMessageSchema, type EventQueue, type FlushHeldAlertsMessage, type NewMailMessage, type QueueMessage } from '../../shared/queue/queue-messages.js';
import { decideAlert } from '../../shared/rules/alert-rules.js';
import type { AlertBudget, BurstBudget, DecisionLog, DedupeStore, DeviceReader, DeviceRecord, MailboxRecord, TokenRetirement } from '../../shared/store/ports.js';
import type { OutcomeCounter, UseCaseLogger } from '../_lib/powertools.js';

export interface DispatcherDeps {
  devices: Pick<DeviceReader, 'getDeviceAndMailbox'>;
  retirement: TokenRetirement;
  burstBudget: BurstBudget;
  dedupe: DedupeStore;
  decisions: DecisionLog;
  push: PushGateway;
  now: () => number;
  logger: UseCaseLogger;
  counter: OutcomeCounter;
  /** The queue's maxReceiveCount: a failing attempt at this count is the last before the DLQ. */
  maxReceiveCount: number;
  /**
   * How long an event key blocks a repeat. Exchange retries a failed push for at most StatusFrequency (max 1440
   * minutes), so two days covers every retry of the same body.
   */
  dedupeTtlSeconds: number;
  /** The event queue, for the delayed flush of alerts held back during a burst. */
  queue: EventQueue;
  /**
   * Burst coalescing: each notification is pushed at once while the mailbox has alerts left in its window; new mail
   * beyond that is held and pushed as one alert with the count when the window closes. A burst of 20 mails in 2 s
   * becomes 4 pushes, not 20 (APNs answers 429 to too many pushes to one token), while every notification of an
   * ordinary day still gets its own push at once (contract section 4: at least one per notification).
   */
  alertBudget: AlertBudget;
}

export const DEFAULT_ALERT_BUDGET: AlertBudget = { windowMs: 5_000, maxPerWindow: 3 };

export const DEFAULT_DEDUPE_TTL_SECONDS = 2 * 24 * 60 * 60;

/** One SQS record as the dispatcher sees it. */
export interface DispatchRecord {
  messageId: string;
  body: string;
  /** SQS ApproximateReceiveCount. */
  receiveCount: number;
}

export interface DispatchResult {
  /** Records to report as batch item failures: SQS redelivers them and, after maxReceiveCount, dead-letters them. */
  failedMessageIds: string[];
}

interface ParsedRecord {
  record: DispatchRecord;
  message: NewMailMessage;
}

interface ParsedFlush {
  record: DispatchRecord;
  message: FlushHeldAlertsMessage;
}

interface MailboxGroup {
  newMail: ParsedRecord[];
  flushes: ParsedFlush[];
}

/** How many mailboxes of one batch are worked on at once. */
const GROUP_CONCURRENCY = 10;

/**
 * Drains a batch from the event queue. Records are grouped per mailbox, because the mailbox's alert budget is
 * shared by all of them (several new mails in one notification are one alert; notifications beyond the budget are
 * held and pushed as one alert with the count), which is why this does not use a per-record batch processor: a
 * group's records are read once and reported as batch item failures together.
 *
 * Per group: drop events already seen (idempotency keys claimed before the rules run, so a retry of a suppressed
 * notification never pushes later), apply the alert rules at the time each notification arrived, push, and record
 * why. A crash after the claim and before the push is safe: the same message finds its own pending claim on
 * redelivery and pushes then. A crash after the push and before completion pushes at most once more.
 */
export async function dispatchNotifications(records: DispatchRecord[], deps: DispatcherDeps): Promise<DispatchResult> {
  const failed: string[] = [];
  const groups = new Map<string, MailboxGroup>();
  for (const record of records) {
    const message = parseRecord(record, deps);
    if (!message) {
      // A body that can never be parsed is poison: fail it so it reaches the DLQ with its reason logged.
      failed.push(record.messageId);
      continue;
    }
    const groupKey = `${message.deviceId}\u0000${message.mailboxId}`;
    const group = groups.get(groupKey) ?? { newMail: [], flushes: [] };
    if (message.type === 'new-mail') group.newMail.push({ record, message });
    else group.flushes.push({ record, message });
    groups.set(groupKey, group);
  }

  const queue = [...groups.values()];
  const workers = Array.from({ length: Math.min(GROUP_CONCURRENCY, queue.length) }, async () => {
    for (let group = queue.shift(); group; group = queue.shift()) {
      try {
        await dispatchGroup(group, deps);
      } catch (error) {
        deps.logger.warn('mailbox group failed; its records will be redelivered', { error: error as Error, records: group.newMail.length + group.flushes.length });
        failed.push(...[...group.newMail, ...group.flushes].map(({ record }) => record.messageId));
      }
    }
  });
  await Promise.all(workers);
  return { failedMessageIds: failed };
}

function parseRecord(record: DispatchRecord, deps: DispatcherDeps): QueueMessage | undefined {
  let json: unknown;
  try {
    json = JSON.parse(record.body);
  } catch {
    deps.logger.error('poison record: body is not JSON', { messageId: record.messageId });
    return undefined;
  }
  const parsed = queueMessageSchema.safeParse(json);
  if (!parsed.success) {
    deps.logger.error('poison record: body is not a queue message', { messageId: record.messageId, issues: parsed.error.issues.length });
    return undefined;
  }
  return parsed.data;
}

async function dispatchGroup(group: MailboxGroup, deps: DispatcherDeps): Promise<void> {
  const first = group.newMail[0]?.message ?? group.flushes[0]?.message;
  if (!first) return;
  const { deviceId, mailboxId } = first;
  const { device, mailbox } = await deps.devices.getDeviceAndMailbox(deviceId, mailboxId);
  if (!device || !mailbox) {
    // Deleted device or removed mailbox: nothing may be stored for it any more, not even a decision.
    deps.counter.count('DroppedForRemovedMailbox', group.newMail.length + group.flushes.length);
    return;
  }
  if (group.newMail.length > 0) await dispatchNewMail(group.newMail, device, mailbox, deps);
  if (group.flushes.length > 0) await flushHeldAlerts(group.flushes, device, mailbox, deps);
}

async function dispatchNewMail(records: ParsedRecord[], device: DeviceRecord, mailbox: MailboxRecord, deps: DispatcherDeps): Promise<void> {
  const { deviceId, mailboxId } = mailbox;
  const now = deps.now();
  const fresh: ClaimedRecord[] = [];
  for (const parsed of records) {
    const claims = await deps.dedupe.claim({
      deviceId,
      keys: parsed.message.eventKeys,
      claimant: claimantOf(parsed.record),
      now,
      ttlSeconds: deps.dedupeTtlSeconds,
    });
    const keys = parsed.message.eventKeys.filter((key) => claims.get(key) === 'claimed');
    if (keys.length > 0) {
      fresh.push({ parsed, keys });
    } else {
      await decide(deps, deviceId, { at: parsed.message.receivedAt, mailbox: mailboxId, outcome: 'duplicate', reason: 'already-seen' });
    }
  }
  if (fresh.length === 0) return;

  if (device.status !== 'active') {
    await settle(deps, device, mailboxId, fresh, 'token-retired', `device-retired:${device.retiredReason ?? 'unknown'}`);
    return;
  }

  if (device.mode === 'interval') {
    // The device opted out of real time: it syncs on its interval wake-ups instead (contract section 6).
    await settle(deps, device, mailboxId, fresh, 'suppressed', 'mode:interval');
    return;
  }

  const allowed: ClaimedRecord[] = [];
  for (const entry of fresh) {
    const decision = decideAlert({ alerts: device.alerts, timeZone: device.timeZone, at: new Date(entry.parsed.message.receivedAt) });
    if (decision.alert) {
      allowed.push(entry);
    } else {
      await settle(deps, device, mailboxId, [entry], 'suppressed', `rule:${decision.rule}`);
    }
  }
  if (allowed.length === 0) return;

  for (const [index, entry] of allowed.entries()) {
    if (!(await deps.burstBudget.claimAlertSlot(deviceId, mailboxId, now, deps.alertBudget))) {
      const rest = allowed.slice(index);
      await holdForBurst(rest, rest.reduce((sum, held) => sum + held.keys.length, 0), mailbox, now, deps);
      return;
    }
    const outcome = await pushNewMail(device, mailboxId, entry.keys.length, [{ at: entry.parsed.message.receivedAt, receiveCount: entry.parsed.record.receiveCount }], deps);
    await settle(deps, device, mailboxId, [entry], outcome.outcome, outcome.reason);
  }
}

/**
 * Beyond the budget: the mails are counted on the mailbox and a delayed flush is queued for the end of the window. The
 * flush is queued first, so a crash in between leaves a flush that finds nothing to push rather than held mail
 * that nobody pushes. Their idempotency keys are completed as held: a retry of them is a duplicate.
 */
async function holdForBurst(allowed: ClaimedRecord[], newMessages: number, mailbox: MailboxRecord, now: number, deps: DispatcherDeps): Promise<void> {
  const heldSince = Math.min(...allowed.map((entry) => entry.parsed.message.receivedAt));
  await enqueueFlush(mailbox, heldSince, now, deps);
  await deps.burstBudget.holdAlerts(mailbox.deviceId, mailbox.mailboxId, newMessages);
  deps.counter.count('AlertsHeldInBurst', newMessages);
  for (const entry of allowed) {
    await completeKeys(deps, mailbox.deviceId, entry, 'held');
  }
}

/** Queues a flush for when the mailbox's current burst window closes. */
async function enqueueFlush(mailbox: MailboxRecord, heldSince: number, now: number, deps: DispatcherDeps): Promise<void> {
  // The mailbox read may predate the window another consumer just opened; then assume it opened now.
  const { windowMs } = deps.alertBudget;
  const started = mailbox.alertWindowStartedAt;
  const opened = started !== undefined && started > now - windowMs ? started : now;
  await enqueueFlushIn(mailbox, heldSince, opened + windowMs - now, deps);
}

/** Queues a flush to arrive after `delayMs` (rounded up to whole seconds, at least 1 s, at most SQS's 900 s). */
async function enqueueFlushIn(mailbox: MailboxRecord, heldSince: number, delayMs: number, deps: DispatcherDeps): Promise<void> {
  const delaySeconds = Math.min(900, Math.max(1, Math.ceil(delayMs / 1000)));
  await deps.queue.enqueue([{ v: 1, type: 'flush-held-alerts', deviceId: mailbox.deviceId, mailboxId: mailbox.mailboxId, heldSince }], { delaySeconds });
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
async function flushHeldAlerts(flushes: ParsedFlush[], device: DeviceRecord, mailbox: MailboxRecord, deps: DispatcherDeps): Promise<void> {
  if ((mailbox.heldAlerts ?? 0) <= 0) return;
  const at = Math.min(...flushes.map((flush) => flush.message.heldSince));
  const { deviceId, mailboxId } = mailbox;
  const now = deps.now();
  const lease = await deps.burstBudget.beginFlush(deviceId, mailboxId, now, now + FLUSH_LEASE_MS);
  if (lease === undefined) return;
  if ('busyUntil' in lease) {
    // Another flush is pushing them. Should it crash, its lease ends and this one takes over then.
    await enqueueFlushIn(mailbox, at, lease.busyUntil - now + 1_000, deps);
    return;
  }
  const { held } = lease;
  let outcome: { outcome: DecisionOutcome; reason: string };
  try {
    if (device.status !== 'active') {
      outcome = { outcome: 'token-retired', reason: `device-retired:${device.retiredReason ?? 'unknown'}` };
    } else if (!(await deps.burstBudget.claimAlertSlot(deviceId, mailboxId, deps.now(), deps.alertBudget))) {
      // The window's budget is still spent (other alerts opened or filled it since this flush was queued): flush
      // again when it closes.
      await deps.burstBudget.endFlush(deviceId, mailboxId);
      await enqueueFlush(mailbox, at, deps.now(), deps);
      return;
    } else {
      outcome = await pushNewMail(device, mailboxId, held, flushes.map((flush) => ({ at, receiveCount: flush.record.receiveCount })), deps);
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
  deps.counter.count(`Outcome-${outcome.outcome}`);
  await decide(deps, deviceId, { at, mailbox: mailboxId, outcome: outcome.outcome, reason: outcome.reason });
}

/**
 * Sends one new-mail alert and turns the gateway's answer into the decision to record. A retryable failure records
 * `retried` (or `dead-lettered` on the queue's last attempt) for each notification and rethrows, so the records fail.
 */
async function pushNewMail(
  device: DeviceRecord,
  mailboxId: string,
  newMessages: number,
  notifications: Array<{ at: number; receiveCount: number }>,
  deps: DispatcherDeps,
): Promise<{ outcome: DecisionOutcome; reason: string }> {
  const { deviceId } = device;
  let result: PushResult;
  try {
    result = await deps.push.send(
      { deviceId, pushToken: device.pushToken, environment: device.apnsEnvironment, ...(device.endpointArn ? { endpointArn: device.endpointArn } : {}) },
      newMailPush({ mailboxId, newMessages }),
    );
  } catch (error) {
    const lastAttempt = notifications.some((n) => n.receiveCount >= deps.maxReceiveCount);
    const reason = error instanceof RetryableDeliveryError ? error.reason : 'push-error';
    // Counted, so that the push failure rate alarm sees outages and not only the refusals APNs answers.
    deps.counter.count(lastAttempt ? 'Outcome-dead-lettered' : 'Outcome-retried', notifications.length);
    for (const notification of notifications) {
      await decide(deps, deviceId, { at: notification.at, mailbox: mailboxId, outcome: lastAttempt ? 'dead-lettered' : 'retried', reason });
    }
    throw error;
  }

  const now = deps.now();
  switch (result.outcome) {
    case 'delivered':
      return { outcome: 'pushed', reason: `apns:delivered${newMessages > 1 ? `:coalesced-${newMessages}` : ''}` };
    case 'token-invalid': {
      const retired = await deps.retirement.retireDevice(deviceId, {
        pushToken: device.pushToken,
        tokenRejectedAt: result.timestamp ?? now,
        reason: result.reason,
        now,
      });
      return { outcome: retired ? 'token-retired' : 'failed', reason: `apns:${result.status}:${result.reason}${retired ? '' : ':token-newer-than-rejection'}` };
    }
    case 'rejected':
      deps.logger.warn('push rejected and not retried', { status: result.status, reason: result.reason });
      return { outcome: 'failed', reason: `apns:${result.status}:${result.reason}` };
  }
}

interface ClaimedRecord {
  parsed: ParsedRecord;
  keys: string[];
}

/**
 * Completes the claims and records the decision. Failures here are logged, not thrown: the push (or the decision not
 * to push) already happened, and failing the record would only risk a duplicate.
 */
async function settle(
  deps: DispatcherDeps,
  device: DeviceRecord,
  mailboxId: string,
  entries: ClaimedRecord[],
  outcome: DecisionOutcome,
  reason: string,
): Promise<void> {
  deps.counter.count(`Outcome-${outcome}`, entries.length);
  for (const entry of entries) {
    await completeKeys(deps, device.deviceId, entry, outcome);
    await decide(deps, device.deviceId, { at: entry.parsed.message.receivedAt, mailbox: mailboxId, outcome, reason });
  }
}

/**
 * Who claims a record's idempotency keys: a hash of its body, not the SQS message id. A DLQ redrive sends the same body
 * under a new message id; keyed by message id, the redriven record would find its keys pending under the dead one and
 * drop the mail as a duplicate. An Exchange retry is a different body (another receivedAt), so it still finds the
 * keys taken.
 */
function claimantOf(record: DispatchRecord): string {
  return createHash('sha256').update(record.body, 'utf8').digest('base64url');
}

async function completeKeys(deps: DispatcherDeps, deviceId: string, entry: ClaimedRecord, outcome: string): Promise<void> {
  try {
    await deps.dedupe.complete({ deviceId, keys: entry.keys, claimant: claimantOf(entry.parsed.record), outcome, now: deps.now() });
  } catch (error) {
    deps.logger.error('could not complete event keys', { error: error as Error });
  }
}

async function decide(deps: DispatcherDeps, deviceId: string, decision: { at: number; mailbox: string; outcome: DecisionOutcome; reason: string }): Promise<void> {
  if (decision.outcome === 'duplicate') deps.counter.count('Outcome-duplicate');
  try {
    await deps.decisions.record(deviceId, { ...decision, at: new Date(decision.at).toISOString() });
  } catch (error) {
    deps.logger.error('could not record a decision', { error: error as Error, outcome: decision.outcome });
  }
}
