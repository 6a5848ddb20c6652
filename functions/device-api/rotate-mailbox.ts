import type { RegisteredMailbox } from '../../shared/device/device-schemas.js';
import { MailboxNotFoundError, RelayManagedError } from '../../shared/errors.js';
import { isRelayManaged } from '../../shared/org/managed-subscription.js';
import type { DeviceRecord } from '../../shared/store/ports.js';
import { mailboxEndpoints, newMailboxSecrets } from '../_lib/mailbox-endpoints.js';
import type { DeviceApiDeps } from './deps.js';

/**
 * New secrets for one mailbox (contract section 3): a new URL secret (the EWS callback URL and both Graph URLs) and a
 * new `clientState`. From the answer on, the old callback URL answers `Unsubscribe`, the old Graph URLs 404 and the
 * old `clientState` is refused; the device subscribes again with the new ones. The subscription it reported stays
 * current until it reports another, so a rotation that the device never follows up leaves nothing half-done.
 *
 * @throws MailboxNotFoundError when the device has no such mailbox; RelayManagedError when the relay keeps its
 * subscription (contract section 9: the relay gives each of its subscriptions fresh secrets itself).
 */
export async function rotateMailbox(input: { device: DeviceRecord; mailboxId: string }, deps: Pick<DeviceApiDeps, 'devices' | 'mailboxes' | 'publicUrl'>): Promise<RegisteredMailbox> {
  const { mailbox } = await deps.devices.getDeviceAndMailbox(input.device.deviceId, input.mailboxId);
  if (!mailbox) throw new MailboxNotFoundError();
  if (isRelayManaged(mailbox)) throw new RelayManagedError();
  const { secrets, stored } = newMailboxSecrets(input.device.deviceId, input.mailboxId);
  await deps.mailboxes.rotateSecrets(input.device.deviceId, input.mailboxId, stored);
  return { id: input.mailboxId, ...mailboxEndpoints(deps.publicUrl, secrets) };
}
