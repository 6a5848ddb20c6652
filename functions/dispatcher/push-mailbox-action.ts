import { MAILBOX_ACTION_PUSH_INTERVAL_MS, mailboxActionPush } from '../../shared/push/apns-payloads.js';
import type { PushResult } from '../../shared/push/push-gateway.js';
import { deferredPushOutcome, settlePushResult } from '../../shared/push/push-outcome.js';
import type { MailboxActionMessage } from '../../shared/queue/queue-messages.js';
import type { DeviceRecord, MailboxRecord } from '../../shared/store/ports.js';
import type { DispatcherDeps, DispatchRecord } from './deps.js';
import { recordOutcome } from './record-outcome.js';
import { retiredDeviceRefusal } from './device-refusal.js';


/**
 * Sends the background pushes that Graph lifecycle events asked for (`reauthorize`, `resubscribe`, `sync`), one per
 * mailbox and action in 5 minutes: a push held back by that limit is recorded `suppressed`, reason `rate-limited`.
 * A retryable failure gives the claim back, records `retried` (or `dead-lettered` on the last attempt) and rethrows,
 * so the record is redelivered and pushes then.
 */
export async function pushMailboxActions(
  input: { records: DispatchRecord<MailboxActionMessage>[]; device: DeviceRecord; mailbox: MailboxRecord },
  deps: DispatcherDeps,
): Promise<void> {
  const { device, mailbox } = input;
  const { deviceId, mailboxId } = mailbox;
  for (const { message, receiveCount } of input.records) {
    const decision = { deviceId, mailbox: mailboxId, at: message.receivedAt };
    const retired = retiredDeviceRefusal(device);
    if (retired) {
      await recordOutcome({ ...decision, ...retired }, deps);
      continue;
    }
    const now = deps.now();
    if (!(await deps.actionLimit.claimMailboxAction(deviceId, mailboxId, message.action, now, MAILBOX_ACTION_PUSH_INTERVAL_MS))) {
      await recordOutcome({ ...decision, outcome: 'suppressed', reason: 'rate-limited' }, deps);
      continue;
    }
    let result: PushResult;
    try {
      result = await deps.push.send(
        { deviceId, pushToken: device.pushToken, environment: device.apnsEnvironment, ...(device.endpointArn ? { endpointArn: device.endpointArn } : {}) },
        mailboxActionPush(message.action, mailboxId),
      );
    } catch (error) {
      await deps.actionLimit.releaseMailboxAction(deviceId, mailboxId, message.action, now);
      await recordOutcome({ ...decision, ...deferredPushOutcome(error, receiveCount >= deps.maxReceiveCount) }, deps);
      throw error;
    }
    if (result.outcome === 'rejected') deps.logger.warn('mailbox action push rejected and not retried', { status: result.status, reason: result.reason });
    const settled = await settlePushResult({ result, device, now }, deps);
    // Delivered: the decision names what was asked and why; anything else is recorded as the push came to.
    await recordOutcome({ ...decision, ...(settled.outcome === 'pushed' ? { outcome: `${message.action}-requested` as const, reason: message.reason } : settled) }, deps);
  }
}
