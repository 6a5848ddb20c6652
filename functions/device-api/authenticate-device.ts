import { DeviceNotFoundError, ForbiddenError } from '../../shared/errors.js';
import type { DeviceRecord } from '../../shared/store/ports.js';
import { isPossibleDeviceId, secretMatches } from '../_lib/device-secrets.js';
import type { DeviceApiDeps } from './deps.js';

/**
 * Loads the device and checks the presented device secret against the stored hash in constant time.
 * A missing device answers 404 and a wrong secret 403 (contract: another device's secret gets 403 or 404).
 */
export async function authenticateDevice(deviceId: string, presentedSecret: string, deps: Pick<DeviceApiDeps, 'devices'>): Promise<DeviceRecord> {
  if (!isPossibleDeviceId(deviceId)) throw new DeviceNotFoundError();
  const device = await deps.devices.getDevice(deviceId);
  if (!device) throw new DeviceNotFoundError();
  if (!secretMatches(presentedSecret, device.secretHash)) throw new ForbiddenError('this device secret does not belong to this device');
  return device;
}
