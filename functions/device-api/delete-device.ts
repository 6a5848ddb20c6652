import type { DeviceRecord } from '../../shared/store/ports.js';
import type { DeviceApiDeps } from './deps.js';

/** Deletes everything stored for the device, then its push endpoint (if the gateway has one). */
export async function deleteDevice(device: DeviceRecord, deps: Pick<DeviceApiDeps, 'registry' | 'endpoints'>): Promise<void> {
  await deps.registry.deleteDevice(device.deviceId);
  if (device.endpointArn) await deps.endpoints.unregister(device.endpointArn);
}
