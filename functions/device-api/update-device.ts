import { setTimeout as sleep } from 'node:timers/promises';
import { deviceSettingsSchema, type DeviceView, type PatchDeviceRequest } from '../../shared/device/device-schemas.js';
import { applyMergePatch } from '../../shared/device/merge-patch.js';
import { ConcurrentUpdateError, DeviceNotFoundError, ValidationError } from '../../shared/errors.js';
import type { DeviceChanges, DeviceRecord } from '../../shared/store/ports.js';
import { toFieldIssues } from '../../shared/validation.js';
import type { DeviceApiDeps } from './deps.js';
import { isReplaced, takePushToken } from './take-push-token.js';

type UpdateDeviceDeps = Pick<DeviceApiDeps, 'devices' | 'registry' | 'endpoints' | 'now' | 'random' | 'retirement' | 'pushTokens' | 'deviceQuota' | 'orgs' | 'keyring' | 'readers'>;
import { toDeviceView } from './device-view.js';
import { OrganizationContext } from './organization-fields.js';
import { firstIntervalAt } from '../../shared/supervision/interval-schedule.js';

/**
 * How often a PATCH is re-applied when another request changed the device between its read and its write, and the
 * jittered pause before each new attempt (so that a dozen simultaneous PATCHes of one device spread out and all apply).
 */
const MAX_PATCH_ATTEMPTS = 10;
const RETRY_PAUSE_MS = { base: 5, jitter: 20 };

/**
 * Applies a JSON Merge Patch to the device's settings. The merged settings are validated as a whole, so `null`
 * restores a default and an invalid combination is refused without storing anything. A push token reactivates a
 * retired device: a new one, or the same one sent again, since the app sends the token iOS just gave it and APNs
 * counts a token registered after its rejection as valid again. So does a new APNs environment, which makes the same
 * token a different destination.
 *
 * The merged settings are written whole, so the write is conditional on the revision that was read: when two PATCHes
 * race, the second is merged again onto the first's result instead of overwriting it (409 only after
 * MAX_PATCH_ATTEMPTS collisions in a row).
 */
export async function updateDevice(input: { device: DeviceRecord; patch: PatchDeviceRequest }, deps: UpdateDeviceDeps): Promise<DeviceView> {
  let device = input.device;
  const endpoints = registerOnce(deps.endpoints);
  const organization = await OrganizationContext.load(device.orgId, deps);
  const { vipSenders, alertKey } = input.patch;
  organization.refuseInDefaultMode({ vipSenders, alertKey });
  // Replaced as a whole (a list, a key), null removes: worked out once, outside the re-applied merge.
  const orgChanges: DeviceChanges = {
    ...(vipSenders === undefined ? {} : { vipSenderHashes: vipSenders === null ? null : await organization.vipSenderHashes(vipSenders) }),
    ...(alertKey === undefined ? {} : { alertKey: alertKey === null ? null : organization.checkAlertKey(alertKey) }),
  };
  if (orgChanges.vipSenderHashes || orgChanges.alertKey) await deps.orgs.addMember(device.orgId, device.deviceId);
  for (let attempt = 1; ; attempt++) {
    try {
      await applyPatch(device, input.patch, orgChanges, { ...deps, endpoints });
      break;
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError) || attempt >= MAX_PATCH_ATTEMPTS) throw error;
      await sleep(RETRY_PAUSE_MS.base * attempt + RETRY_PAUSE_MS.jitter * deps.random());
      const latest = await deps.devices.getDevice(device.deviceId);
      if (!latest) throw new DeviceNotFoundError();
      device = latest;
    }
  }
  if (input.patch.pushToken !== undefined) {
    // A device a reinstall replaced stopped counting against the cap; sending the token again makes it active and
    // counted again, and the device it takes the token back from stops counting (so the count stays as it was).
    if (isReplaced(device)) await deps.deviceQuota.reserveDevice(device.orgId, Number.MAX_SAFE_INTEGER);
    await takePushToken(device, input.patch.pushToken, deps);
    if (device.pushToken !== input.patch.pushToken) await deps.pushTokens.releasePushToken(device.pushToken, device.deviceId);
  }
  const updated = await deps.devices.getDeviceWithMailboxes(device.deviceId);
  if (!updated) throw new DeviceNotFoundError();
  return toDeviceView(updated, deps.now(), await organization.viewPart(updated.mailboxes));
}

/**
 * The endpoint registry as one PATCH sees it: a re-applied PATCH registers the same destination once, not once per
 * attempt. Registration stays ahead of the conditional write, so that a failed registration stores nothing and the
 * app's retry of the PATCH (same token) still finds a destination to register.
 */
function registerOnce(endpoints: DeviceApiDeps['endpoints']): DeviceApiDeps['endpoints'] {
  const registered = new Map<string, Promise<string | undefined>>();
  return {
    register: (target) => {
      const key = JSON.stringify([target.pushToken, target.environment, target.endpointArn ?? null]);
      let arn = registered.get(key);
      if (!arn) {
        arn = endpoints.register(target);
        registered.set(key, arn);
        // A failed registration is not remembered: the error fails this PATCH, and nothing was written.
        arn.catch(() => registered.delete(key));
      }
      return arn;
    },
    unregister: (endpointArn) => endpoints.unregister(endpointArn),
  };
}

async function applyPatch(device: DeviceRecord, patch: PatchDeviceRequest, orgChanges: DeviceChanges, deps: UpdateDeviceDeps): Promise<void> {
  const { pushToken, vipSenders: _vipSenders, alertKey: _alertKey, ...settingsPatch } = patch;
  const current = {
    apnsEnvironment: device.apnsEnvironment,
    mode: device.mode,
    intervalSeconds: device.intervalSeconds,
    timeZone: device.timeZone,
    alerts: device.alerts,
  };
  const mergedInput = applyMergePatch(current, settingsPatch);
  const merged = deviceSettingsSchema.safeParse(mergedInput);
  if (!merged.success) throw new ValidationError(toFieldIssues(merged.error.issues, mergedInput));
  const settings = merged.data;

  const now = deps.now();
  const changes: DeviceChanges = { ...settings, ...orgChanges };
  // Interval mode is scheduled through the due index; switching back to real time drops the schedule at once.
  if (settings.mode === 'realtime') {
    if (device.dueAt !== undefined) changes.dueAt = null;
  } else if (device.mode !== 'interval' || device.intervalSeconds !== settings.intervalSeconds || device.dueAt === undefined) {
    changes.dueAt = firstIntervalAt(now, settings.intervalSeconds, deps.random);
  }
  const tokenChanged = pushToken !== undefined && pushToken !== device.pushToken;
  const tokenResent = pushToken !== undefined && device.status === 'retired';
  const destinationChanged = tokenChanged || tokenResent || settings.apnsEnvironment !== device.apnsEnvironment;
  if (tokenChanged || tokenResent) {
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
  await deps.registry.updateDevice(device.deviceId, changes, now, { ifRevision: device.revision ?? 0 });
}
