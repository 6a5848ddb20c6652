import middy from '@middy/core';
import {
  CreatePlatformApplicationCommand,
  DeletePlatformApplicationCommand,
  NotFoundException,
  SetPlatformApplicationAttributesCommand,
} from '@aws-sdk/client-sns';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { classifySnsError } from '../_lib/adapters/sns-errors.js';
import { readSecret } from '../_lib/aws/secrets-manager.js';
import { lambdaSnsClient } from '../_lib/aws/sns.js';
import { cloudFormationResponse, type CustomResourceResponse } from '../_lib/cloudformation-response.js';
import { observability } from '../_lib/middleware.js';
import { logger } from '../_lib/powertools.js';
import { exponentialBackoff, realTiming, retry } from '../_lib/retry.js';
import {
  managePlatformApplication,
  platformApplicationPropertiesSchema,
  redact,
  type PlatformApplicationDeps,
  type PlatformApplicationResult,
} from './platform-application.js';

/**
 * The custom resource provider of the SNS platform applications, invoked by CloudFormation directly (no provider
 * framework: one function, whose only secret access is this one secret). It must answer CloudFormation on every path,
 * or the stack waits an hour for the answer.
 */

/**
 * The shared SNS client makes one attempt per call (functions/_lib/aws/settings.ts); a deploy should not fail on one throttled call,
 * so each SNS call here is retried like a push.
 */
const withSnsRetries = <T>(call: () => Promise<T>): Promise<T> =>
  retry(call, { attempts: 3, retryable: (error) => classifySnsError(error).kind === 'retryable', delayMs: exponentialBackoff({ baseMs: 100, maxMs: 2000 }) }, realTiming);

export const handler = middy<CloudFormationCustomResourceEvent, CustomResourceResponse, Error, Context>()
  .use(observability())
  .use(cloudFormationResponse())
  .handler(answerRequest);

async function answerRequest(event: CloudFormationCustomResourceEvent): Promise<CustomResourceResponse> {
  // Every secret read for this event, so that no answer or log line can carry one of them.
  const secretsSeen: string[] = [];
  const deps: PlatformApplicationDeps = {
    readSecret: async (secretArn) => {
      const value = await readSecret(secretArn);
      secretsSeen.push(value);
      try {
        const parsed = JSON.parse(value) as Record<string, unknown>;
        for (const value of Object.values(parsed)) if (typeof value === 'string' && value.length >= 16) secretsSeen.push(value);
      } catch {
        // Not JSON: the use case reports that without the value.
      }
      return value;
    },
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
  };

  const summary = { requestType: event.RequestType, logicalResourceId: event.LogicalResourceId };
  let result: PlatformApplicationResult;
  try {
    const properties = platformApplicationPropertiesSchema.parse(event.ResourceProperties);
    const oldProperties =
      event.RequestType === 'Update' ? platformApplicationPropertiesSchema.safeParse(event.OldResourceProperties).data : undefined;
    result = await managePlatformApplication(
      {
        requestType: event.RequestType,
        stackName: stackNameOf(event.StackId),
        logicalResourceId: event.LogicalResourceId,
        requestId: event.RequestId,
        properties,
        ...(event.RequestType !== 'Create' ? { physicalResourceId: event.PhysicalResourceId } : {}),
        ...(oldProperties !== undefined ? { oldProperties } : {}),
      },
      deps,
    );
  } catch (error) {
    const reason = redact(error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error', secretsSeen);
    logger.error('platform application request failed', { ...summary, reason });
    return {
      Status: 'FAILED',
      Reason: reason.slice(0, 1000),
      // Keeps the old id on a failed Update/Delete; a failed Create gets a placeholder that Delete recognizes.
      PhysicalResourceId: event.RequestType === 'Create' ? `failed-${event.RequestId}` : event.PhysicalResourceId,
    };
  }
  logger.info('platform application request done', { ...summary, physicalResourceId: result.physicalResourceId });
  return { Status: 'SUCCESS', PhysicalResourceId: result.physicalResourceId, ...(result.data ? { Data: result.data } : {}) };
}

/** `arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>` → `<name>`. */
function stackNameOf(stackId: string): string {
  return stackId.split('/')[1] ?? 'stack';
}
