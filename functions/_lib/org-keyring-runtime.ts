import type { OrgKeyring } from '../../shared/org/ports.js';
import { KmsOrgKeyring } from './adapters/kms-org-keyring.js';
import { CachingOrgKeyring } from './adapters/local-org-keyring.js';
import { lambdaKmsClient } from './aws/kms.js';
import { config } from './config.js';

/** The Lambda's keyring: the stack's KMS key, opened keys cached (org-runtime.ts loads this module on first use). */
export function kmsOrgKeyring(): OrgKeyring {
  return new CachingOrgKeyring(new KmsOrgKeyring(lambdaKmsClient(), config.orgSecretsKeyArn()));
}
