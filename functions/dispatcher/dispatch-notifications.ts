import type { DecisionOutcome } from '../../shared/device/device-schemas.js';
import type { FlushHeldAlertsMessage, MailboxActionMessage, ManagedSubscriptionMessage, NewMailMessage } from '../../shared/queue/queue-messages.js';
import { newMailPush } from '../../shared/push/apns-payloads.js';
import { decideAlert } from '../../shared/rules/alert-rules.js';
import { lastSeenWriteIntervalMs } from '../../shared/supervision/subscription-state.js';
import type { DeviceRecord, MailboxRecord } from '../../shared/store/ports.js';
import { flushHeldAlerts, holdForBurst, type ClaimedRecord } from './burst-coalescing.js';
import type { DispatcherDeps, DispatchRecord } from './deps.js';
import { claimantOf } from './event-claims.js';
import { pushMailboxActions } from './push-mailbox-action.js';
import { pushNewMail } from './push-new-mail.js';
import { SettlementBatch } from './settlement-batch.js';
import { recordOutcome, settleOutcomes } from './record-outcome.js';

export interface DispatchResult {
  /** Records to report as batch item failures: SQS redelivers them and, after maxReceiveCount, dead-letters them. */
  failedMessageIds: string[];
}

interface MailboxGroup {
  newMail: DispatchRecord<NewMailMessage>[];
  flushes: DispatchRecord<FlushHeldAlertsMessage>[];
  actions: DispatchRecord<MailboxActionMessage>[];
}

/** How many mailboxes of one batch are worked on at once. */
const GROUP_CONCURRENCY = 10;

/**
 * Drains a batch from the event queue (parsed at the edge). Records are grouped per mailbox, because the mailbox's
 * alert budget is shared by all of them (several new mails in one notification are one alert; notifications beyond
 * the budget are held and pushed as one alert with the count), which is why this does not use a per-record batch
 * processor: a group's records are read once and reported as batch item failures together.
 *
 * Per group: drop events already seen (idempotency keys claimed before the rules run, so a retry of a suppressed
 * notification never pushes later), apply the alert rules at the time each notification arrived, push, and record
 * why. A crash after the claim and before the push is safe: the same message finds its own pending claim on
 * redelivery and pushes then. A crash after the push and before completion pushes at most once more.
 */
export async function dispatchNotifications(records: DispatchRecord[], deps: DispatcherDeps): Promise<DispatchResult> {
  const failed: string[] = [];
  const groups = new Map<string, MailboxGroup>();
  const managedWork: DispatchRecord<ManagedSubscriptionMessage>[] = [];
  for (const record of records) {
    const { message } = record;
    if (message.type === 'managed-subscription') {
      managedWork.push({ ...record, message });
      continue;
    }
    const groupKey = `${message.deviceId}\u0000${message.mailboxId}`;
    const group = groups.get(groupKey) ?? { newMail: [], flushes: [], actions: [] };
    if (message.type === 'new-mail') group.newMail.push({ ...record, message });
    else if (message.type === 'flush-held-alerts') group.flushes.push({ ...record, message });
    else group.actions.push({ ...record, message });
    groups.set(groupKey, group);
  }

  // Every group's device and mailbox, in one batched read.
  const registrations = new Map<MailboxGroup, { device?: DeviceRecord; mailbox?: MailboxRecord }>();
  const list = [...groups.values()];
  if (list.length > 0) {
    try {
      const read = await deps.devices.getDevicesAndMailboxes(list.map(firstOf));
      list.forEach((group, index) => registrations.set(group, read[index]!));
    } catch (error) {
      // Its groups fail below, as each would on its own read.
      deps.logger.warn('could not read the mailboxes of a batch', { error: error as Error, groups: list.length });
    }
  }

  const queue = [...groups.values()];
  const settlements = new SettlementBatch(deps.settlements);
  const groupDeps: DispatcherDeps = { ...deps, settlements };
  const workers = Array.from({ length: Math.min(GROUP_CONCURRENCY, queue.length) }, async () => {
    for (let group = queue.shift(); group; group = queue.shift()) {
      settlements.working();
      try {
        const registration = registrations.get(group);
        if (!registration) throw new Error('the mailbox could not be read');
        await dispatchGroup(group, registration, groupDeps);
      } catch (error) {
        deps.logger.warn('mailbox group failed; its records will be redelivered', { error: error as Error, records: group.newMail.length + group.flushes.length + group.actions.length });
        failed.push(...[...group.newMail, ...group.flushes, ...group.actions].map((record) => record.messageId));
      } finally {
        settlements.resting();
      }
    }
  });
  await Promise.all(workers);
  for (const record of managedWork) {
    // Mail-server work of relay-managed subscriptions, one at a time: it waits on Graph or Exchange, not on APNs.
    try {
      if (!deps.manageSubscription) throw new Error('this dispatcher does not do managed-subscription work');
      await deps.manageSubscription(record);
    } catch (error) {
      deps.logger.warn('managed-subscription work failed; it will be redelivered', { error: error as Error });
      failed.push(record.messageId);
    }
  }
  return { failedMessageIds: failed };
}

/** The device and mailbox a group is about. */
function firstOf(group: MailboxGroup): { deviceId: string; mailboxId: string } {
  const { deviceId, mailboxId } = (group.newMail[0] ?? group.flushes[0] ?? group.actions[0])!.message;
  return { deviceId, mailboxId };
}

async function dispatchGroup(group: MailboxGroup, registration: { device?: DeviceRecord; mailbox?: MailboxRecord }, deps: DispatcherDeps): Promise<void> {
  const { device, mailbox } = registration;
  if (!device || !mailbox) {
    // Deleted device or removed mailbox: nothing may be stored for it any more, not even a decision.
    deps.counter.count('DroppedForRemovedMailbox', group.newMail.length + group.flushes.length + group.actions.length);
    return;
  }
  if (group.newMail.length > 0) await dispatchNewMail({ records: group.newMail, device, mailbox }, deps);
  if (group.flushes.length > 0) await flushHeldAlerts({ flushes: group.flushes, device, mailbox }, deps);
  if (group.actions.length > 0) await pushMailboxActions({ records: group.actions, device, mailbox }, deps);
}

async function dispatchNewMail(
  input: { records: DispatchRecord<NewMailMessage>[]; device: DeviceRecord; mailbox: MailboxRecord },
  deps: DispatcherDeps,
): Promise<void> {
  // New mail's last-seen time is the dispatcher's to record (the callback records it for notifications without new
  // mail), with the mailbox write this dispatch makes anyway (an alert slot, or held mail), or on its own when it
  // makes none; only when the stored one is a write interval old, as the callback does.
  const newest = Math.max(...input.records.map((record) => record.message.receivedAt));
  const { lastNotificationAt } = input.mailbox;
  const seen: LastSeen = { at: lastNotificationAt === undefined || newest - lastNotificationAt >= lastSeenWriteIntervalMs(input.mailbox) ? newest : undefined };
  try {
    await judgeAndPush({ ...input, seen }, deps);
  } finally {
    if (seen.at !== undefined) {
      await deps.callbacks
        .touchMailbox(input.mailbox.deviceId, input.mailbox.mailboxId, seen.at)
        .catch((error: unknown) => deps.logger.warn('could not record the mailbox last-seen time', { error: error as Error }));
    }
  }
}

/** A last-seen time still to record (`at`), cleared by whichever mailbox write records it. */
export interface LastSeen {
  at: number | undefined;
}

async function judgeAndPush(
  input: { records: DispatchRecord<NewMailMessage>[]; device: DeviceRecord; mailbox: MailboxRecord; seen: LastSeen },
  deps: DispatcherDeps,
): Promise<void> {
  const { records, device, mailbox, seen } = input;
  const { deviceId, mailboxId } = mailbox;
  const now = deps.now();
  const fresh: ClaimedRecord[] = [];
  for (const record of records) {
    const claims = await deps.dedupe.claim({
      deviceId,
      keys: record.message.eventKeys,
      claimant: claimantOf(record),
      now,
      ttlSeconds: deps.dedupeTtlSeconds,
    });
    const keys = record.message.eventKeys.filter((key) => claims.get(key) === 'claimed');
    if (keys.length > 0) {
      fresh.push({ record, keys, expiresAt: now + deps.dedupeTtlSeconds * 1000 });
    } else {
      await recordOutcome({ deviceId, at: record.message.receivedAt, mailbox: mailboxId, outcome: 'duplicate', reason: 'already-seen' }, deps);
    }
  }
  if (fresh.length === 0) return;

  if (device.status !== 'active') {
    await settle({ entries: fresh, deviceId, mailboxId, outcome: 'token-retired', reason: `device-retired:${device.retiredReason ?? 'unknown'}` }, deps);
    return;
  }

  if (device.mode === 'interval') {
    // The device opted out of real time: it syncs on its interval wake-ups instead (contract section 6).
    await settle({ entries: fresh, deviceId, mailboxId, outcome: 'suppressed', reason: 'mode:interval' }, deps);
    return;
  }

  const allowed: Array<ClaimedRecord & { enc?: string; reason?: string }> = [];
  for (const entry of fresh) {
    const at = entry.record.message.receivedAt;
    // Organization mode reads the mail only when that can change the push (a VIP rule, a detailed alert).
    const judged = deps.organization
      ? await deps.organization.judge({
          device,
          mailbox,
          itemId: entry.record.message.itemIds?.[0],
          at,
          payloadWithoutEnc: () => newMailPush({ mailboxId, newMessages: entry.keys.length }).payload,
        })
      : { decision: decideAlert({ alerts: device.alerts, timeZone: device.timeZone, at: new Date(at) }) };
    const { decision, reason } = judged;
    if (decision.alert) {
      allowed.push({ ...entry, ...(judged.enc === undefined ? {} : { enc: judged.enc }), ...(reason === undefined ? {} : { reason }) });
    } else {
      await settle({ entries: [entry], deviceId, mailboxId, outcome: 'suppressed', reason: reason ?? `rule:${decision.rule}` }, deps);
    }
  }
  if (allowed.length === 0) return;

  for (const [index, entry] of allowed.entries()) {
    if (!(await deps.burstBudget.claimAlertSlot(deviceId, mailboxId, now, deps.alertBudget, seen.at))) {
      await holdForBurst({ held: allowed.slice(index), mailbox, now, seen }, deps);
      return;
    }
    seen.at = undefined;
    const notifications = [{ at: entry.record.message.receivedAt, receiveCount: entry.record.receiveCount }];
    const outcome = await pushNewMail(
      { device, mailboxId, newMessages: entry.keys.length, notifications, ...(entry.enc === undefined ? {} : { enc: entry.enc }), ...(entry.reason === undefined ? {} : { reason: entry.reason }) },
      deps,
    );
    await settle({ entries: [entry], deviceId, mailboxId, ...outcome }, deps);
  }
}

/** Completes each record's claims with the outcome and records it, in one write for all of them. */
async function settle(
  input: { entries: ClaimedRecord[]; deviceId: string; mailboxId: string; outcome: DecisionOutcome; reason: string },
  deps: DispatcherDeps,
): Promise<void> {
  const { entries, deviceId, mailboxId, outcome, reason } = input;
  await settleOutcomes(
    entries.map((entry) => ({
      outcome: { deviceId, at: entry.record.message.receivedAt, mailbox: mailboxId, outcome, reason },
      keys: entry.keys,
      claimant: claimantOf(entry.record),
      expiresAt: entry.expiresAt,
    })),
    deps,
  );
}
