import { request as httpsRequest } from 'node:https';
import type middy from '@middy/core';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';

/** What a custom resource handler answers; the middleware sends it to CloudFormation. */
export interface CustomResourceResponse {
  Status: 'SUCCESS' | 'FAILED';
  Reason?: string;
  PhysicalResourceId: string;
  Data?: Record<string, string>;
}

/**
 * Answers CloudFormation for a custom resource invoked directly (no provider framework): the handler returns its
 * CustomResourceResponse and this middleware PUTs it to the pre-signed ResponseURL. A handler that throws still gets an
 * answer (FAILED, with no error text, which could carry a secret), since a custom resource without one makes the stack
 * wait an hour.
 */
export function cloudFormationResponse(
  options: { upload?: (responseUrl: string, body: string) => Promise<void> } = {},
): middy.MiddlewareObj<CloudFormationCustomResourceEvent, CustomResourceResponse, Error, Context> {
  const upload = options.upload ?? putToResponseUrl;
  return {
    after: async (request) => {
      await upload(request.event.ResponseURL, answerBody(request.event, request.context, request.response as CustomResourceResponse));
    },
    onError: async (request) => {
      const { event } = request;
      await upload(event.ResponseURL, answerBody(event, request.context, {
        Status: 'FAILED',
        PhysicalResourceId: event.RequestType === 'Create' ? `failed-${event.RequestId}` : event.PhysicalResourceId,
      }));
    },
  };
}

/** The answer document CloudFormation reads from the response URL. */
function answerBody(event: CloudFormationCustomResourceEvent, context: Context, response: CustomResourceResponse): string {
  return JSON.stringify({
    ...response,
    Reason: response.Reason ?? `see CloudWatch Logs: ${context.logStreamName}`,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    NoEcho: false,
  });
}

/** PUTs the answer to CloudFormation's pre-signed S3 URL, as the cfn-response module does (empty content type). */
async function putToResponseUrl(responseUrl: string, body: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const request = httpsRequest(
      responseUrl,
      { method: 'PUT', headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) } },
      (answer) => {
        answer.resume();
        answer.on('end', () =>
          answer.statusCode !== undefined && answer.statusCode < 300
            ? resolve()
            : reject(new Error(`CloudFormation response upload answered ${answer.statusCode}`)),
        );
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}
