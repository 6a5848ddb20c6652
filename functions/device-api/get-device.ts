import type { DeviceView } from '../../shared/device/device-schemas.js';
import { DeviceNotFoundError } from '../../shared/errors.js';
import type { DeviceRecord } from '../../shared/store/ports.js';
import type { DeviceApiDeps } from './deps.js';
import { toDeviceView } from './device-view.js';

/** The device as the device API shows it: settings, mailboxes and their subscription states. */
export async function getDevice(device: DeviceRecord, deps: Pick<DeviceApiDeps, 'devices' | 'now'>): Promise<DeviceView> {
  const found = await deps.devices.getDeviceWithMailboxes(device.deviceId);
  if (!found) throw new DeviceNotFoundError();
  return toDeviceView(found, deps.now());
}
