import type { DeviceView } from '../../shared/device/device-schemas.js';
import { DeviceNotFoundError } from '../../shared/errors.js';
import type { DeviceRecord } from '../../shared/store/ports.js';
import type { DeviceApiDeps } from './deps.js';
import { toDeviceView } from './device-view.js';
import { OrganizationContext } from './organization-fields.js';

/** The device as the device API shows it: settings, mailboxes and their subscription states, its organization mode. */
export async function getDevice(device: DeviceRecord, deps: Pick<DeviceApiDeps, 'devices' | 'now' | 'orgs' | 'keyring' | 'readers'>): Promise<DeviceView> {
  const found = await deps.devices.getDeviceWithMailboxes(device.deviceId);
  if (!found) throw new DeviceNotFoundError();
  const organization = await OrganizationContext.load(found.device.orgId, deps);
  return toDeviceView(found, deps.now(), await organization.viewPart(found.mailboxes));
}
