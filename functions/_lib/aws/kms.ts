import { KMSClient } from '@aws-sdk/client-kms';
import { traced } from '../powertools.js';
import { lambdaClientSettings } from './settings.js';

let kms: KMSClient | undefined;

/** The Lambda's KMS client (organizations' data keys), one per process, traced by X-Ray. */
export function lambdaKmsClient(): KMSClient {
  kms ??= traced(new KMSClient(lambdaClientSettings('kms')));
  return kms;
}
