import { MAX_DELEGATED_MAILBOXES, type AddMailboxRequest, type RegisteredMailbox } from '../../shared/device/device-schemas.js';
import type { DeviceRecord } from '../../shared/store/ports.js';
import { supervisionDueAt } from '../../shared/supervision/subscription-state.js';
import { hashSecret, newSecret } from '../_lib/device-secrets.js';
import { callbackUrl, type DeviceApiDeps } from './deps.js';

/** Adds a delegated mailbox and hands out its callback URL (the secret in it is stored only as a hash). */
export async function addDelegatedMailbox(
  input: { device: DeviceRecord; request: AddMailboxRequest },
  deps: Pick<DeviceApiDeps, 'mailboxes' | 'publicUrl' | 'now'>,
): Promise<RegisteredMailbox> {
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
