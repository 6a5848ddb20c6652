import type { MessageDetailsReaderFactory, OrgKeyring } from '../../shared/org/ports.js';
import { lazyMessageDetailsReaders, lazyOrgKeyring } from './adapters/lazy-org-adapters.js';

/**
 * Organization mode's AWS wiring, apart from the rest so that only the functions that use it (device API, org API,
 * dispatcher) have it, and loaded on first use (lazy-org-adapters.ts): the KMS client and keyring, the EWS and Graph
 * readers and the XML reader are chunks of their own, which a cold start does not load (issue 15).
 */
let keyring: OrgKeyring | undefined;

/**
 * Organizations' data keys, wrapped by the stack's KMS key; opened ones are kept 15 minutes per container, so a busy
 * org costs one KMS Decrypt per container and quarter hour, not one per mail.
 */
export function orgKeyring(): OrgKeyring {
  keyring ??= lazyOrgKeyring(KMS_KEYRING_DESCRIPTION, async () => (await import('./org-keyring-runtime.js')).kmsOrgKeyring());
  return keyring;
}

/** What KmsOrgKeyring says of itself, known before it is loaded. */
const KMS_KEYRING_DESCRIPTION = 'AWS KMS (envelope encryption, one data key per organization)';

/** Readers for organizations' mail servers; on AWS only public addresses, over https (contract section 8). */
export const mailServerReaders: MessageDetailsReaderFactory = lazyMessageDetailsReaders(async () =>
  (await import('./adapters/message-details-readers.js')).messageDetailsReaders({ allowLoopback: false }),
);
