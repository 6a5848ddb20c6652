import { DynamoDbDecisionLog } from '../_lib/adapters/dynamodb-decision-log.js';
import { dynamoDbDevicePorts } from '../_lib/adapters/dynamodb-device-ports.js';
import { SqsEventQueue } from '../_lib/adapters/sqs-event-queue.js';
import { awsClients } from '../_lib/aws-runtime.js';
import { config } from '../_lib/config.js';
import { metricsCounter, useCaseLogger } from '../_lib/powertools.js';
import { createExchangeCallbackHandler } from './edge.js';

const { documentClient, sqs } = awsClients();
const tableName = config.tableName();
const { callbacks, devices, supervision } = dynamoDbDevicePorts(documentClient, tableName);

export const handler = createExchangeCallbackHandler({
  callbacks,
  devices,
  supervision,
  decisions: new DynamoDbDecisionLog(documentClient, tableName),
  queue: new SqsEventQueue(sqs, config.eventQueueUrl()),
  now: Date.now,
  logger: useCaseLogger,
  counter: metricsCounter,
});
