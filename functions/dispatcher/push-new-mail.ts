import type { DecisionOutcome } from '../../shared/device/device-schemas.js';
import { RetryableDeliveryError } from '../../shared/errors.js';
import { newMailPush } from '../../shared/push/apns-payloads.js';
import type { PushResult } from '../../shared/push/push-gateway.js';
import type { DeviceRecord } from '../../shared/store/ports.js';
import type { DispatcherDeps } from './deps.js';
import { recordOutcome } from './record-outcome.js';

/**
 * Sends one new-mail alert and turns the gateway's answer into the decision to record. A retryable failure records
 * `retried` (or `dead-lettered` on the queue's last attempt) for each notification and rethrows, so the records fail.
 */
export async function pushNewMail(
  input: { device: DeviceRecord; mailboxId: string; newMessages: number; notifications: Array<{ at: number; receiveCount: number }> },
  deps: DispatcherDeps,
): Promise<{ outcome: DecisionOutcome; reason: string }> {
  const { device, mailboxId, newMessages, notifications } = input;
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
    // Counted (by recordOutcome), so that the push failure rate alarm sees outages and not only the refusals APNs answers.
    for (const notification of notifications) {
      await recordOutcome({ deviceId, at: notification.at, mailbox: mailboxId, outcome: lastAttempt ? 'dead-lettered' : 'retried', reason }, deps);
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
