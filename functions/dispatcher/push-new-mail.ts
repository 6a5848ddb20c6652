import { newMailPush } from '../../shared/push/apns-payloads.js';
import type { PushResult } from '../../shared/push/push-gateway.js';
import { deferredPushOutcome, settlePushResult, type PushOutcome } from '../../shared/push/push-outcome.js';
import type { DeviceRecord } from '../../shared/store/ports.js';
import type { DispatcherDeps } from './deps.js';
import { recordOutcome } from './record-outcome.js';

/**
 * Sends one new-mail alert and turns the gateway's answer into the decision to record (`settlePushResult`). A failure records
 * `retried` (or `dead-lettered` on the queue's last attempt) for each notification and rethrows, so the records fail.
 */
export async function pushNewMail(
  input: {
    device: DeviceRecord;
    mailboxId: string;
    newMessages: number;
    notifications: Array<{ at: number; receiveCount: number }>;
    /** Organization mode: the encrypted details, and the reason a delivered push is recorded with (`vip`, `fetch-failed`). */
    enc?: string;
    reason?: string;
  },
  deps: DispatcherDeps,
): Promise<PushOutcome> {
  const { device, mailboxId, newMessages, notifications, enc } = input;
  const { deviceId } = device;
  let result: PushResult;
  try {
    result = await deps.push.send(
      { deviceId, pushToken: device.pushToken, environment: device.apnsEnvironment, ...(device.endpointArn ? { endpointArn: device.endpointArn } : {}) },
      newMailPush({ mailboxId, newMessages, ...(enc === undefined ? {} : { enc }) }),
    );
  } catch (error) {
    const deferred = deferredPushOutcome(error, notifications.some((n) => n.receiveCount >= deps.maxReceiveCount));
    // Recorded (and counted), so that the push failure rate alarm sees outages and not only the refusals APNs answers.
    for (const notification of notifications) {
      await recordOutcome({ deviceId, at: notification.at, mailbox: mailboxId, ...deferred }, deps);
    }
    throw error;
  }

  if (result.outcome === 'rejected') deps.logger.warn('push rejected and not retried', { status: result.status, reason: result.reason });
  const outcome = await settlePushResult({ result, device, newMessages, now: deps.now() }, deps);
  // Delivered because of organization mode's judgement: the decision says why (`vip`, `fetch-failed`), never who.
  return outcome.outcome === 'pushed' && input.reason !== undefined ? { ...outcome, reason: input.reason } : outcome;
}
