import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { observability } from '../_lib/middleware.js';
import { dispatchNotifications, type DispatcherDeps } from './dispatch-notifications.js';

export type DispatcherHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** The SQS consumer: reports partial batch failures (the event source mapping has ReportBatchItemFailures). */
export function createDispatcherHandler(deps: DispatcherDeps): DispatcherHandler {
  return middy<SQSEvent, SQSBatchResponse>()
    .use(observability())
    .handler(async (event) => {
      const { failedMessageIds } = await dispatchNotifications(
        event.Records.map((record) => ({
          messageId: record.messageId,
          body: record.body,
          receiveCount: Number(record.attributes.ApproximateReceiveCount ?? '1'),
        })),
        deps,
      );
      return { batchItemFailures: failedMessageIds.map((itemIdentifier) => ({ itemIdentifier })) };
    }) as unknown as DispatcherHandler;
}
