import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { cachedSecret, type SecretSource } from '../secret-cache.js';
import { traced, useCaseLogger } from '../powertools.js';
import { lambdaClientSettings } from './settings.js';

let secretsManager: SecretsManagerClient | undefined;

/** The Lambda's Secrets Manager client, one per process, traced by X-Ray. */
export function lambdaSecretsManagerClient(): SecretsManagerClient {
  secretsManager ??= traced(new SecretsManagerClient(lambdaClientSettings('secretsManager')));
  return secretsManager;
}

/** Reads a secret string once; secretsManagerSecret() is the cached source functions use. */
export async function readSecret(secretArn: string): Promise<string> {
  const answer = await lambdaSecretsManagerClient().send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (!answer.SecretString) throw new Error(`secret ${secretArn} has no string value`);
  return answer.SecretString;
}

/**
 * A secret read from Secrets Manager at most every few minutes (secret-cache.ts), so rotations take effect without a
 * redeploy; secrets never reach environment variables or logs.
 */
export function secretsManagerSecret(secretArn: string): SecretSource {
  return cachedSecret(() => readSecret(secretArn), {
    onStaleRead: (error) => useCaseLogger.warn('secret re-read failed; the last value stays in use', { error: error as Error }),
  });
}
