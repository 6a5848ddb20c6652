import { MAX_DELEGATED_MAILBOXES, type AddMailboxRequest, type RegisteredMailbox } from '../../shared/device/device-schemas.js';
import type { DeviceRecord } from '../../shared/store/ports.js';
import { supervisionDueAt } from '../../shared/supervision/subscription-state.js';
import { mailboxEndpoints, newMailboxSecrets } from '../_lib/mailbox-endpoints.js';
import type { DeviceApiDeps } from './deps.js';
import { OrganizationContext } from './organization-fields.js';

/**
 * Adds a delegated mailbox and hands out its callback URL and Graph block (their secrets are stored only as hashes). In
 * organization mode a delegate proves the mailbox's address as at registration.
 */
export async function addDelegatedMailbox(
  input: { device: DeviceRecord; request: AddMailboxRequest },
  deps: Pick<DeviceApiDeps, 'mailboxes' | 'publicUrl' | 'now' | 'orgs' | 'keyring' | 'readers'>,
): Promise<RegisteredMailbox> {
  const { request, device } = input;
  const organization = await OrganizationContext.load(device.orgId, deps);
  const fields = await organization.mailboxFields({
    deviceId: device.deviceId,
    mailboxId: request.id,
    address: request.address,
    addressProof: request.addressProof,
    managedBy: request.managedBy,
    path: '',
  });
  if (fields?.sealedAddress) await deps.orgs.addMember(device.orgId, device.deviceId);
  const { secrets, stored } = newMailboxSecrets();
  const createdAt = deps.now();
  await deps.mailboxes.addMailbox(
    {
      deviceId: input.device.deviceId,
      mailboxId: input.request.id,
      kind: 'delegated',
      ...stored,
      createdAt,
      // A mailbox that never hears from Exchange turns silent and is supervised like any other.
      dueAt: supervisionDueAt({ createdAt }),
      ...(fields?.sealedAddress ? { sealedAddress: fields.sealedAddress } : {}),
      ...(fields?.managedBy ? { managedBy: fields.managedBy } : {}),
    },
    MAX_DELEGATED_MAILBOXES,
  );
  return { id: input.request.id, ...mailboxEndpoints(deps.publicUrl, secrets) };
}
