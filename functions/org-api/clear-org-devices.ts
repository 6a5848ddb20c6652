import type { OrgStore } from '../../shared/org/ports.js';
import type { DeviceReader, DeviceRegistry, MailboxRegistry } from '../../shared/store/ports.js';

/**
 * Back to the default mode for every device of the org (contract section 8, `DELETE /v1/orgs/{orgId}`): their mailbox
 * addresses, VIP hashes and alert keys are deleted. The org's members are the devices that ever stored such a field;
 * one deleted since is skipped.
 */
export async function clearOrgDevices(
  orgId: string,
  deps: { orgs: Pick<OrgStore, 'listMembers' | 'removeMember'>; devices: DeviceReader; registry: Pick<DeviceRegistry, 'updateDevice'>; mailboxes: Pick<MailboxRegistry, 'setMailboxOrganization'>; now: () => number },
): Promise<void> {
  for (const deviceId of await deps.orgs.listMembers(orgId)) {
    const found = await deps.devices.getDeviceWithMailboxes(deviceId);
    if (found && found.device.orgId === orgId) {
      for (const mailbox of found.mailboxes) {
        if (mailbox.sealedAddress !== undefined || mailbox.managedBy !== undefined) {
          await deps.mailboxes.setMailboxOrganization(deviceId, mailbox.mailboxId, { sealedAddress: null, managedBy: null });
        }
      }
      if (found.device.vipSenderHashes !== undefined || found.device.alertKey !== undefined) {
        await deps.registry.updateDevice(deviceId, { vipSenderHashes: null, alertKey: null }, deps.now());
      }
    }
    await deps.orgs.removeMember(orgId, deviceId);
  }
}
