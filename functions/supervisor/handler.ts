import { DynamoDbDecisionLog } from '../_lib/adapters/dynamodb-decision-log.js';
import { dynamoDbDevicePorts } from '../_lib/adapters/dynamodb-device-ports.js';
import { awsClients, pushGateway } from '../_lib/aws-runtime.js';
import { config } from '../_lib/config.js';
import { metricsCounter, useCaseLogger } from '../_lib/powertools.js';
import { createSupervisorHandler } from './edge.js';

const { documentClient } = awsClients();
const tableName = config.tableName();
const { devices, registry, supervision, retirement, actionLimit } = dynamoDbDevicePorts(documentClient, tableName);

export const handler = createSupervisorHandler({
  devices,
  registry,
  supervision,
  retirement,
  actionLimit,
  decisions: new DynamoDbDecisionLog(documentClient, tableName),
  push: await pushGateway(),
  now: Date.now,
  random: Math.random,
  logger: useCaseLogger,
  counter: metricsCounter,
});
