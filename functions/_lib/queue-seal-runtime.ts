import type { RegistrationSeal } from '../../shared/queue/carried-registration.js';
import { config } from './config.js';
import { useCaseLogger } from './powertools.js';
import { AesGcmRegistrationSeal } from './registration-seal.js';

/**
 * The callback's and the dispatcher's queue-seal (registration-seal.ts) on AWS: the key is the stack's generated
 * secret (QUEUE_SEAL_SECRET_ARN), read in the background from the cold start on (bounded, never awaited by a request),
 * with the Secrets Manager client imported then, so the cold start's static imports hold none of it. Undefined when
 * the function was given no secret.
 */
export function queueRegistrationSeal(): RegistrationSeal | undefined {
  const secretArn = config.queueSealSecretArn();
  if (secretArn === undefined) return undefined;
  return new AesGcmRegistrationSeal({
    readKey: async () => (await import('./aws/secrets-manager.js')).readSecret(secretArn),
    logger: useCaseLogger,
  });
}
