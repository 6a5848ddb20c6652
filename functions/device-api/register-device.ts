import type { RegisterDeviceRequest, RegisterDeviceResponse } from '../../shared/device/device-schemas.js';
import type { DeviceRecord, MailboxRecord } from '../../shared/store/ports.js';
import { firstIntervalAt } from '../../shared/supervision/interval-schedule.js';
import { supervisionDueAt } from '../../shared/supervision/subscription-state.js';
import { hashSecret, newDeviceId, newSecret } from '../_lib/device-secrets.js';
import { mailboxEndpoints, newMailboxSecrets, type DeviceApiDeps } from './deps.js';

/**
 * Registers a device for an organization. The device secret and each mailbox's secrets (its URL secret and Graph
 * `clientState`) are returned once and stored only as hashes; a lost secret means registering again (or rotating).
 */
export async function registerDevice(input: { orgId: string; request: RegisterDeviceRequest }, deps: Pick<DeviceApiDeps, 'registry' | 'endpoints' | 'publicUrl' | 'now' | 'random'>): Promise<RegisterDeviceResponse> {
  const { orgId, request } = input;
  const now = deps.now();
  const deviceId = newDeviceId();
  const deviceSecret = newSecret();

  const issued = request.mailboxes.map((mailbox) => ({ mailbox, ...newMailboxSecrets() }));
  const mailboxes: MailboxRecord[] = issued.map(({ mailbox, stored }) => ({
    deviceId,
    mailboxId: mailbox.id,
    kind: mailbox.kind,
    ...stored,
    createdAt: now,
    dueAt: supervisionDueAt({ createdAt: now }),
  }));

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
  };
  await deps.registry.createDevice(device, mailboxes);

  return {
    deviceId,
    deviceSecret,
    mailboxes: issued.map(({ mailbox, secrets }) => ({ id: mailbox.id, ...mailboxEndpoints(deps.publicUrl, secrets) })),
  };
}
