import { isRelayManaged, type ManagedRelease } from '../../shared/org/managed-subscription.js';
import type { DecisionOutcome } from '../../shared/device/device-schemas.js';
import { RetryableDeliveryError } from '../../shared/errors.js';
import { intervalPush, MAILBOX_ACTION_PUSH_INTERVAL_MS, resubscribePush } from '../../shared/push/apns-payloads.js';
import type { PushGateway, PushMessage, PushResult } from '../../shared/push/push-gateway.js';
import { deferredPushOutcome, settlePushResult, type PushOutcome } from '../../shared/push/push-outcome.js';
import { decideAlert } from '../../shared/rules/alert-rules.js';
import type { DecisionLog, DeviceReader, DeviceRecord, DeviceRegistry, DueItem, MailboxActionLimit, MailboxRecord, SupervisionIndex, TokenRetirement } from '../../shared/store/ports.js';
import { DUE_SHARDS } from '../../shared/store/ports.js';
import { nextIntervalAt } from '../../shared/supervision/interval-schedule.js';
import { MANAGED_WORK_LEASE_MS, RETIRED_RECHECK_MS } from '../../shared/supervision/renewal-schedule.js';
import type { EventQueue, ManagedSubscriptionMessage } from '../../shared/queue/queue-messages.js';
import { needsResubscribe, subscriptionState, supervisionDueAt, type SubscriptionState } from '../../shared/supervision/subscription-state.js';
import type { OutcomeCounter, UseCaseLogger } from '../_lib/powertools.js';
import { holdsRelaySubscription, releaseRetiredMailbox } from '../_lib/release-retired-mailbox.js';

/** Counted once at the end of every sweep that ran to completion. */
export const SWEEP_COMPLETED_METRIC = 'SweepCompleted';

export interface SupervisorDeps {
  devices: DeviceReader;
  /** The interval schedule. */
  registry: Pick<DeviceRegistry, 'updateDevice'>;
  supervision: SupervisionIndex;
  /** The per-mailbox limit on resubscribe pushes, shared with the dispatcher's lifecycle pushes. */
  actionLimit: MailboxActionLimit;
  retirement: TokenRetirement;
  decisions: DecisionLog;
  push: PushGateway;
  now: () => number;
  logger: UseCaseLogger;
  counter: OutcomeCounter;
  /**
   * Where the mail-server work of relay-managed mailboxes goes (contract section 9): the dispatcher does it with the
   * org's service account. Without it such a mailbox is only looked at again later, never pushed.
   */
  managedWork?: EventQueue;
  /**
   * Lets go of the relay's subscriptions of a retired device's mailboxes (with `managedWork`, where their deletion is
   * queued). A retirement makes the device due at once, whichever function retired it.
   */
  managed?: ManagedRelease;
}

export interface SweepOptions {
  /** Most items one sweep handles; the rest stay due and are taken by the next sweep. */
  maxItems?: number;
  /** Items handled at once (each is a read, maybe a push, and a write). */
  concurrency?: number;
  /** Index page size. */
  pageSize?: number;
}

export interface SweepReport {
  /** Due items read from the index. */
  due: number;
  resubscribeRequested: number;
  /** Relay-managed mailboxes whose mail-server work was queued for the dispatcher. */
  managedQueued: number;
  intervalPushes: number;
  intervalSuppressed: number;
  /** Subscription state changes recorded (live -> silent, ...). */
  transitions: number;
  /** Items that needed nothing when re-read (alive: heartbeats since; rescheduled from the last one) or were gone. */
  stale: number;
  failed: number;
  /** True when maxItems stopped the sweep before the index was drained. */
  truncated: boolean;
}


/** Due mailboxes read at once: a device and a mailbox each, BatchGetItem's 100 keys. */
const READ_CHUNK = 50;

/**
 * One supervisor sweep (scheduled every minute on AWS; a timer in `npm start`). It reads only what is due from the
 * due index, never the table:
 * - a mailbox whose subscription turned silent (no notification or heartbeat for 2 x StatusFrequency), expired or
 *   is about to expire gets one background "resubscribe" push to its device, at most one per mailbox in 5 minutes (a
 *   held-back one is recorded `suppressed`, `rate-limited`) and, without an answer, again after an hour;
 *   every state change is recorded on the mailbox and every request in the decision log;
 * - an interval-mode device gets its background push (unless its alert rules exclude now) and its next slot.
 *
 * Scale, for 1,000,000 mailboxes in a region: heartbeats do not move a mailbox's due time (an index key move is two
 * write units, and a quiet mailbox sends 48 heartbeats a day); a subscription report does. So a mailbox whose device
 * reports its subscription more often than its silence threshold (2 x StatusFrequency plus the write lag, 61 minutes
 * at Exchange's default of 30; the reference workload reports hourly) never comes due while it is live, and one that
 * reports less often comes due about once per threshold, is found alive and rescheduled from its last recorded
 * heartbeat: a fiftieth of a BatchGetItem and one write. What is due beyond that is what went silent or nears expiry.
 * If 1% of mailboxes go silent in an hour, that is 10,000 an hour, about 170 per one-minute sweep: 16 index queries
 * (one per shard), one BatchGetItem per 50 items, and per item one push and two small writes; at 10 in parallel and
 * ~30 ms each, about 0.5 s of work per sweep. Were none of the 1,000,000 reporting between renewals, about 11,000
 * live ones a minute would come due to be rescheduled (one write each, 10 ms: about 11 s per sweep at 10 in
 * parallel). A mass failure (Exchange down for all mailboxes) makes all 1,000,000 due at once: with maxItems 10,000
 * per sweep (about 30 s at 10 in parallel) the backlog drains in 100 minutes, and the per-mailbox retry interval (1 h)
 * keeps drained items from coming back sooner.
 * Interval mode costs one read, one push and one write per device per interval (300-900 s): 100,000 interval devices
 * at 900 s is 111 items a second, about 6,700 per sweep; the schedule spreads them evenly.
 */
export async function runSupervisorSweep(deps: SupervisorDeps, options: SweepOptions = {}): Promise<SweepReport> {
  const maxItems = options.maxItems ?? 10_000;
  const concurrency = options.concurrency ?? 10;
  const pageSize = options.pageSize ?? 100;
  const now = deps.now();
  const report: SweepReport = { due: 0, resubscribeRequested: 0, managedQueued: 0, intervalPushes: 0, intervalSuppressed: 0, transitions: 0, stale: 0, failed: 0, truncated: false };

  const work: DueItem[] = [];
  for (let shard = 0; shard < DUE_SHARDS && work.length < maxItems; shard++) {
    let cursor: string | undefined;
    do {
      const page = await deps.supervision.listDue({ shard, now, limit: Math.min(pageSize, maxItems - work.length), ...(cursor ? { cursor } : {}) });
      work.push(...page.items);
      cursor = page.cursor;
    } while (cursor && work.length < maxItems);
    if (cursor) report.truncated = true;
  }
  report.due = work.length;

  // In chunks: one batched read of the chunk's mailboxes with their devices, then the chunk's work, so no item is
  // judged on a read much older than the chunk.
  for (let start = 0; start < work.length; start += READ_CHUNK) {
    const chunk = work.slice(start, start + READ_CHUNK);
    const mailboxes = chunk.filter((item) => item.kind === 'mailbox');
    let reads: Array<{ device?: DeviceRecord; mailbox?: MailboxRecord }> | undefined;
    try {
      reads = mailboxes.length > 0 ? await deps.devices.getDevicesAndMailboxes(mailboxes) : [];
    } catch (error) {
      deps.logger.warn('could not read due mailboxes; they stay due', { error: error as Error, mailboxes: mailboxes.length });
      report.failed += mailboxes.length;
    }
    const readOf = new Map(mailboxes.map((item, index) => [item, reads?.[index]]));
    const queue = reads ? [...chunk] : chunk.filter((item) => item.kind !== 'mailbox');
    await Promise.all(
      Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
        for (let item = queue.shift(); item; item = queue.shift()) {
          try {
            if (item.kind === 'mailbox') await superviseMailbox({ ...item, ...readOf.get(item) }, now, deps, report);
            else await runInterval(item.deviceId, now, deps, report);
          } catch (error) {
            report.failed++;
            deps.logger.warn('supervision of an item failed; it stays due', { error: error as Error, kind: item.kind });
          }
        }
      }),
    );
  }
  deps.counter.count('SupervisorDue', report.due);
  deps.counter.count('ResubscribeRequested', report.resubscribeRequested);
  deps.counter.count('IntervalPushes', report.intervalPushes);
  // The heartbeat the "supervisor has not completed a sweep" alarm watches (infra/constructs/monitoring.ts).
  deps.counter.count(SWEEP_COMPLETED_METRIC);
  return report;
}

async function superviseManagedMailbox(input: { deviceId: string; mailboxId: string; state: SubscriptionState; now: number }, deps: SupervisorDeps, report: SweepReport): Promise<void> {
  const { deviceId, mailboxId, state, now } = input;
  if (deps.managedWork) {
    const work: ManagedSubscriptionMessage = { v: 1, type: 'managed-subscription', deviceId, mailboxId, requestedAt: now, job: { work: 'keep' } };
    await deps.managedWork.enqueue([work]);
    report.managedQueued++;
  }
  await deps.supervision.updateMailboxSupervision(deviceId, mailboxId, { supervisionState: state, dueAt: now + MANAGED_WORK_LEASE_MS });
}

async function superviseMailbox(
  input: { deviceId: string; mailboxId: string; device?: DeviceRecord; mailbox?: MailboxRecord },
  now: number,
  deps: SupervisorDeps,
  report: SweepReport,
): Promise<void> {
  const { deviceId, mailboxId, device, mailbox } = input;
  if (!device || !mailbox) {
    report.stale++;
    return;
  }
  const state = subscriptionState(mailbox, now);
  const transitioned = state !== mailbox.supervisionState;
  if (transitioned) {
    report.transitions++;
    deps.logger.info('subscription state changed', { from: mailbox.supervisionState ?? 'none', to: state });
  }

  if (device.status !== 'active') {
    // One the retirement's own visit missed (or a subscription stored after it): let go of it now.
    if (holdsRelaySubscription(mailbox) && (await releaseRetired(device.orgId, mailbox, deps))) return;
    await deps.supervision.updateMailboxSupervision(deviceId, mailboxId, { supervisionState: state, dueAt: now + RETIRED_RECHECK_MS });
    return;
  }
  if (isRelayManaged(mailbox)) {
    // The relay keeps this subscription itself: the app never gets resubscribe pushes for it.
    await superviseManagedMailbox({ deviceId, mailboxId, state, now }, deps, report);
    return;
  }
  if (!needsResubscribe(mailbox, now)) {
    // Alive: heartbeats (which leave the due time alone) or a new report since it was scheduled. Rescheduled from
    // the last sign of life, one write that moves the index key.
    report.stale++;
    await deps.supervision.updateMailboxSupervision(deviceId, mailboxId, { supervisionState: state, dueAt: supervisionDueAt(mailbox) });
    return;
  }
  // One resubscribe push per mailbox in 5 minutes, shared with the ones Graph lifecycle events ask for (contract
  // section 6); one held back is recorded, and the mailbox is looked at again once the window has passed.
  if (!(await deps.actionLimit.claimMailboxAction(deviceId, mailboxId, 'resubscribe', now, MAILBOX_ACTION_PUSH_INTERVAL_MS))) {
    await deps.supervision.updateMailboxSupervision(deviceId, mailboxId, { supervisionState: state, dueAt: now + MAILBOX_ACTION_PUSH_INTERVAL_MS });
    await record(deps, deviceId, { at: now, mailbox: mailboxId, outcome: 'suppressed', reason: 'rate-limited' });
    return;
  }

  const result = await sendBackground(device, resubscribePush(mailboxId), deps);
  const outcome = await outcomeOf(result, device, now, deps);
  if (outcome.outcome === 'pushed') {
    report.resubscribeRequested++;
    const asked = { ...mailbox, resubscribeRequestedAt: now };
    await deps.supervision.updateMailboxSupervision(deviceId, mailboxId, { supervisionState: state, resubscribeRequestedAt: now, dueAt: supervisionDueAt(asked) });
    await record(deps, deviceId, { at: now, mailbox: mailboxId, outcome: 'resubscribe-requested', reason: resubscribeReason(state) });
    return;
  }
  if (outcome.outcome === 'retried') {
    // Stays due: the next sweep tries again, so the push it could not send does not count against the limit.
    await deps.actionLimit.releaseMailboxAction(deviceId, mailboxId, 'resubscribe', now);
    await deps.supervision.updateMailboxSupervision(deviceId, mailboxId, { supervisionState: state });
  } else {
    await deps.supervision.updateMailboxSupervision(deviceId, mailboxId, { supervisionState: state, dueAt: now + RETIRED_RECHECK_MS });
  }
  await record(deps, deviceId, { at: now, mailbox: mailboxId, outcome: outcome.outcome, reason: outcome.reason });
}

/**
 * A device is due for its interval push, or because it was just retired: then the relay lets go of the subscriptions
 * it keeps for its mailboxes (docs/relay-managed-subscriptions.md, "A retired device").
 */
async function runInterval(deviceId: string, now: number, deps: SupervisorDeps, report: SweepReport): Promise<void> {
  const device = await deps.devices.getDevice(deviceId);
  if (!device) {
    report.stale++;
    return;
  }
  if (device.status !== 'active') {
    const found = await deps.devices.getDeviceWithMailboxes(deviceId);
    for (const mailbox of found?.mailboxes ?? []) if (holdsRelaySubscription(mailbox)) await releaseRetired(device.orgId, mailbox, deps);
  }
  if (device.mode !== 'interval' || device.status !== 'active') {
    report.stale++;
    await deps.registry.updateDevice(deviceId, { dueAt: null }, now);
    return;
  }
  if ((device.dueAt ?? 0) > now) {
    report.stale++;
    return;
  }
  const next = nextIntervalAt(device.dueAt ?? now, now, device.intervalSeconds);
  const rule = decideAlert({ alerts: device.alerts, timeZone: device.timeZone, at: new Date(now) });
  if (!rule.alert) {
    report.intervalSuppressed++;
    await deps.registry.updateDevice(deviceId, { dueAt: next }, now);
    return;
  }
  const result = await sendBackground(device, intervalPush(), deps);
  const outcome = await outcomeOf(result, device, now, deps);
  if (outcome.outcome === 'pushed') report.intervalPushes++;
  // The schedule moves on whatever happened: a missed wake-up is made good by the next one.
  await deps.registry.updateDevice(deviceId, { dueAt: next }, now);
  if (outcome.outcome !== 'pushed' && outcome.outcome !== 'retried') {
    // A wake-up is about the device, not one mailbox; its decision is filed under the primary mailbox, since an
    // event's `mailbox` is always one of the device's ids (contract section 3).
    const primary = (await deps.devices.getDeviceWithMailboxes(deviceId))?.mailboxes.find((mailbox) => mailbox.kind === 'primary');
    if (primary) await record(deps, deviceId, { at: now, mailbox: primary.mailboxId, outcome: outcome.outcome, reason: `interval:${outcome.reason}` });
  }
}

/**
 * Why the device is asked to resubscribe: its subscription's state, `expiring` for a live one, and `not-reported` for
 * a mailbox whose device never reported one (nothing was heard from it for 2 x StatusFrequency either).
 */
function resubscribeReason(state: SubscriptionState): string {
  if (state === 'live') return 'subscription-expiring';
  if (state === 'pending') return 'subscription-not-reported';
  return `subscription-${state}`;
}

/** False when the supervisor has no means to (no queue or store for it), or the relay no longer managed the mailbox. */
async function releaseRetired(orgId: string, mailbox: MailboxRecord, deps: SupervisorDeps): Promise<boolean> {
  if (!deps.managed || !deps.managedWork) return false;
  return releaseRetiredMailbox({ orgId, mailbox }, { managed: deps.managed, queue: deps.managedWork, now: deps.now, counter: deps.counter });
}

async function sendBackground(device: DeviceRecord, message: PushMessage, deps: SupervisorDeps): Promise<PushResult | RetryableDeliveryError> {
  try {
    return await deps.push.send(
      { deviceId: device.deviceId, pushToken: device.pushToken, environment: device.apnsEnvironment, ...(device.endpointArn ? { endpointArn: device.endpointArn } : {}) },
      message,
    );
  } catch (error) {
    if (error instanceof RetryableDeliveryError) return error;
    throw error;
  }
}

async function outcomeOf(result: PushResult | RetryableDeliveryError, device: DeviceRecord, now: number, deps: SupervisorDeps): Promise<PushOutcome> {
  // A background push is not retried from a queue: the next sweep or wake-up is its retry.
  if (result instanceof RetryableDeliveryError) return deferredPushOutcome(result, false);
  return settlePushResult({ result, device, now }, deps);
}

async function record(deps: SupervisorDeps, deviceId: string, decision: { at: number; mailbox: string; outcome: DecisionOutcome; reason: string }): Promise<void> {
  try {
    await deps.decisions.record(deviceId, { ...decision, at: new Date(decision.at).toISOString() });
  } catch (error) {
    deps.logger.error('could not record a supervisor decision', { error: error as Error, outcome: decision.outcome });
  }
}
