import middy from '@middy/core';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { cloudFormationResponse, type CustomResourceResponse } from '../_lib/cloudformation-response.js';
import { observability } from '../_lib/middleware.js';
import { logger } from '../_lib/powertools.js';
import {
  managePlatformApplication,
  platformApplicationPropertiesSchema,
  redact,
  type PlatformApplicationDeps,
  type PlatformApplicationResult,
} from './platform-application.js';

export type PlatformApplicationHandler = middy.MiddyfiedHandler<CloudFormationCustomResourceEvent, CustomResourceResponse, Error, Context>;

/**
 * The custom resource provider of the SNS platform applications, invoked by CloudFormation directly (no provider
 * framework: one function, whose only secret access is this one secret). It must answer CloudFormation on every path,
 * or the stack waits an hour for the answer: the cloudFormationResponse() middleware sends what this returns, and a
 * FAILED answer when it throws.
 */
export function createPlatformApplicationHandler(
  deps: PlatformApplicationDeps,
  options: Parameters<typeof cloudFormationResponse>[0] = {},
): PlatformApplicationHandler {
  return middy<CloudFormationCustomResourceEvent, CustomResourceResponse, Error, Context>()
    .use(observability())
    .use(cloudFormationResponse(options))
    .handler((event) => answerRequest(event, deps));
}

async function answerRequest(event: CloudFormationCustomResourceEvent, deps: PlatformApplicationDeps): Promise<CustomResourceResponse> {
  // Every secret read for this event, so that no answer or log line can carry one of them.
  const secretsSeen: string[] = [];
  const watched: PlatformApplicationDeps = {
    ...deps,
    readSecret: async (secretArn) => {
      const value = await deps.readSecret(secretArn);
      secretsSeen.push(value);
      try {
        const parsed = JSON.parse(value) as Record<string, unknown>;
        for (const field of Object.values(parsed)) if (typeof field === 'string' && field.length >= 16) secretsSeen.push(field);
      } catch {
        // Not JSON: the use case reports that without the value.
      }
      return value;
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
      watched,
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
