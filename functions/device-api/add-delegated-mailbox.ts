import { MAX_DELEGATED_MAILBOXES, type AddMailboxRequest, type RegisteredMailbox } from '../../shared/device/device-schemas.js';
import type { DeviceRecord, MailboxRecord } from '../../shared/store/ports.js';
import { supervisionDueAt } from '../../shared/supervision/subscription-state.js';
import { mailboxEndpoints, newMailboxSecrets } from '../_lib/mailbox-endpoints.js';
import type { DeviceApiDeps } from './deps.js';
import { OrganizationContext } from './organization-fields.js';
import { relayManagedFields, stateAfterFirstAttempt, subscribeRelayManaged, type RelayManagementDeps } from './relay-management.js';

/**
 * Adds a delegated mailbox and hands out its callback URL and Graph block (their secrets are stored only as hashes). In
 * organization mode a delegate proves the mailbox's address as at registration.
 */
export async function addDelegatedMailbox(
  input: { device: DeviceRecord; request: AddMailboxRequest },
  deps: Pick<DeviceApiDeps, 'mailboxes' | 'publicUrl' | 'now' | 'orgs' | 'keyring' | 'readers'> & RelayManagementDeps,
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
  if (fields?.stored.sealedAddress) await deps.orgs.addMember(device.orgId, device.deviceId);
  const { secrets, stored } = newMailboxSecrets(device.deviceId, request.id);
  const createdAt = deps.now();
  const mailbox: MailboxRecord = {
    deviceId: input.device.deviceId,
    mailboxId: input.request.id,
    kind: 'delegated',
    ...stored,
    createdAt,
    // A mailbox that never hears from Exchange turns silent and is supervised like any other.
    dueAt: supervisionDueAt({ createdAt }),
    ...(fields?.stored.sealedAddress ? { sealedAddress: fields.stored.sealedAddress } : {}),
    ...(fields?.stored.managedBy ? { managedBy: fields.stored.managedBy } : {}),
    ...(fields?.stored.managedBy === 'relay' ? relayManagedFields(organization, createdAt) : {}),
  };
  await deps.mailboxes.addMailbox(mailbox, MAX_DELEGATED_MAILBOXES);
  if (mailbox.managedProtocol !== undefined && fields?.address !== undefined) {
    const outcome = await subscribeRelayManaged({ organization, mailbox, address: fields.address, issued: secrets }, deps);
    return { id: input.request.id, ...mailboxEndpoints(deps.publicUrl, secrets), managedBy: 'relay', state: stateAfterFirstAttempt(outcome) };
  }
  return { id: input.request.id, ...mailboxEndpoints(deps.publicUrl, secrets) };
}
