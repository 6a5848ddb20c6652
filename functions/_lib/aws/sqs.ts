import { SQSClient } from '@aws-sdk/client-sqs';
import type { EventQueue } from '../../../shared/queue/queue-messages.js';
import { SqsEventQueue } from '../adapters/sqs-event-queue.js';
import { config } from '../config.js';
import { traced } from '../powertools.js';
import { lambdaClientSettings } from './settings.js';

let sqs: SQSClient | undefined;

/** The Lambda's SQS client, one per process, traced by X-Ray. */
export function lambdaSqsClient(): SQSClient {
  sqs ??= traced(new SQSClient(lambdaClientSettings('sqs')));
  return sqs;
}

/**
 * The event queue (EVENT_QUEUE_URL) of the functions that send to it: the callback and the dispatcher, and for the
 * relay's own subscriptions (contract section 9) the supervisor, the device API and the org API.
 */
export function lambdaEventQueue(): EventQueue {
  return new SqsEventQueue(lambdaSqsClient(), config.eventQueueUrl());
}
