import { config } from '../config.js';

/**
 * SDK attempts per call, the first included, for every AWS client a Lambda builds: the one statement of the SDK's
 * retries. DynamoDB, SQS, Secrets Manager and KMS keep the SDK's standard three. SNS gets one, because every SNS caller
 * retries by its own rule through `retry()` (the push gateway, endpoint registration through the device's retried
 * request, sns-feedback through Lambda's asynchronous retries, the platform-application resource), and SDK retries
 * would multiply those: 3 x 3 attempts would hold a queue record far longer than its visibility budget allows.
 */
export const SDK_ATTEMPTS = { dynamodb: 3, sqs: 3, secretsManager: 3, kms: 3, sns: 1 } as const;

/** A Lambda's client settings for `service`: the function's region and the attempts above. */
export function lambdaClientSettings(service: keyof typeof SDK_ATTEMPTS): { region: string; maxAttempts: number } {
  return { region: config.region(), maxAttempts: SDK_ATTEMPTS[service] };
}
