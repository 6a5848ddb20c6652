import { request as httpsRequest } from 'node:https';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  CreatePlatformApplicationCommand,
  DeletePlatformApplicationCommand,
  NotFoundException,
  SetPlatformApplicationAttributesCommand,
  SNSClient,
} from '@aws-sdk/client-sns';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { logger } from '../_lib/powertools.js';
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

const sns = new SNSClient({});
const secretsManager = new SecretsManagerClient({});

export async function handler(event: CloudFormationCustomResourceEvent, context: Context): Promise<void> {
  logger.addContext(context);
  // Every secret read for this event, so that no answer or log line can carry one of them.
  const secretsSeen: string[] = [];
  const deps: PlatformApplicationDeps = {
    readSecret: async (secretArn) => {
      const { SecretString } = await secretsManager.send(new GetSecretValueCommand({ SecretId: secretArn }));
      if (SecretString === undefined) throw new Error('the APNs credentials secret has no string value');
      secretsSeen.push(SecretString);
      try {
        const parsed = JSON.parse(SecretString) as Record<string, unknown>;
        for (const value of Object.values(parsed)) if (typeof value === 'string' && value.length >= 16) secretsSeen.push(value);
      } catch {
        // Not JSON: the use case reports that without the value.
      }
      return SecretString;
    },
    createPlatformApplication: async ({ name, platform, attributes }) => {
      const { PlatformApplicationArn } = await sns.send(
        new CreatePlatformApplicationCommand({ Name: name, Platform: platform, Attributes: attributes }),
      );
      if (!PlatformApplicationArn) throw new Error('CreatePlatformApplication answered without an ARN');
      return PlatformApplicationArn;
    },
    setPlatformApplicationAttributes: async (arn, attributes) => {
      await sns.send(new SetPlatformApplicationAttributesCommand({ PlatformApplicationArn: arn, Attributes: attributes }));
    },
    deletePlatformApplication: async (arn) => {
      try {
        await sns.send(new DeletePlatformApplicationCommand({ PlatformApplicationArn: arn }));
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
    await respond(event, context, {
      Status: 'FAILED',
      Reason: reason.slice(0, 1000),
      // Keeps the old id on a failed Update/Delete; a failed Create gets a placeholder that Delete recognizes.
      PhysicalResourceId: event.RequestType === 'Create' ? `failed-${event.RequestId}` : event.PhysicalResourceId,
    });
    return;
  }
  logger.info('platform application request done', { ...summary, physicalResourceId: result.physicalResourceId });
  await respond(event, context, { Status: 'SUCCESS', PhysicalResourceId: result.physicalResourceId, ...(result.data ? { Data: result.data } : {}) });
}

interface CustomResourceResponse {
  Status: 'SUCCESS' | 'FAILED';
  Reason?: string;
  PhysicalResourceId: string;
  Data?: Record<string, string>;
}

/** `arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>` → `<name>`. */
function stackNameOf(stackId: string): string {
  return stackId.split('/')[1] ?? 'stack';
}

/** PUTs the answer to CloudFormation's pre-signed S3 URL, as the cfn-response module does (empty content type). */
async function respond(event: CloudFormationCustomResourceEvent, context: Context, response: CustomResourceResponse): Promise<void> {
  const body = JSON.stringify({
    ...response,
    Reason: response.Reason ?? `see CloudWatch Logs: ${context.logStreamName}`,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    NoEcho: false,
  });
  await new Promise<void>((resolve, reject) => {
    const request = httpsRequest(
      event.ResponseURL,
      { method: 'PUT', headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) } },
      (response) => {
        response.resume();
        response.on('end', () =>
          response.statusCode !== undefined && response.statusCode < 300
            ? resolve()
            : reject(new Error(`CloudFormation response upload answered ${response.statusCode}`)),
        );
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}
