import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { queueMessageSchema } from '../../shared/queue/queue-messages.js';
import { parseJsonWith } from '../../shared/validation.js';
import type { UseCaseLogger } from '../_lib/powertools.js';
import { observability } from '../_lib/middleware.js';
import type { DispatcherDeps, DispatchRecord } from './deps.js';
import { dispatchNotifications, type DispatchResult } from './dispatch-notifications.js';

export type DispatcherHandler = middy.MiddyfiedHandler<SQSEvent, SQSBatchResponse, Error, Context>;

/** One SQS record as the edge gets it. */
export interface QueueRecord {
  messageId: string;
  body: string;
  /** SQS ApproximateReceiveCount. */
  receiveCount: number;
}

/** The SQS consumer: reports partial batch failures (the event source mapping has ReportBatchItemFailures). */
export function createDispatcherHandler(deps: DispatcherDeps): DispatcherHandler {
  return middy<SQSEvent, SQSBatchResponse>()
    .use(observability())
    .handler(async (event) => {
      const { failedMessageIds } = await dispatchQueueRecords(
        event.Records.map((record) => ({
          messageId: record.messageId,
          body: record.body,
          receiveCount: Number(record.attributes.ApproximateReceiveCount ?? '1'),
        })),
        deps,
      );
      return { batchItemFailures: failedMessageIds.map((itemIdentifier) => ({ itemIdentifier })) };
    });
}

/** Parses the batch's records and dispatches the queue messages among them; the rest fail as poison. */
export async function dispatchQueueRecords(records: QueueRecord[], deps: DispatcherDeps): Promise<DispatchResult> {
  const poison: string[] = [];
  const parsed: DispatchRecord[] = [];
  for (const record of records) {
    const message = parseQueueRecord(record, deps.logger);
    // A body that can never be parsed is poison: fail it so it reaches the DLQ with its reason logged.
    if (message) parsed.push({ ...record, message });
    else poison.push(record.messageId);
  }
  const { failedMessageIds } = await dispatchNotifications(parsed, deps);
  return { failedMessageIds: [...poison, ...failedMessageIds] };
}

function parseQueueRecord(record: QueueRecord, logger: UseCaseLogger): DispatchRecord['message'] | undefined {
  const parsed = parseJsonWith(queueMessageSchema, record.body);
  if (parsed.success) return parsed.data;
  if (parsed.notJson) logger.error('poison record: body is not JSON', { messageId: record.messageId });
  else logger.error('poison record: body is not a queue message', { messageId: record.messageId, issues: parsed.issues });
  return undefined;
}
