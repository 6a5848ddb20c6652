import { deviceSettingsSchema, type DeviceView, type PatchDeviceRequest } from '../../shared/device/device-schemas.js';
import { applyMergePatch } from '../../shared/device/merge-patch.js';
import { DeviceNotFoundError, ValidationError } from '../../shared/errors.js';
import type { DeviceChanges, DeviceRecord } from '../../shared/store/ports.js';
import { toFieldIssues } from '../../shared/validation.js';
import type { DeviceApiDeps } from './deps.js';
import { toDeviceView } from './device-view.js';
import { firstIntervalAt } from '../../shared/supervision/interval-schedule.js';

/**
 * Applies a JSON Merge Patch to the device's settings. The merged settings are validated as a whole, so `null`
 * restores a default and an invalid combination is refused without storing anything. A new push token (or a new
 * APNs environment, which makes the same token a different destination) reactivates a retired device.
 */
export async function updateDevice(input: { device: DeviceRecord; patch: PatchDeviceRequest }, deps: DeviceApiDeps): Promise<DeviceView> {
  const { device, patch } = input;
  const { pushToken, ...settingsPatch } = patch;
  const current = {
    apnsEnvironment: device.apnsEnvironment,
    mode: device.mode,
    intervalSeconds: device.intervalSeconds,
    timeZone: device.timeZone,
    alerts: device.alerts,
  };
  const merged = deviceSettingsSchema.safeParse(applyMergePatch(current, settingsPatch));
  if (!merged.success) throw new ValidationError(toFieldIssues(merged.error.issues));
  const settings = merged.data;

  const now = deps.now();
  const changes: DeviceChanges = { ...settings };
  // Interval mode is scheduled through the due index; switching back to real time drops the schedule at once.
  if (settings.mode === 'realtime') {
    if (device.dueAt !== undefined) changes.dueAt = null;
  } else if (device.mode !== 'interval' || device.intervalSeconds !== settings.intervalSeconds || device.dueAt === undefined) {
    changes.dueAt = firstIntervalAt(now, settings.intervalSeconds, deps.random);
  }
  const tokenChanged = pushToken !== undefined && pushToken !== device.pushToken;
  const destinationChanged = tokenChanged || settings.apnsEnvironment !== device.apnsEnvironment;
  if (tokenChanged) {
    changes.pushToken = pushToken;
    changes.pushTokenUpdatedAt = now;
  }
  if (destinationChanged) {
    changes.status = 'active';
    changes.retiredReason = null;
    const endpointArn = await deps.endpoints.register({
      deviceId: device.deviceId,
      pushToken: pushToken ?? device.pushToken,
      environment: settings.apnsEnvironment,
      ...(device.endpointArn === undefined ? {} : { endpointArn: device.endpointArn }),
    });
    if (endpointArn !== undefined) changes.endpointArn = endpointArn;
  }
  await deps.store.updateDevice(device.deviceId, changes, now);
  const updated = await deps.store.getDeviceWithMailboxes(device.deviceId);
  if (!updated) throw new DeviceNotFoundError();
  return toDeviceView(updated, now);
}
