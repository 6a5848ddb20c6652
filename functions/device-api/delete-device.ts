import type { DeviceRecord } from '../../shared/store/ports.js';
import type { DeviceApiDeps } from './deps.js';
import { isReplaced } from './take-push-token.js';
import { relaySubscriptionOf } from '../../shared/org/managed-subscription.js';
import { queueDeletions } from './relay-management.js';

/**
 * Deletes everything stored for the device (its organization-mode fields live on its own items and go with them, and
 * the relay's subscriptions of its mailboxes are deleted by the dispatcher),
 * then its membership in the org, then its push endpoint (if the gateway has one), unless another device took its
 * push token over (a reinstall): the endpoint is that device's now. The device stops counting against its
 * organization's cap, unless it already did when it was replaced.
 */
export async function deleteDevice(
  device: DeviceRecord,
  deps: Pick<DeviceApiDeps, 'registry' | 'endpoints' | 'orgs' | 'pushTokens' | 'deviceQuota' | 'queue' | 'now' | 'logger' | 'counter'>,
): Promise<void> {
  const holder = await deps.pushTokens.pushTokenHolder(device.pushToken);
  const removed = await deps.registry.deleteDevice(device.deviceId);
  // The relay's Graph subscriptions of its mailboxes (contract section 9), as they were when deleted.
  await queueDeletions(device.orgId, removed.map(relaySubscriptionOf), deps);
  await deps.orgs.removeMember(device.orgId, device.deviceId);
  await deps.pushTokens.releasePushToken(device.pushToken, device.deviceId);
  if (!isReplaced(device)) await deps.deviceQuota.releaseDevice(device.orgId);
  const endpointIsOurs = holder === undefined || holder === device.deviceId;
  if (device.endpointArn && endpointIsOurs) await deps.endpoints.unregister(device.endpointArn);
}
