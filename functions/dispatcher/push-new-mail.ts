import { newMailPush } from '../../shared/push/apns-payloads.js';
import type { PushResult } from '../../shared/push/push-gateway.js';
import { deferredPushOutcome, settlePushResult, type PushOutcome } from '../../shared/push/push-outcome.js';
import type { DeviceRecord } from '../../shared/store/ports.js';
import type { DispatcherDeps } from './deps.js';
import { recordOutcome } from './record-outcome.js';

/** The device fields a new-mail push reads: where it goes. */
export type PushDestination = Pick<DeviceRecord, 'deviceId' | 'pushToken' | 'apnsEnvironment' | 'endpointArn'>;

export interface NewMailPushInput {
  device: PushDestination;
  mailboxId: string;
  newMessages: number;
  notifications: Array<{ at: number; receiveCount: number }>;
  /** Organization mode: the encrypted details, and the reason a delivered push is recorded with (`vip`, `fetch-failed`). */
  enc?: string;
  reason?: string;
}

/**
 * Sends one new-mail alert and turns the gateway's answer into the decision to record (`settlePushResult`). A failure records
 * `retried` (or `dead-lettered` on the queue's last attempt) for each notification and rethrows, so the records fail.
 */
export async function pushNewMail(input: NewMailPushInput, deps: DispatcherDeps): Promise<PushOutcome> {
  return settleNewMailPush({ ...input, result: await sendNewMail(input, deps) }, deps);
}

/**
 * Sends the alert and answers the gateway's result without acting on it (the caller settles it, `settleNewMailPush`):
 * a push judged by a carried registration is settled only once a fresh read says the refused destination is current.
 * A failure records `retried` (or `dead-lettered`) for each notification and rethrows, as `pushNewMail` does.
 */
export async function sendNewMail(input: NewMailPushInput, deps: DispatcherDeps): Promise<PushResult> {
  const { device, mailboxId, newMessages, notifications, enc } = input;
  const { deviceId } = device;
  try {
    return await deps.push.send(
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
}

/** What a sent alert's result comes to (a refused token retires `device` if it is still the device's token). */
export async function settleNewMailPush(
  input: Pick<NewMailPushInput, 'device' | 'newMessages' | 'reason'> & { result: PushResult },
  deps: DispatcherDeps,
): Promise<PushOutcome> {
  const { result, device, newMessages } = input;
  if (result.outcome === 'rejected') deps.logger.warn('push rejected and not retried', { status: result.status, reason: result.reason });
  const outcome = await settlePushResult({ result, device, newMessages, now: deps.now() }, deps);
  // Delivered because of organization mode's judgement: the decision says why (`vip`, `fetch-failed`), never who.
  return outcome.outcome === 'pushed' && input.reason !== undefined ? { ...outcome, reason: input.reason } : outcome;
}
