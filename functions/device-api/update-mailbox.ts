import type { MailboxView } from '../../shared/device/device-schemas.js';
import { DeviceNotFoundError, MailboxNotFoundError } from '../../shared/errors.js';
import type { PatchMailboxRequest } from '../../shared/org/device-org-fields.js';
import type { DeviceRecord } from '../../shared/store/ports.js';
import type { DeviceApiDeps } from './deps.js';
import { toDeviceView } from './device-view.js';
import { OrganizationContext } from './organization-fields.js';

/**
 * `PATCH /v1/devices/{deviceId}/mailboxes/{mailboxId}` (contract v2 section 3): sets or clears a mailbox's
 * organization-mode fields with merge-patch semantics, so a device registered before its org turned on organization
 * mode can join it. A new or changed address needs a fresh proof; an unchanged one does not.
 */
export async function updateMailbox(
  input: { device: DeviceRecord; mailboxId: string; patch: PatchMailboxRequest },
  deps: Pick<DeviceApiDeps, 'devices' | 'mailboxes' | 'now' | 'orgs' | 'keyring' | 'readers'>,
): Promise<MailboxView> {
  const { device, mailboxId, patch } = input;
  const { mailbox } = await deps.devices.getDeviceAndMailbox(device.deviceId, mailboxId);
  if (!mailbox) throw new MailboxNotFoundError();
  const organization = await OrganizationContext.load(device.orgId, deps);
  const fields = await organization.mailboxFields({ deviceId: device.deviceId, mailboxId, ...patch, current: mailbox, path: '' });
  if (fields) {
    if (fields.sealedAddress) await deps.orgs.addMember(device.orgId, device.deviceId);
    await deps.mailboxes.setMailboxOrganization(device.deviceId, mailboxId, fields);
  }
  const updated = await deps.devices.getDeviceWithMailboxes(device.deviceId);
  if (!updated) throw new DeviceNotFoundError();
  const view = toDeviceView(updated, deps.now(), await organization.viewPart(updated.mailboxes));
  const shown = view.mailboxes.find((m) => m.id === mailboxId);
  if (!shown) throw new MailboxNotFoundError();
  return shown;
}
