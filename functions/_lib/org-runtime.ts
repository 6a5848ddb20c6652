import type { MessageDetailsReaderFactory, OrgKeyring } from '../../shared/org/ports.js';
import { KmsOrgKeyring } from './adapters/kms-org-keyring.js';
import { CachingOrgKeyring } from './adapters/local-org-keyring.js';
import { messageDetailsReaders } from './adapters/message-details-readers.js';
import { lambdaKmsClient } from './aws/kms.js';
import { config } from './config.js';

/**
 * Organization mode's AWS wiring, apart from the rest so that only the functions that use it (device API, org API,
 * dispatcher) bundle the KMS client and the mail-server readers.
 */
let keyring: OrgKeyring | undefined;

/**
 * Organizations' data keys, wrapped by the stack's KMS key; opened ones are kept 15 minutes per container, so a busy
 * org costs one KMS Decrypt per container and quarter hour, not one per mail.
 */
export function orgKeyring(): OrgKeyring {
  keyring ??= new CachingOrgKeyring(new KmsOrgKeyring(lambdaKmsClient(), config.orgSecretsKeyArn()));
  return keyring;
}

/** Readers for organizations' mail servers; on AWS only public addresses, over https (contract section 8). */
export const mailServerReaders: MessageDetailsReaderFactory = messageDetailsReaders({ allowLoopback: false });
