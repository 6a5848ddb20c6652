import { dynamoDbDevicePorts } from '../_lib/adapters/dynamodb-device-ports.js';
import { SqsEventQueue } from '../_lib/adapters/sqs-event-queue.js';
import { awsClients } from '../_lib/aws-runtime.js';
import { config } from '../_lib/config.js';
import { metricsCounter, useCaseLogger } from '../_lib/powertools.js';
import { createExchangeCallbackHandler } from './edge.js';

const { documentClient, sqs } = awsClients();
const { callbacks, devices, supervision } = dynamoDbDevicePorts(documentClient, config.tableName());

export const handler = createExchangeCallbackHandler({
  callbacks,
  devices,
  supervision,
  queue: new SqsEventQueue(sqs, config.eventQueueUrl()),
  now: Date.now,
  logger: useCaseLogger,
  counter: metricsCounter,
});
