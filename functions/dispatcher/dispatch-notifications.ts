import type { DecisionOutcome } from '../../shared/device/device-schemas.js';
import type { FlushHeldAlertsMessage, MailboxActionMessage, ManagedSubscriptionMessage, NewMailMessage } from '../../shared/queue/queue-messages.js';
import { newMailPush } from '../../shared/push/apns-payloads.js';
import { decideAlert } from '../../shared/rules/alert-rules.js';
import { lastSeenWriteIntervalMs } from '../../shared/supervision/subscription-state.js';
import type { DeviceRecord, MailboxRecord } from '../../shared/store/ports.js';
import { flushHeldAlerts, holdForBurst, type ClaimedRecord } from './burst-coalescing.js';
import type { DispatcherDeps, DispatchRecord } from './deps.js';
import { claimantOf } from './event-claims.js';
import { newMailRefusal } from './device-refusal.js';
import { pushMailboxActions } from './push-mailbox-action.js';
import { carriedRegistrationOf, type CarriedDevice, type CarriedMailbox } from './carried-registrations.js';
import { pushNewMail, sendNewMail, settleNewMailPush, type PushDestination } from './push-new-mail.js';
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

  // A young first delivery of new mail is judged by the registration its callback read, carried on the message
  // (carried-registrations.ts); every other group's device and mailbox are read, all in one batched read.
  const registrations = new Map<MailboxGroup, GroupRegistration>();
  const list = [...groups.values()];
  await Promise.all(
    list.map(async (group) => {
      if (group.flushes.length > 0 || group.actions.length > 0) return;
      const carried = await carriedRegistrationOf(group.newMail, deps);
      if (carried) registrations.set(group, { carried: true, ...carried });
    }),
  );
  const toRead = list.filter((group) => !registrations.has(group));
  if (toRead.length > 0) {
    try {
      const read = await deps.devices.getDevicesAndMailboxes(toRead.map(firstOf));
      toRead.forEach((group, index) => registrations.set(group, { carried: false, ...read[index]! }));
    } catch (error) {
      // Its groups fail below, as each would on its own read.
      deps.logger.warn('could not read the mailboxes of a batch', { error: error as Error, groups: toRead.length });
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

/**
 * What a group is judged by: the device and mailbox this dispatch read (either may be missing: deleted, removed), or
 * the ones the callback read and carried (`carried-registrations.ts`), which hold only what new mail's judgement reads
 * and are trusted only to push (`judgeAndPush`).
 */
type GroupRegistration = { carried: false; device?: DeviceRecord; mailbox?: MailboxRecord } | ({ carried: true } & Judged);

/** A registration a group of new mail is judged by, read or carried. */
type Judged = ReadRegistration | { carried: true; device: CarriedDevice; mailbox: CarriedMailbox };
type ReadRegistration = { carried: false; device: DeviceRecord; mailbox: MailboxRecord };

async function dispatchGroup(group: MailboxGroup, registration: GroupRegistration, deps: DispatcherDeps): Promise<void> {
  if (registration.carried) {
    // Only groups of new mail alone are judged by a carried registration.
    await dispatchNewMail({ records: group.newMail, judged: registration }, deps);
    return;
  }
  const { device, mailbox } = registration;
  if (!device || !mailbox) {
    // Deleted device or removed mailbox: nothing may be stored for it any more, not even a decision.
    deps.counter.count('DroppedForRemovedMailbox', group.newMail.length + group.flushes.length + group.actions.length);
    return;
  }
  if (group.newMail.length > 0) await dispatchNewMail({ records: group.newMail, judged: { carried: false, device, mailbox } }, deps);
  if (group.flushes.length > 0) await flushHeldAlerts({ flushes: group.flushes, device, mailbox }, deps);
  if (group.actions.length > 0) await pushMailboxActions({ records: group.actions, device, mailbox }, deps);
}

async function dispatchNewMail(input: { records: DispatchRecord<NewMailMessage>[]; judged: Judged }, deps: DispatcherDeps): Promise<void> {
  // New mail's last-seen time is the dispatcher's to record (the callback records it for notifications without new
  // mail), with the mailbox write this dispatch makes anyway (an alert slot, or held mail), or on its own when it
  // makes none; only when the stored one is a write interval old, as the callback does.
  const { mailbox } = input.judged;
  const newest = Math.max(...input.records.map((record) => record.message.receivedAt));
  const { lastNotificationAt } = mailbox;
  const seen: LastSeen = { at: lastNotificationAt === undefined || newest - lastNotificationAt >= lastSeenWriteIntervalMs(mailbox) ? newest : undefined };
  try {
    await judgeAndPush({ ...input, seen }, deps);
  } finally {
    if (seen.at !== undefined) {
      await deps.callbacks
        .touchMailbox(mailbox.deviceId, mailbox.mailboxId, seen.at)
        .catch((error: unknown) => deps.logger.warn('could not record the mailbox last-seen time', { error: error as Error }));
    }
  }
}

/** A last-seen time still to record (`at`), cleared by whichever mailbox write records it. */
export interface LastSeen {
  at: number | undefined;
}

/** Claims the records' event keys, then judges and pushes (or holds, or settles) the ones this dispatch claimed. */
async function judgeAndPush(input: { records: DispatchRecord<NewMailMessage>[]; judged: Judged; seen: LastSeen }, deps: DispatcherDeps): Promise<void> {
  const { records, judged, seen } = input;
  const { deviceId } = judged.mailbox;
  const now = deps.now();
  const fresh: ClaimedRecord[] = [];
  const duplicates: DispatchRecord<NewMailMessage>[] = [];
  for (const record of records) {
    const claims = await deps.dedupe.claim({
      deviceId,
      keys: record.message.eventKeys,
      claimant: claimantOf(record),
      now,
      ttlSeconds: deps.dedupeTtlSeconds,
    });
    const keys = record.message.eventKeys.filter((key) => claims.get(key) === 'claimed');
    if (keys.length > 0) fresh.push({ record, keys, expiresAt: now + deps.dedupeTtlSeconds * 1000 });
    else duplicates.push(record);
  }
  await decideClaimed({ entries: fresh, duplicates, judged, seen, now }, deps);
}

/**
 * Judges claimed records by a registration and acts on it. A carried registration is trusted only to push at once:
 * anything else it would lead to (a duplicate, a suppression, a retired or interval-mode device, a full alert budget,
 * a push the gateway refuses) is decided by a fresh read of the device and mailbox instead (`reread`), so that a
 * registration changed or removed since the callback's read is never acted on beyond a push: no decision is stored
 * for a deleted device or removed mailbox, and a refused token is retired only if the device still has it.
 */
async function decideClaimed(
  input: { entries: ClaimedRecord[]; duplicates: DispatchRecord<NewMailMessage>[]; judged: Judged; seen: LastSeen; now: number },
  deps: DispatcherDeps,
): Promise<void> {
  const { entries, duplicates, seen, now } = input;
  let judged = input.judged;
  let verdict = await judgeRecords({ entries, judged }, deps);
  const continued = (entry: ClaimedRecord) => entry.record.message.continued === true;
  // The rest of a large notification is held, and holding is decided by a fresh read (a carried one only pushes).
  if (judged.carried && (duplicates.length > 0 || verdict.allowed.length < entries.length || verdict.allowed.some(continued))) {
    const read = await reread({ judged, records: entries.length + duplicates.length, seen }, deps);
    if (!read) return;
    judged = read;
    verdict = await judgeRecords({ entries, judged }, deps);
  }
  const { deviceId, mailboxId } = judged.mailbox;
  for (const record of duplicates) {
    await recordOutcome({ deviceId, at: record.message.receivedAt, mailbox: mailboxId, outcome: 'duplicate', reason: 'already-seen' }, deps);
  }
  for (const settled of verdict.settled) await settle({ ...settled, deviceId, mailboxId }, deps);

  // The rest of a notification larger than one message gets no alert of its own (contract section 4: one per
  // notification while the budget lasts): its mail is held for the storm's counted alert.
  const rests = verdict.allowed.filter(continued);
  if (rests.length > 0) {
    if (judged.carried) throw new Error('the rest of a notification is held only by a fresh read');
    await holdForBurst({ held: rests, mailbox: judged.mailbox, now, seen }, deps);
  }
  const allowed = verdict.allowed.filter((entry) => !continued(entry));
  for (const [index, entry] of allowed.entries()) {
    if (!(await deps.burstBudget.claimAlertSlot(deviceId, mailboxId, now, deps.alertBudget, seen.at))) {
      // No slot: the budget is spent, or (the slot's write is conditional on the mailbox) the mailbox is gone.
      if (!judged.carried) {
        await holdForBurst({ held: allowed.slice(index), mailbox: judged.mailbox, now, seen }, deps);
        return;
      }
      // Holding is no push at once: the rest is judged again by a fresh read, and only what it still allows is held
      // (the flush checks the device's status and mode, not its rules: rules that now suppress must not have mail
      // held for them). The slot is not asked for again: the budget was spent a moment ago.
      const read = await reread({ judged, records: allowed.length - index, seen }, deps);
      if (!read) return;
      const again = await judgeRecords({ entries: allowed.slice(index), judged: read }, deps);
      for (const settled of again.settled) await settle({ ...settled, deviceId, mailboxId }, deps);
      if (again.allowed.length > 0) await holdForBurst({ held: again.allowed, mailbox: read.mailbox, now, seen }, deps);
      return;
    }
    seen.at = undefined;
    const push = {
      device: judged.device,
      mailboxId,
      newMessages: entry.keys.length,
      notifications: [{ at: entry.record.message.receivedAt, receiveCount: entry.record.receiveCount }],
      ...(entry.enc === undefined ? {} : { enc: entry.enc }),
      ...(entry.reason === undefined ? {} : { reason: entry.reason }),
    };
    if (!judged.carried) {
      await settle({ entries: [entry], deviceId, mailboxId, ...(await pushNewMail(push, deps)) }, deps);
      continue;
    }
    const result = await sendNewMail(push, deps);
    if (result.outcome === 'delivered') {
      await settle({ entries: [entry], deviceId, mailboxId, ...(await settleNewMailPush({ ...push, result }, deps)) }, deps);
      continue;
    }
    // Refused where the callback's read said to push: the token may have changed (or the device been retired or
    // deleted) since. Only a fresh read may retire the token or settle the record.
    const read = await reread({ judged, records: allowed.length - index, seen }, deps);
    if (!read) return;
    const rest = allowed.slice(index);
    if (read.device.status === 'active' && sameDestination(read.device, judged.device)) {
      // The read device still has this token: the refusal is its answer (a dead token is retired as always).
      await settle({ entries: [rest.shift()!], deviceId, mailboxId, ...(await settleNewMailPush({ ...push, device: read.device, result }, deps)) }, deps);
    }
    // What was read decides the rest (and this mail, pushed to a new destination or settled by the device's state):
    // the carried judgement of the mail after this one may be as stale as the token was.
    await decideClaimed({ entries: rest, duplicates: [], judged: read, seen, now }, deps);
    return;
  }
}

/**
 * The group's device and mailbox read now, in place of the carried ones; undefined when either is gone, which ends
 * the group as a read would have from the start (`DroppedForRemovedMailbox`, nothing recorded). The claims already
 * taken then stay pending until they expire.
 */
async function reread(input: { judged: Judged; records: number; seen: LastSeen }, deps: DispatcherDeps): Promise<ReadRegistration | undefined> {
  const { deviceId, mailboxId } = input.judged.mailbox;
  const { device, mailbox } = await deps.devices.getDeviceAndMailbox(deviceId, mailboxId);
  if (device && mailbox) return { carried: false, device, mailbox };
  input.seen.at = undefined;
  deps.counter.count('DroppedForRemovedMailbox', input.records);
  return undefined;
}

function sameDestination(a: PushDestination, b: PushDestination): boolean {
  return a.pushToken === b.pushToken && a.apnsEnvironment === b.apnsEnvironment && a.endpointArn === b.endpointArn;
}

/** Claimed records judged: those to push (with organization mode's details), and the outcomes of the others. */
interface Verdict {
  allowed: Array<ClaimedRecord & { enc?: string; reason?: string }>;
  settled: Array<{ entries: ClaimedRecord[]; outcome: DecisionOutcome; reason: string }>;
}

/** Judges claimed records by a registration: the device's state, its mode, the alert rules. Records nothing. */
async function judgeRecords(input: { entries: ClaimedRecord[]; judged: Judged }, deps: DispatcherDeps): Promise<Verdict> {
  const { entries, judged } = input;
  const { device, mailbox } = judged;
  if (entries.length === 0) return { allowed: [], settled: [] };
  const refusal = newMailRefusal(device);
  if (refusal) return { allowed: [], settled: [{ entries, ...refusal }] };
  const verdict: Verdict = { allowed: [], settled: [] };
  for (const entry of entries) {
    const at = entry.record.message.receivedAt;
    // Organization mode reads the mail only when that can change the push (a VIP rule, a detailed alert). A carried
    // registration is never an organization mailbox's, which the callback does not carry.
    const judgement =
      deps.organization && !judged.carried
        ? await deps.organization.judge({
            device: judged.device,
            mailbox: judged.mailbox,
            itemId: entry.record.message.itemIds?.[0],
            at,
            payloadWithoutEnc: () => newMailPush({ mailboxId: mailbox.mailboxId, newMessages: entry.keys.length }).payload,
          })
        : { decision: decideAlert({ alerts: device.alerts, timeZone: device.timeZone, at: new Date(at) }) };
    const { decision, reason } = judgement;
    if (decision.alert) {
      verdict.allowed.push({ ...entry, ...(judgement.enc === undefined ? {} : { enc: judgement.enc }), ...(reason === undefined ? {} : { reason }) });
    } else {
      verdict.settled.push({ entries: [entry], outcome: 'suppressed', reason: reason ?? `rule:${decision.rule}` });
    }
  }
  return verdict;
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
