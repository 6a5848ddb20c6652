import { MailboxNotFoundError, PrimaryMailboxRemovalError } from '../../shared/errors.js';
import type { DeviceRecord } from '../../shared/store/ports.js';
import type { DeviceApiDeps } from './deps.js';
import { relaySubscriptionOf } from '../../shared/org/managed-subscription.js';
import { queueDeletions } from './relay-management.js';

/**
 * Removes a delegated mailbox; from then on its callback URL answers Unsubscribe (which also ends an EWS subscription
 * the relay made for it). A Graph subscription the relay made is deleted by the dispatcher, queued here with what the
 * mailbox held when it was deleted, so one a renewal stored a moment before goes too (contract section 9).
 */
export async function removeMailbox(
  input: { device: DeviceRecord; mailboxId: string },
  deps: Pick<DeviceApiDeps, 'devices' | 'mailboxes' | 'queue' | 'now' | 'logger' | 'counter'>,
): Promise<void> {
  const { mailbox } = await deps.devices.getDeviceAndMailbox(input.device.deviceId, input.mailboxId);
  if (!mailbox) throw new MailboxNotFoundError();
  if (mailbox.kind === 'primary') throw new PrimaryMailboxRemovalError();
  const removed = await deps.mailboxes.removeMailbox(input.device.deviceId, input.mailboxId);
  await queueDeletions(input.device.orgId, [removed && relaySubscriptionOf(removed)], deps);
}
