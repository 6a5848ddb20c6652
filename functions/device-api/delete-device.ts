import type { DeviceRecord } from '../../shared/store/ports.js';
import type { DeviceApiDeps } from './deps.js';

/**
 * Deletes everything stored for the device (its organization-mode fields live on its own items and go with them),
 * then its membership in the org, then its push endpoint (if the gateway has one).
 */
export async function deleteDevice(device: DeviceRecord, deps: Pick<DeviceApiDeps, 'registry' | 'endpoints' | 'orgs'>): Promise<void> {
  await deps.registry.deleteDevice(device.deviceId);
  await deps.orgs.removeMember(device.orgId, device.deviceId);
  if (device.endpointArn) await deps.endpoints.unregister(device.endpointArn);
}
