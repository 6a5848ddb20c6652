import type { DecisionOutcome } from '../device/device-schemas.js';
import { RetryableDeliveryError } from '../errors.js';
import type { TokenRetirement } from '../store/ports.js';
import type { PushResult } from './push-gateway.js';

/** What a push came to, as the decision log records it (contract section 3). */
export interface PushOutcome {
  outcome: DecisionOutcome;
  reason: string;
}

/**
 * What a push gateway's answer means, for every sender (the dispatcher's alerts, the supervisor's background pushes):
 * a dead token retires the device, unless the device registered its token after the rejection (then the push counts
 * as failed, `:token-newer-than-rejection`, and the device stays active).
 */
export async function settlePushResult(
  input: {
    result: PushResult;
    device: { deviceId: string; pushToken: string };
    /** New mails the alert announced; more than one is a coalesced burst. */
    newMessages?: number;
    now: number;
  },
  deps: { retirement: TokenRetirement },
): Promise<PushOutcome> {
  const { result, device, now } = input;
  switch (result.outcome) {
    case 'delivered':
      return { outcome: 'pushed', reason: `apns:delivered${(input.newMessages ?? 1) > 1 ? `:coalesced-${input.newMessages}` : ''}` };
    case 'token-invalid': {
      const retired = await deps.retirement.retireDevice(device.deviceId, {
        pushToken: device.pushToken,
        tokenRejectedAt: result.timestamp ?? now,
        reason: result.reason,
        now,
      });
      return { outcome: retired ? 'token-retired' : 'failed', reason: `apns:${result.status}:${result.reason}${retired ? '' : ':token-newer-than-rejection'}` };
    }
    case 'rejected':
      return { outcome: 'failed', reason: `apns:${result.status}:${result.reason}` };
  }
}

/**
 * A push that threw: the sender tries again later (`retried`), unless this was the queue's last attempt
 * (`dead-lettered`). The reason is the gateway's for a RetryableDeliveryError, `push-error` for anything else.
 */
export function deferredPushOutcome(error: unknown, lastAttempt: boolean): PushOutcome {
  const reason = error instanceof RetryableDeliveryError ? error.reason : 'push-error';
  return { outcome: lastAttempt ? 'dead-lettered' : 'retried', reason };
}
