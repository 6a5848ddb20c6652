import type { DecisionOutcome } from '../../shared/device/device-schemas.js';
import { RetryableDeliveryError } from '../../shared/errors.js';
import { newMailPush } from '../../shared/push/apns-payloads.js';
import type { PushGateway, PushResult } from '../../shared/push/push-gateway.js';
import { queueMessageSchema, type NewMailMessage } from '../../shared/queue/queue-messages.js';
import { decideAlert } from '../../shared/rules/alert-rules.js';
import type { DecisionLog, DedupeStore, DeviceRecord, DeviceStore } from '../../shared/store/ports.js';
import type { OutcomeCounter, UseCaseLogger } from '../_lib/powertools.js';

export interface DispatcherDeps {
  store: DeviceStore;
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
}

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

/** How many mailboxes of one batch are worked on at once. */
const GROUP_CONCURRENCY = 10;

/**
 * Drains a batch from the event queue. Records are grouped per mailbox so that several new mails arriving in one
 * batch become one alert (coalescing), which is why this does not use a per-record batch processor: a group fails
 * or succeeds together and its records are reported as batch item failures together.
 *
 * Per group: drop events already seen (idempotency keys claimed before the rules run, so a retry of a suppressed
 * notification never pushes later), apply the alert rules at the time each notification arrived, push once, and
 * record why. A crash after the claim and before the push is safe: the same SQS message finds its own pending claim
 * on redelivery and pushes then. A crash after the push and before completion pushes at most once more.
 */
export async function dispatchNotifications(records: DispatchRecord[], deps: DispatcherDeps): Promise<DispatchResult> {
  const failed: string[] = [];
  const groups = new Map<string, ParsedRecord[]>();
  for (const record of records) {
    const message = parseRecord(record, deps);
    if (!message) {
      // A body that can never be parsed is poison: fail it so it reaches the DLQ with its reason logged.
      failed.push(record.messageId);
      continue;
    }
    const groupKey = `${message.deviceId}\u0000${message.mailboxId}`;
    const group = groups.get(groupKey) ?? [];
    group.push({ record, message });
    groups.set(groupKey, group);
  }

  const queue = [...groups.values()];
  const workers = Array.from({ length: Math.min(GROUP_CONCURRENCY, queue.length) }, async () => {
    for (let group = queue.shift(); group; group = queue.shift()) {
      try {
        await dispatchGroup(group, deps);
      } catch (error) {
        deps.logger.warn('mailbox group failed; its records will be redelivered', { error: error as Error, records: group.length });
        failed.push(...group.map(({ record }) => record.messageId));
      }
    }
  });
  await Promise.all(workers);
  return { failedMessageIds: failed };
}

function parseRecord(record: DispatchRecord, deps: DispatcherDeps): NewMailMessage | undefined {
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

async function dispatchGroup(group: ParsedRecord[], deps: DispatcherDeps): Promise<void> {
  const first = group[0];
  if (!first) return;
  const { deviceId, mailboxId } = first.message;
  const { device, mailbox } = await deps.store.getDeviceAndMailbox(deviceId, mailboxId);
  if (!device || !mailbox) {
    // Deleted device or removed mailbox: nothing may be stored for it any more, not even a decision.
    deps.counter.count('DroppedForRemovedMailbox', group.length);
    return;
  }

  const now = deps.now();
  const fresh: Array<{ parsed: ParsedRecord; keys: string[] }> = [];
  for (const parsed of group) {
    const claims = await deps.dedupe.claim({
      deviceId,
      keys: parsed.message.eventKeys,
      claimant: parsed.record.messageId,
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

  const allowed: typeof fresh = [];
  for (const entry of fresh) {
    const decision = decideAlert({ alerts: device.alerts, timeZone: device.timeZone, at: new Date(entry.parsed.message.receivedAt) });
    if (decision.alert) {
      allowed.push(entry);
    } else {
      await settle(deps, device, mailboxId, [entry], 'suppressed', `rule:${decision.rule}`);
    }
  }
  if (allowed.length === 0) return;

  const newMessages = allowed.reduce((sum, entry) => sum + entry.keys.length, 0);
  let result: PushResult;
  try {
    result = await deps.push.send(
      { deviceId, pushToken: device.pushToken, environment: device.apnsEnvironment, ...(device.endpointArn ? { endpointArn: device.endpointArn } : {}) },
      newMailPush({ mailboxId, newMessages }),
    );
  } catch (error) {
    const lastAttempt = allowed.some((entry) => entry.parsed.record.receiveCount >= deps.maxReceiveCount);
    const reason = error instanceof RetryableDeliveryError ? error.reason : 'push-error';
    for (const entry of allowed) {
      await decide(deps, deviceId, {
        at: entry.parsed.message.receivedAt,
        mailbox: mailboxId,
        outcome: lastAttempt ? 'dead-lettered' : 'retried',
        reason,
      });
    }
    throw error;
  }

  switch (result.outcome) {
    case 'delivered':
      await settle(deps, device, mailboxId, allowed, 'pushed', `apns:delivered${newMessages > 1 ? `:coalesced-${newMessages}` : ''}`);
      return;
    case 'token-invalid': {
      const retired = await deps.store.retireDevice(deviceId, {
        pushToken: device.pushToken,
        tokenRejectedAt: result.timestamp ?? now,
        reason: result.reason,
        now,
      });
      const outcome: DecisionOutcome = retired ? 'token-retired' : 'failed';
      await settle(deps, device, mailboxId, allowed, outcome, `apns:${result.status}:${result.reason}${retired ? '' : ':token-newer-than-rejection'}`);
      return;
    }
    case 'rejected':
      deps.logger.warn('push rejected and not retried', { status: result.status, reason: result.reason });
      await settle(deps, device, mailboxId, allowed, 'failed', `apns:${result.status}:${result.reason}`);
      return;
  }
}

/**
 * Completes the claims and records the decision. Failures here are logged, not thrown: the push (or the decision not
 * to push) already happened, and failing the record would only risk a duplicate.
 */
async function settle(
  deps: DispatcherDeps,
  device: DeviceRecord,
  mailboxId: string,
  entries: Array<{ parsed: ParsedRecord; keys: string[] }>,
  outcome: DecisionOutcome,
  reason: string,
): Promise<void> {
  deps.counter.count(`Outcome-${outcome}`, entries.length);
  for (const entry of entries) {
    try {
      await deps.dedupe.complete({ deviceId: device.deviceId, keys: entry.keys, claimant: entry.parsed.record.messageId, outcome, now: deps.now() });
    } catch (error) {
      deps.logger.error('could not complete event keys', { error: error as Error });
    }
    await decide(deps, device.deviceId, { at: entry.parsed.message.receivedAt, mailbox: mailboxId, outcome, reason });
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
