import middy from '@middy/core';
import { SNSClient } from '@aws-sdk/client-sns';
import type { SNSEvent } from 'aws-lambda';
import { DynamoDbTokenRetirement } from '../_lib/adapters/dynamodb-token-retirement.js';
import { SnsEndpointRegistry } from '../_lib/adapters/sns-endpoint-registry.js';
import { awsClients } from '../_lib/aws-runtime.js';
import { config } from '../_lib/config.js';
import { observability } from '../_lib/middleware.js';
import { logger, traced, useCaseLogger } from '../_lib/powertools.js';
import { endpointEventSchema, retireDisabledEndpoint, type RetireDisabledEndpointDeps } from './retire-disabled-endpoint.js';

/**
 * Subscribed to the platform applications' EventDeliveryFailure / EventEndpointUpdated topic. A thrown error makes
 * Lambda retry the event (asynchronous invocation); a malformed event is logged and dropped, since retrying cannot
 * change it.
 */

const { documentClient } = awsClients();
const deps: RetireDisabledEndpointDeps = {
  // Only describe() is used: the registry needs no platform applications for it.
  endpoints: new SnsEndpointRegistry(traced(new SNSClient({ region: config.region() })), { platformApplicationArns: {} }),
  retirement: new DynamoDbTokenRetirement(documentClient, config.tableName()),
  logger: useCaseLogger,
  now: Date.now,
};

export const handler = middy<SNSEvent, void>()
  .use(observability())
  .handler(async (event) => {
    for (const record of event.Records) {
      const parsed = endpointEventSchema.safeParse(parseJson(record.Sns.Message));
      if (!parsed.success) {
        logger.warn('SNS event without an endpoint ignored', { messageId: record.Sns.MessageId });
        continue;
      }
      const publishedAt = Date.parse(record.Sns.Timestamp);
      await retireDisabledEndpoint({ event: parsed.data, publishedAt: Number.isNaN(publishedAt) ? Date.now() : publishedAt }, deps);
    }
  });

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
