import { MAX_DELEGATED_MAILBOXES, type AddMailboxRequest, type RegisteredMailbox } from '../../shared/device/device-schemas.js';
import type { DeviceRecord } from '../../shared/store/ports.js';
import { supervisionDueAt } from '../../shared/supervision/subscription-state.js';
import { mailboxEndpoints, newMailboxSecrets, type DeviceApiDeps } from './deps.js';

/** Adds a delegated mailbox and hands out its callback URL and Graph block (their secrets are stored only as hashes). */
export async function addDelegatedMailbox(
  input: { device: DeviceRecord; request: AddMailboxRequest },
  deps: Pick<DeviceApiDeps, 'mailboxes' | 'publicUrl' | 'now'>,
): Promise<RegisteredMailbox> {
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
    },
    MAX_DELEGATED_MAILBOXES,
  );
  return { id: input.request.id, ...mailboxEndpoints(deps.publicUrl, secrets) };
}
