import type { MailboxView } from '../../shared/device/device-schemas.js';
import { DeviceNotFoundError, MailboxNotFoundError } from '../../shared/errors.js';
import type { PatchMailboxRequest } from '../../shared/org/device-org-fields.js';
import type { DeviceRecord } from '../../shared/store/ports.js';
import type { DeviceApiDeps } from './deps.js';
import { toDeviceView } from './device-view.js';
import { OrganizationContext } from './organization-fields.js';
import { releaseMailbox, takeOverMailbox, type RelayManagementDeps } from './relay-management.js';
import { isRelayManaged } from '../../shared/org/managed-subscription.js';

/**
 * `PATCH /v1/devices/{deviceId}/mailboxes/{mailboxId}` (contract v2 section 3): sets or clears a mailbox's
 * organization-mode fields with merge-patch semantics, so a device registered before its org turned on organization
 * mode can join it. A new or changed address needs a fresh proof; an unchanged one does not.
 *
 * Who keeps the subscription (section 9): to `managedBy: "relay"` the relay takes the mailbox over and subscribes it
 * at once; away from it, or to another address, the relay hands it back (its subscription deleted, new URL secrets
 * that the device gets with `rotate`) and, for another address, subscribes the new one.
 */
export async function updateMailbox(
  input: { device: DeviceRecord; mailboxId: string; patch: PatchMailboxRequest },
  deps: Pick<DeviceApiDeps, 'devices' | 'mailboxes' | 'now' | 'orgs' | 'keyring' | 'readers'> & RelayManagementDeps,
): Promise<MailboxView> {
  const { device, mailboxId, patch } = input;
  const { mailbox } = await deps.devices.getDeviceAndMailbox(device.deviceId, mailboxId);
  if (!mailbox) throw new MailboxNotFoundError();
  const organization = await OrganizationContext.load(device.orgId, deps);
  const fields = await organization.mailboxFields({ deviceId: device.deviceId, mailboxId, ...patch, current: mailbox, path: '' });
  if (fields) {
    const wasRelay = isRelayManaged(mailbox);
    const willBeRelay = fields.stored.managedBy === 'relay';
    const { addressChanged } = fields;
    if (fields.stored.sealedAddress) await deps.orgs.addMember(device.orgId, device.deviceId);
    if (wasRelay && (!willBeRelay || addressChanged)) await releaseMailbox({ orgId: device.orgId, deviceId: device.deviceId, mailboxId }, deps);
    await deps.mailboxes.setMailboxOrganization(device.deviceId, mailboxId, fields.stored);
    if (willBeRelay && (!wasRelay || addressChanged) && fields.address !== undefined) {
      const current = (await deps.devices.getDeviceAndMailbox(device.deviceId, mailboxId)).mailbox;
      if (current) await takeOverMailbox({ organization, mailbox: current, address: fields.address }, deps);
    }
  }
  const updated = await deps.devices.getDeviceWithMailboxes(device.deviceId);
  if (!updated) throw new DeviceNotFoundError();
  const view = toDeviceView(updated, deps.now(), await organization.viewPart(updated.mailboxes));
  const shown = view.mailboxes.find((m) => m.id === mailboxId);
  if (!shown) throw new MailboxNotFoundError();
  return shown;
}
