import {
  MAX_DELEGATED_MAILBOXES,
  type AddMailboxRequest,
  type DeviceEventsResponse,
  type DeviceView,
  type RegisteredMailbox,
  type ReportSubscriptionRequest,
} from '../../shared/device/device-schemas.js';
import { DeviceNotFoundError, MailboxNotFoundError, PrimaryMailboxRemovalError } from '../../shared/errors.js';
import { DECISION_RETENTION_MS, type DeviceRecord } from '../../shared/store/ports.js';
import { supervisionDueAt } from '../../shared/supervision/subscription-state.js';
import { hashSecret, newSecret } from '../_lib/secrets.js';
import { callbackUrl, type DeviceApiDeps } from './deps.js';
import { toDeviceView } from './device-view.js';

export async function getDevice(device: DeviceRecord, deps: DeviceApiDeps): Promise<DeviceView> {
  const found = await deps.devices.getDeviceWithMailboxes(device.deviceId);
  if (!found) throw new DeviceNotFoundError();
  return toDeviceView(found, deps.now());
}

/** Deletes everything stored for the device, then its push endpoint (if the gateway has one). */
export async function deleteDevice(device: DeviceRecord, deps: DeviceApiDeps): Promise<void> {
  await deps.registry.deleteDevice(device.deviceId);
  if (device.endpointArn) await deps.endpoints.unregister(device.endpointArn);
}

export async function addDelegatedMailbox(input: { device: DeviceRecord; request: AddMailboxRequest }, deps: DeviceApiDeps): Promise<RegisteredMailbox> {
  const secret = newSecret();
  const createdAt = deps.now();
  await deps.mailboxes.addMailbox(
    {
      deviceId: input.device.deviceId,
      mailboxId: input.request.id,
      kind: 'delegated',
      callbackKey: hashSecret(secret),
      createdAt,
      // A mailbox that never hears from Exchange turns silent and is supervised like any other.
      dueAt: supervisionDueAt({ createdAt }),
    },
    MAX_DELEGATED_MAILBOXES,
  );
  return { id: input.request.id, callbackUrl: callbackUrl(deps.publicUrl, secret) };
}

/** Removes a delegated mailbox; from then on its callback URL answers Unsubscribe. */
export async function removeMailbox(input: { device: DeviceRecord; mailboxId: string }, deps: DeviceApiDeps): Promise<void> {
  const { mailbox } = await deps.devices.getDeviceAndMailbox(input.device.deviceId, input.mailboxId);
  if (!mailbox) throw new MailboxNotFoundError();
  if (mailbox.kind === 'primary') throw new PrimaryMailboxRemovalError();
  await deps.mailboxes.removeMailbox(input.device.deviceId, input.mailboxId);
}

export async function reportSubscription(
  input: { device: DeviceRecord; mailboxId: string; request: ReportSubscriptionRequest },
  deps: DeviceApiDeps,
): Promise<void> {
  const { mailbox } = await deps.devices.getDeviceAndMailbox(input.device.deviceId, input.mailboxId);
  if (!mailbox) throw new MailboxNotFoundError();
  const reportedAt = deps.now();
  const subscription = {
    subscriptionId: input.request.subscriptionId,
    expiresAt: Date.parse(input.request.expiresAt),
    reportedAt,
    ...(input.request.statusFrequencyMinutes === undefined ? {} : { statusFrequencyMinutes: input.request.statusFrequencyMinutes }),
  };
  const { statusFrequencyMinutes: _previous, ...withoutFrequency } = mailbox;
  const dueAt = supervisionDueAt({ ...withoutFrequency, ...subscription, subscriptionReportedAt: reportedAt });
  await deps.mailboxes.setSubscription(input.device.deviceId, input.mailboxId, { ...subscription, dueAt });
}

/** Why each notification was or was not pushed, newest first, the last 7 days. */
export async function listDecisions(device: DeviceRecord, deps: DeviceApiDeps): Promise<DeviceEventsResponse> {
  const events = await deps.decisions.list(device.deviceId, deps.now() - DECISION_RETENTION_MS);
  return { events };
}
