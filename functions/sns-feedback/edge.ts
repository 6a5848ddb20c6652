import middy from '@middy/core';
import type { Context, SNSEvent } from 'aws-lambda';
import { parseJsonWith } from '../../shared/validation.js';
import { observability } from '../_lib/middleware.js';
import { endpointEventSchema, retireDisabledEndpoint, type RetireDisabledEndpointDeps } from './retire-disabled-endpoint.js';

export type SnsFeedbackHandler = middy.MiddyfiedHandler<SNSEvent, void, Error, Context>;

/**
 * Subscribed to the platform applications' EventDeliveryFailure / EventEndpointUpdated topic. A thrown error makes
 * Lambda retry the event (asynchronous invocation); a malformed event is logged and dropped, since retrying cannot
 * change it.
 */
export function createSnsFeedbackHandler(deps: RetireDisabledEndpointDeps): SnsFeedbackHandler {
  return middy<SNSEvent, void>()
    .use(observability())
    .handler(async (event) => {
      for (const record of event.Records) {
        const parsed = parseJsonWith(endpointEventSchema, record.Sns.Message);
        if (!parsed.success) {
          deps.logger.warn('SNS event without an endpoint ignored', { messageId: record.Sns.MessageId });
          continue;
        }
        const publishedAt = Date.parse(record.Sns.Timestamp);
        await retireDisabledEndpoint({ event: parsed.data, publishedAt: Number.isNaN(publishedAt) ? deps.now() : publishedAt }, deps);
      }
    });
}
