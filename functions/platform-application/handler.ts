import {
  CreatePlatformApplicationCommand,
  DeletePlatformApplicationCommand,
  NotFoundException,
  SetPlatformApplicationAttributesCommand,
} from '@aws-sdk/client-sns';
import { classifySnsError } from '../_lib/adapters/sns-errors.js';
import { readSecret } from '../_lib/aws/secrets-manager.js';
import { lambdaSnsClient } from '../_lib/aws/sns.js';
import { exponentialBackoff, realTiming, retry } from '../_lib/retry.js';
import { createPlatformApplicationHandler } from './edge.js';

/**
 * The shared SNS client makes one attempt per call (functions/_lib/aws/settings.ts); a deploy should not fail on one
 * throttled call, so each SNS call here is retried like a push.
 */
const withSnsRetries = <T>(call: () => Promise<T>): Promise<T> =>
  retry(call, { attempts: 3, retryable: (error) => classifySnsError(error).kind === 'retryable', delayMs: exponentialBackoff({ baseMs: 100, maxMs: 2000 }) }, realTiming);

export const handler = createPlatformApplicationHandler({
  readSecret,
  createPlatformApplication: async ({ name, platform, attributes }) => {
    const { PlatformApplicationArn } = await withSnsRetries(() =>
      lambdaSnsClient().send(new CreatePlatformApplicationCommand({ Name: name, Platform: platform, Attributes: attributes })),
    );
    if (!PlatformApplicationArn) throw new Error('CreatePlatformApplication answered without an ARN');
    return PlatformApplicationArn;
  },
  setPlatformApplicationAttributes: async (arn, attributes) => {
    await withSnsRetries(() => lambdaSnsClient().send(new SetPlatformApplicationAttributesCommand({ PlatformApplicationArn: arn, Attributes: attributes })));
  },
  deletePlatformApplication: async (arn) => {
    try {
      await withSnsRetries(() => lambdaSnsClient().send(new DeletePlatformApplicationCommand({ PlatformApplicationArn: arn })));
    } catch (error) {
      if (!(error instanceof NotFoundException)) throw error;
    }
  },
});
