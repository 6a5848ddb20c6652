import { MailboxNotFoundError, PrimaryMailboxRemovalError } from '../../shared/errors.js';
import type { DeviceRecord } from '../../shared/store/ports.js';
import type { DeviceApiDeps } from './deps.js';

/** Removes a delegated mailbox; from then on its callback URL answers Unsubscribe. */
export async function removeMailbox(input: { device: DeviceRecord; mailboxId: string }, deps: Pick<DeviceApiDeps, 'devices' | 'mailboxes'>): Promise<void> {
  const { mailbox } = await deps.devices.getDeviceAndMailbox(input.device.deviceId, input.mailboxId);
  if (!mailbox) throw new MailboxNotFoundError();
  if (mailbox.kind === 'primary') throw new PrimaryMailboxRemovalError();
  await deps.mailboxes.removeMailbox(input.device.deviceId, input.mailboxId);
}
