import { Duration } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { RelayFunction } from './relay-function.js';

export interface EventQueueProps {
  /**
   * The consumer's function timeout. The visibility timeout is six times this, AWS's advice for Lambda event sources,
   * so a batch still being retried inside the function is not handed out a second time.
   */
  readonly consumerTimeout: Duration;
  /** Receives before a message moves to the dead-letter queue. @default 5 */
  readonly maxReceiveCount?: number;
}

export interface FeedOptions {
  /** @default 10 */
  readonly batchSize?: number;
  /** How long Lambda gathers messages before invoking; each second here is a second of push latency. @default 1 s */
  readonly maxBatchingWindow?: Duration;
  /** Concurrent invocations at most. @default no limit beyond the account's */
  readonly maxConcurrency?: number;
}

/**
 * The callback → dispatcher queue and its dead-letter queue: SSE-SQS encryption, TLS-only access policies, and a
 * redrive after `maxReceiveCount` receives. Messages that land in the DLQ stay 14 days for an operator to redrive.
 */
export class EventQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly maxReceiveCount: number;
  private readonly visibilityTimeout: Duration;

  constructor(scope: Construct, id: string, props: EventQueueProps) {
    super(scope, id);
    this.maxReceiveCount = props.maxReceiveCount ?? 5;
    if (!Number.isInteger(this.maxReceiveCount) || this.maxReceiveCount < 1 || this.maxReceiveCount > 1000) {
      throw new Error(`maxReceiveCount must be an integer from 1 to 1000, not ${this.maxReceiveCount}`);
    }
    this.visibilityTimeout = Duration.seconds(props.consumerTimeout.toSeconds() * 6);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: this.visibilityTimeout,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: this.maxReceiveCount },
    });
  }

  /** Lets the function enqueue (SendMessage covers SendMessageBatch) and sets EVENT_QUEUE_URL. */
  allowSendFrom(fn: RelayFunction): void {
    this.queue.grant(fn.role, 'sqs:SendMessage');
    fn.addEnvironment('EVENT_QUEUE_URL', this.queue.queueUrl);
  }

  /**
   * Makes the function the queue's consumer with partial batch responses, and sets MAX_RECEIVE_COUNT so the
   * function knows which failing attempt is the last before the DLQ.
   */
  feed(fn: RelayFunction, options: FeedOptions = {}): void {
    const timeout = fn.function.timeout;
    if (timeout !== undefined && timeout.toSeconds() * 6 > this.visibilityTimeout.toSeconds()) {
      throw new Error(`the consumer's timeout (${timeout.toSeconds()} s) must be at most a sixth of the queue's visibility timeout`);
    }
    fn.function.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: options.batchSize ?? 10,
        maxBatchingWindow: options.maxBatchingWindow ?? Duration.seconds(1),
        reportBatchItemFailures: true,
        ...(options.maxConcurrency !== undefined ? { maxConcurrency: options.maxConcurrency } : {}),
      }),
    );
    fn.addEnvironment('MAX_RECEIVE_COUNT', String(this.maxReceiveCount));
  }
}
