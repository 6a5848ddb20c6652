import { DynamoDbDeviceStore } from '../_lib/adapters/dynamodb-device-store.js';
import { SqsEventQueue } from '../_lib/adapters/sqs-event-queue.js';
import { awsClients } from '../_lib/aws-runtime.js';
import { config } from '../_lib/config.js';
import { metricsCounter, useCaseLogger } from '../_lib/powertools.js';
import { createExchangeCallbackHandler } from './exchange-callback.js';

const { documentClient, sqs } = awsClients();

export const handler = createExchangeCallbackHandler({
  store: new DynamoDbDeviceStore(documentClient, config.tableName()),
  queue: new SqsEventQueue(sqs, config.eventQueueUrl()),
  now: Date.now,
  logger: useCaseLogger,
  counter: metricsCounter,
});
