import type { DeviceApiDeps } from './deps.js';

/** The retirement reason of a device whose push token a newer registration (an app reinstall) took over. */
export const REPLACED_REASON = 'replaced-by-new-registration';

/**
 * One device per push token: `device` takes the token over, and the device that held it (the same app before a
 * reinstall) is retired explicitly, instead of both sharing one token and one SNS endpoint, so that deleting either
 * can no longer delete the other's endpoint. The replaced device keeps its record (its owner sees `retired`, and its
 * PATCH with the token takes it back), and stops counting against its organization's device cap: an app that lost its
 * device secret to a reinstall cannot delete it.
 */
export async function takePushToken(
  device: { deviceId: string },
  pushToken: string,
  deps: Pick<DeviceApiDeps, 'devices' | 'retirement' | 'pushTokens' | 'deviceQuota' | 'now'>,
): Promise<void> {
  const previous = await deps.pushTokens.claimPushToken(pushToken, device.deviceId);
  if (previous === undefined) return;
  const replaced = await deps.devices.getDevice(previous);
  if (!replaced) return;
  const now = deps.now();
  const retired = await deps.retirement.retireDevice(previous, { pushToken, tokenRejectedAt: now, reason: REPLACED_REASON, now });
  if (retired) await deps.deviceQuota.releaseDevice(replaced.orgId);
}

/** Whether the device stopped counting against its organization's cap because a reinstall replaced it. */
export function isReplaced(device: { status: string; retiredReason?: string | undefined }): boolean {
  return device.status === 'retired' && device.retiredReason === REPLACED_REASON;
}
