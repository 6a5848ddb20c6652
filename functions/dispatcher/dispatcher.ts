import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { logger, metrics, tracer } from '../_lib/powertools.js';
import { dispatchNotifications, type DispatcherDeps } from './dispatch-notifications.js';

export type DispatcherHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** The SQS consumer: reports partial batch failures (the event source mapping has ReportBatchItemFailures). */
export function createDispatcherHandler(deps: DispatcherDeps): DispatcherHandler {
  return middy<SQSEvent, SQSBatchResponse>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer))
    .use(logMetrics(metrics))
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
