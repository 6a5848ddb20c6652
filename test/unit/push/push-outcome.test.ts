import { describe, expect, it } from 'vitest';
import { RetryableDeliveryError } from '../../../shared/errors.js';
import { deferredPushOutcome, settlePushResult } from '../../../shared/push/push-outcome.js';
import type { TokenRetirement } from '../../../shared/store/ports.js';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const device = { deviceId: 'device-1', pushToken: 'ab'.repeat(32) };

/** A retirement port that answers as told and remembers what it was asked. */
function retirement(retires: boolean): TokenRetirement & { calls: unknown[] } {
  const calls: unknown[] = [];
  return { calls, retireDevice: async (deviceId, input) => (calls.push({ deviceId, ...input }), retires) };
}

describe('what a push result means (dispatcher and supervisor alike)', () => {
  it('reads a delivery as pushed, and names a coalesced burst', async () => {
    const deps = { retirement: retirement(true) };
    expect(await settlePushResult({ result: { outcome: 'delivered' }, device, now: T0 }, deps)).toEqual({ outcome: 'pushed', reason: 'apns:delivered' });
    expect(await settlePushResult({ result: { outcome: 'delivered' }, device, newMessages: 4, now: T0 }, deps)).toEqual({
      outcome: 'pushed',
      reason: 'apns:delivered:coalesced-4',
    });
    expect(deps.retirement.calls).toEqual([]);
  });

  it("retires the device on a dead token, as of APNs' timestamp", async () => {
    const deps = { retirement: retirement(true) };
    const result = { outcome: 'token-invalid', status: 410, reason: 'Unregistered', timestamp: T0 - 5_000 } as const;
    expect(await settlePushResult({ result, device, now: T0 }, deps)).toEqual({ outcome: 'token-retired', reason: 'apns:410:Unregistered' });
    expect(deps.retirement.calls).toEqual([{ deviceId: 'device-1', pushToken: device.pushToken, tokenRejectedAt: T0 - 5_000, reason: 'Unregistered', now: T0 }]);
  });

  it('records a failure, not a retirement, when the device registered its token after the rejection', async () => {
    const deps = { retirement: retirement(false) };
    const result = { outcome: 'token-invalid', status: 400, reason: 'BadDeviceToken' } as const;
    expect(await settlePushResult({ result, device, now: T0 }, deps)).toEqual({ outcome: 'failed', reason: 'apns:400:BadDeviceToken:token-newer-than-rejection' });
    expect(deps.retirement.calls).toMatchObject([{ tokenRejectedAt: T0 }]);
  });

  it('reads any other refusal as failed', async () => {
    const result = { outcome: 'rejected', status: 400, reason: 'PayloadTooLarge' } as const;
    expect(await settlePushResult({ result, device, now: T0 }, { retirement: retirement(true) })).toEqual({ outcome: 'failed', reason: 'apns:400:PayloadTooLarge' });
  });

  it("defers a push that threw: retried, or dead-lettered on the queue's last attempt", () => {
    expect(deferredPushOutcome(new RetryableDeliveryError('apns:503:ServiceUnavailable'), false)).toEqual({ outcome: 'retried', reason: 'apns:503:ServiceUnavailable' });
    expect(deferredPushOutcome(new Error('socket hang up'), true)).toEqual({ outcome: 'dead-lettered', reason: 'push-error' });
  });
});
