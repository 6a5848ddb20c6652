import type { RegisterDeviceRequest, RegisterDeviceResponse } from '../../shared/device/device-schemas.js';
import type { DeviceRecord, MailboxRecord } from '../../shared/store/ports.js';
import { firstIntervalAt } from '../../shared/supervision/interval-schedule.js';
import { supervisionDueAt } from '../../shared/supervision/subscription-state.js';
import { hashSecret, newDeviceId, newSecret } from '../_lib/device-secrets.js';
import { mailboxEndpoints, newMailboxSecrets } from '../_lib/mailbox-endpoints.js';
import type { DeviceApiDeps } from './deps.js';
import { OrganizationContext } from './organization-fields.js';
import { DeviceLimitError } from '../../shared/errors.js';
import { takePushToken } from './take-push-token.js';
import { relayManagedFields, stateAfterFirstAttempt, subscribeRelayManaged, type RelayManagementDeps } from './relay-management.js';

type RegisterDeviceDeps = Pick<
  DeviceApiDeps,
  'devices' | 'registry' | 'retirement' | 'pushTokens' | 'deviceQuota' | 'maxDevicesPerOrg' | 'endpoints' | 'publicUrl' | 'now' | 'random' | 'orgs' | 'keyring' | 'readers'
> &
  RelayManagementDeps;

/**
 * Registers a device for an organization. The device secret and each mailbox's secrets (its URL secret and Graph
 * `clientState`) are returned once and stored only as hashes; a lost secret means registering again (or rotating).
 *
 * Organization-mode fields (VIP senders, alert key, mailbox addresses with their proofs) are accepted only when the
 * org is in organization mode; every address is proven with the service account before anything is stored. A mailbox
 * with `managedBy: "relay"` is subscribed by the relay before the answer (contract section 9), with the secrets of
 * this answer; if that fails it is `pending` and the supervisor tries again.
 */
export async function registerDevice(input: { orgId: string; request: RegisterDeviceRequest }, deps: RegisterDeviceDeps): Promise<RegisterDeviceResponse> {
  // Counted before anything is written, so a refused registration stores nothing; given back if the registration fails.
  // A reinstall (the token is held by a counted device of this organization, which it is about to replace) adds no
  // device, so it passes even at the cap.
  const reinstall = await replacesOwnDevice(input.orgId, input.request.pushToken, deps);
  if (!(await deps.deviceQuota.reserveDevice(input.orgId, reinstall ? Number.MAX_SAFE_INTEGER : deps.maxDevicesPerOrg))) {
    throw new DeviceLimitError(
      `this organization has ${deps.maxDevicesPerOrg} registered devices, the most this relay allows: delete devices no longer used, or ask the operator to raise maxDevicesPerOrg`,
    );
  }
  try {
    return await register(input, deps);
  } catch (error) {
    await deps.deviceQuota.releaseDevice(input.orgId);
    throw error;
  }
}

async function replacesOwnDevice(orgId: string, pushToken: string, deps: RegisterDeviceDeps): Promise<boolean> {
  const holder = await deps.pushTokens.pushTokenHolder(pushToken);
  const held = holder === undefined ? undefined : await deps.devices.getDevice(holder);
  return held !== undefined && held.orgId === orgId && held.status === 'active';
}

async function register(input: { orgId: string; request: RegisterDeviceRequest }, deps: RegisterDeviceDeps): Promise<RegisterDeviceResponse> {
  const { orgId, request } = input;
  const organization = await OrganizationContext.load(orgId, deps);
  organization.refuseInDefaultMode({ vipSenders: request.vipSenders, alertKey: request.alertKey });
  const deviceId = newDeviceId();
  const deviceSecret = newSecret();
  const vipSenderHashes = request.vipSenders === undefined ? undefined : await organization.vipSenderHashes(request.vipSenders);
  const alertKey = request.alertKey === undefined ? undefined : organization.checkAlertKey(request.alertKey);
  const mailboxFields = await Promise.all(
    request.mailboxes.map((mailbox, index) => organization.mailboxFields({ deviceId, mailboxId: mailbox.id, address: mailbox.address, addressProof: mailbox.addressProof, managedBy: mailbox.managedBy, path: `mailboxes.${index}.` })),
  );
  const now = deps.now();

  const issued = request.mailboxes.map((mailbox) => ({ mailbox, ...newMailboxSecrets(deviceId, mailbox.id) }));
  const mailboxes: MailboxRecord[] = issued.map(({ mailbox, stored }, index) => {
    const fields = mailboxFields[index]?.stored;
    return {
      deviceId,
      mailboxId: mailbox.id,
      kind: mailbox.kind,
      ...stored,
      createdAt: now,
      dueAt: supervisionDueAt({ createdAt: now }),
      ...(fields?.sealedAddress ? { sealedAddress: fields.sealedAddress } : {}),
      ...(fields?.managedBy ? { managedBy: fields.managedBy } : {}),
      ...(fields?.managedBy === 'relay' ? relayManagedFields(organization, now) : {}),
    };
  });

  const endpointArn = await deps.endpoints.register({ deviceId, pushToken: request.pushToken, environment: request.apnsEnvironment });
  const device: DeviceRecord = {
    deviceId,
    orgId,
    secretHash: hashSecret(deviceSecret),
    pushToken: request.pushToken,
    pushTokenUpdatedAt: now,
    apnsEnvironment: request.apnsEnvironment,
    mode: request.mode,
    intervalSeconds: request.intervalSeconds,
    timeZone: request.timeZone,
    alerts: request.alerts,
    status: 'active',
    ...(endpointArn === undefined ? {} : { endpointArn }),
    ...(request.mode === 'interval' ? { dueAt: firstIntervalAt(now, request.intervalSeconds, deps.random) } : {}),
    createdAt: now,
    updatedAt: now,
    ...(vipSenderHashes ? { vipSenderHashes } : {}),
    ...(alertKey ? { alertKey } : {}),
  };
  // Membership first: should the registration fail half-way, the org's DELETE still finds (and skips) the device.
  if (vipSenderHashes || alertKey || mailboxes.some((mailbox) => mailbox.sealedAddress)) await deps.orgs.addMember(orgId, deviceId);
  await deps.registry.createDevice(device, mailboxes);
  await takePushToken(device, request.pushToken, deps);
  const states = new Map<number, 'live' | 'pending'>();
  for (const [index, stored] of mailboxes.entries()) {
    const address = mailboxFields[index]?.address;
    if (stored.managedProtocol !== undefined && address !== undefined) {
      states.set(index, stateAfterFirstAttempt(await subscribeRelayManaged({ organization, mailbox: stored, address, issued: issued[index]!.secrets }, deps)));
    }
  }

  return {
    deviceId,
    deviceSecret,
    mailboxes: issued.map(({ mailbox, secrets }, index) => ({
      id: mailbox.id,
      ...mailboxEndpoints(deps.publicUrl, secrets),
      // Live once the relay's first subscription is made; pending when that failed and the supervisor retries (section 9).
      ...(mailboxes[index]?.managedProtocol === undefined ? {} : { managedBy: 'relay' as const, state: states.get(index) ?? 'pending' }),
    })),
    organization: organization.view,
  };
}
