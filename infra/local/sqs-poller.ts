import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import type { DispatcherHandler } from '../../functions/dispatcher/edge.js';
import type { UseCaseLogger } from '../../functions/_lib/powertools.js';
import { localLambdaContext } from './lambda-context.js';

export interface SqsPollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn?: string;
  handler: DispatcherHandler;
  logger: UseCaseLogger;
  /** Parallel pollers, like concurrent Lambda invocations. */
  concurrency?: number;
  batchSize?: number;
  /** Long-poll wait; short, so that stop() returns quickly. */
  waitTimeSeconds?: number;
  /**
   * The queue's visibility timeout: a batch still being handled when half of it has passed is made invisible for
   * that long again, so that it is never received a second time while the first run of it is still at work.
   */
  visibilityTimeoutSeconds?: number;
}

export interface SqsPoller {
  stop(): Promise<void>;
}

/**
 * The local stand-in for Lambda's SQS event source mapping: long-polls, invokes the handler with an SQS event, and
 * deletes only the records not reported in `batchItemFailures`. The rest become visible again after the visibility
 * timeout and reach the DLQ after maxReceiveCount, as on AWS. A handler that throws fails the whole batch.
 *
 * On AWS a batch cannot outlive its visibility timeout (6 times the function's timeout, which ends the invocation);
 * here nothing ends a slow handler, so the poller keeps the batch invisible while it runs. Without that, a batch
 * slower than the timeout (a loaded machine, a short test timeout) came back while still being handled, and both
 * runs of one message pushed.
 */
export function startSqsPoller(options: SqsPollerOptions): SqsPoller {
  let running = true;
  const controller = new AbortController();
  const loops = Array.from({ length: options.concurrency ?? 2 }, () => pollLoop());

  async function pollLoop(): Promise<void> {
    while (running) {
      let messages: Message[] = [];
      try {
        const received = await options.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: options.queueUrl,
            MaxNumberOfMessages: options.batchSize ?? 10,
            WaitTimeSeconds: options.waitTimeSeconds ?? 1,
            ...(options.visibilityTimeoutSeconds === undefined ? {} : { VisibilityTimeout: options.visibilityTimeoutSeconds }),
            MessageSystemAttributeNames: ['All'],
          }),
          { abortSignal: controller.signal },
        );
        messages = received.Messages ?? [];
      } catch (error) {
        if (!running) return;
        options.logger.warn('local SQS poll failed', { error: error as Error });
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      if (messages.length === 0) continue;
      await invoke(messages);
    }
  }

  async function invoke(messages: Message[]): Promise<void> {
    const event: SQSEvent = { Records: messages.map((message) => toRecord(message, options)) };
    let failed = new Set<string>(messages.map((m) => m.MessageId ?? ''));
    const visibility = options.visibilityTimeoutSeconds;
    const keepInvisible =
      visibility === undefined
        ? undefined
        : setInterval(() => {
            options.sqs
              .send(
                new ChangeMessageVisibilityBatchCommand({
                  QueueUrl: options.queueUrl,
                  Entries: messages.map((m, index) => ({ Id: String(index), ReceiptHandle: m.ReceiptHandle ?? '', VisibilityTimeout: visibility })),
                }),
              )
              .catch((error: unknown) => options.logger.warn('could not keep a batch in progress invisible', { error: error as Error }));
          }, (visibility * 1000) / 2);
    try {
      const response = await options.handler(event, localLambdaContext('dispatcher'));
      failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (error) {
      options.logger.warn('dispatcher invocation failed; the whole batch will be redelivered', { error: error as Error });
    } finally {
      clearInterval(keepInvisible);
    }
    const done = messages.filter((m) => !failed.has(m.MessageId ?? ''));
    if (done.length === 0) return;
    try {
      await options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: done.map((m, index) => ({ Id: String(index), ReceiptHandle: m.ReceiptHandle ?? '' })),
        }),
      );
    } catch (error) {
      // Not deleted means redelivered; the dispatcher's idempotency keys turn that into a duplicate, not a second push.
      options.logger.warn('could not delete processed messages', { error: error as Error });
    }
  }

  return {
    async stop() {
      running = false;
      controller.abort();
      await Promise.allSettled(loops);
    },
  };
}

function toRecord(message: Message, options: SqsPollerOptions): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: options.queueArn ?? 'arn:aws:sqs:us-east-1:000000000000:local-events',
    awsRegion: 'us-east-1',
  };
}
