import { deviceSettingsSchema, type DeviceView, type PatchDeviceRequest } from '../../shared/device/device-schemas.js';
import { applyMergePatch } from '../../shared/device/merge-patch.js';
import { ConcurrentUpdateError, DeviceNotFoundError, ValidationError } from '../../shared/errors.js';
import type { ManagedSubscriptionMessage } from '../../shared/queue/queue-messages.js';
import type { DeviceChanges, DeviceRecord, MailboxRecord } from '../../shared/store/ports.js';
import { toFieldIssues } from '../../shared/validation.js';
import { firstIntervalAt } from '../../shared/supervision/interval-schedule.js';
import type { PushEndpointRegistry } from '../../shared/push/push-gateway.js';
import { retry, retryTiming, type RetryPolicy } from '../_lib/retry.js';
import type { DeviceApiDeps } from './deps.js';
import { toDeviceView } from './device-view.js';
import { OrganizationContext } from './organization-fields.js';
import { isReplaced, takePushToken } from './take-push-token.js';

type UpdateDeviceDeps = Pick<
  DeviceApiDeps,
  'devices' | 'registry' | 'endpoints' | 'now' | 'random' | 'sleep' | 'retirement' | 'pushTokens' | 'deviceQuota' | 'orgs' | 'keyring' | 'readers' | 'queue' | 'logger' | 'counter'
>;
type Destination = Parameters<PushEndpointRegistry['register']>[0];

/**
 * How often a PATCH is re-applied when another request changed the device between its read and its write, and the
 * jittered pause before each new attempt (so that a dozen simultaneous PATCHes of one device spread out and all apply).
 */
const MAX_PATCH_ATTEMPTS = 10;
const RETRY_PAUSE_MS = { base: 5, jitter: 20 };
const ON_CONCURRENT_UPDATE: RetryPolicy = {
  attempts: MAX_PATCH_ATTEMPTS,
  retryable: (error) => error instanceof ConcurrentUpdateError,
  delayMs: (attempt, random) => RETRY_PAUSE_MS.base * attempt + RETRY_PAUSE_MS.jitter * random(),
};

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
 *
 * A new destination is registered (SNS platform endpoint) once, after the conditional write succeeded, not inside
 * the re-apply loop: a PATCH re-applied ten times still makes one registration, for the destination that was
 * actually stored. A registration that fails then undoes the write (see `undoWrite`), so the PATCH answers 503 having
 * changed nothing and the app's retry of the same PATCH finds the same new destination and registers it; had the
 * write stayed, the retry would find the token already stored and register nothing, leaving the device without an
 * endpoint for its token.
 */
export async function updateDevice(input: { device: DeviceRecord; patch: PatchDeviceRequest }, deps: UpdateDeviceDeps): Promise<DeviceView> {
  const organization = await OrganizationContext.load(input.device.orgId, deps);
  const { vipSenders, alertKey } = input.patch;
  organization.refuseInDefaultMode({ vipSenders, alertKey });
  // Replaced as a whole (a list, a key), null removes: worked out once, outside the re-applied merge.
  const orgChanges: DeviceChanges = {
    ...(vipSenders === undefined ? {} : { vipSenderHashes: vipSenders === null ? null : await organization.vipSenderHashes(vipSenders) }),
    ...(alertKey === undefined ? {} : { alertKey: alertKey === null ? null : organization.checkAlertKey(alertKey) }),
  };
  if (orgChanges.vipSenderHashes || orgChanges.alertKey) await deps.orgs.addMember(input.device.orgId, input.device.deviceId);
  const written = await retry(
    async (attempt) => {
      const device = attempt === 1 ? input.device : await deps.devices.getDevice(input.device.deviceId);
      if (!device) throw new DeviceNotFoundError();
      return applyPatch(device, input.patch, orgChanges, deps);
    },
    ON_CONCURRENT_UPDATE,
    timingOf(deps),
  );
  if (written.destination) await registerDestination(written, written.destination, deps);
  const device = written.before;
  if (input.patch.pushToken !== undefined) {
    // A device a reinstall replaced stopped counting against the cap; sending the token again makes it active and
    // counted again, and the device it takes the token back from stops counting (so the count stays as it was).
    if (isReplaced(device)) await deps.deviceQuota.reserveDevice(device.orgId, Number.MAX_SAFE_INTEGER);
    await takePushToken(device, input.patch.pushToken, deps);
    if (device.pushToken !== input.patch.pushToken) await deps.pushTokens.releasePushToken(device.pushToken, device.deviceId);
  }
  const updated = await deps.devices.getDeviceWithMailboxes(device.deviceId);
  if (!updated) throw new DeviceNotFoundError();
  if (device.status === 'retired' && written.after.status === 'active') await resubscribeReactivated(updated.mailboxes, deps);
  return toDeviceView(updated, deps.now(), await organization.viewPart(updated.mailboxes));
}

/**
 * A reactivated device's relay-managed mailboxes get subscriptions again at once (the relay let go of them when the
 * device was retired): `keep` work for the dispatcher, which subscribes afresh. Best effort: the PATCH stands, and
 * the supervisor queues the same work when it next looks at such a mailbox (within hours).
 */
async function resubscribeReactivated(mailboxes: readonly MailboxRecord[], deps: UpdateDeviceDeps): Promise<void> {
  const requestedAt = deps.now();
  const work: ManagedSubscriptionMessage[] = mailboxes
    .filter((mailbox) => mailbox.managedProtocol !== undefined)
    .map((mailbox) => ({ v: 1, type: 'managed-subscription', deviceId: mailbox.deviceId, mailboxId: mailbox.mailboxId, requestedAt, job: { work: 'keep' } }));
  if (work.length === 0) return;
  try {
    await deps.queue.enqueue(work);
  } catch (error) {
    deps.counter.count('ManagedSubscriptionDeferred', work.length);
    deps.logger.warn('could not queue the subscriptions of a reactivated device; the supervisor makes them when due', { error: error as Error });
  }
}

const timingOf = (deps: UpdateDeviceDeps) => retryTiming({ random: deps.random, ...(deps.sleep ? { sleep: deps.sleep } : {}) });

interface Written {
  /** The device as the successful write read it, and the changes written onto it. */
  before: DeviceRecord;
  changes: DeviceChanges;
  after: DeviceRecord;
  /** The destination to register, when the PATCH changed it. */
  destination?: Destination;
}

/**
 * Registers the stored destination and stores its endpoint ARN. The ARN goes only onto a device that still has that
 * destination: a later PATCH that changed it again registers (and stores) its own.
 */
async function registerDestination(written: Written, destination: Destination, deps: UpdateDeviceDeps): Promise<void> {
  let endpointArn: string | undefined;
  try {
    endpointArn = await deps.endpoints.register(destination);
  } catch (error) {
    await undoWrite(written, deps);
    throw error;
  }
  if (endpointArn === undefined) return;
  const { deviceId, pushToken, environment } = destination;
  await retry(
    async (attempt) => {
      const device = attempt === 1 ? written.after : await deps.devices.getDevice(deviceId);
      if (!device || device.pushToken !== pushToken || device.apnsEnvironment !== environment) return;
      if (device.endpointArn === endpointArn) return;
      await deps.registry.updateDevice(deviceId, { endpointArn }, deps.now(), { ifRevision: device.revision ?? 0 });
    },
    ON_CONCURRENT_UPDATE,
    timingOf(deps),
  );
}

/**
 * Puts back what the PATCH wrote, conditional on nothing having been written since: then a failed registration leaves
 * the device as it was (the app sends the PATCH again). When another request wrote in between, its write stands and
 * this one is not undone, since an undo would overwrite it.
 */
async function undoWrite(written: Written, deps: UpdateDeviceDeps): Promise<void> {
  const undo: Record<string, unknown> = {};
  for (const field of Object.keys(written.changes)) undo[field] = (written.before as Record<string, unknown>)[field] ?? null;
  try {
    await deps.registry.updateDevice(written.before.deviceId, undo as DeviceChanges, deps.now(), { ifRevision: written.after.revision ?? 0 });
  } catch (error) {
    if (!(error instanceof ConcurrentUpdateError)) throw error;
  }
}

/** One conditional write of the merged PATCH; registration is the caller's, after the write. */
async function applyPatch(device: DeviceRecord, patch: PatchDeviceRequest, orgChanges: DeviceChanges, deps: UpdateDeviceDeps): Promise<Written> {
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
  }
  const after = await deps.registry.updateDevice(device.deviceId, changes, now, { ifRevision: device.revision ?? 0 });
  if (!destinationChanged) return { before: device, changes, after };
  const destination: Destination = {
    deviceId: device.deviceId,
    pushToken: pushToken ?? device.pushToken,
    environment: settings.apnsEnvironment,
    ...(device.endpointArn === undefined ? {} : { endpointArn: device.endpointArn }),
  };
  return { before: device, changes, after, destination };
}
