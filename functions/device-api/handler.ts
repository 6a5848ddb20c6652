import { DynamoDbDecisionLog } from '../_lib/adapters/dynamodb-decision-log.js';
import { dynamoDbDevicePorts } from '../_lib/adapters/dynamodb-device-ports.js';
import { awsClients, pushEndpointRegistry, readSecret } from '../_lib/aws-runtime.js';
import { config } from '../_lib/config.js';
import { createDeviceApiHandler } from './edge.js';

const { documentClient } = awsClients();
const tableName = config.tableName();
const { devices, registry, mailboxes } = dynamoDbDevicePorts(documentClient, tableName);

export const handler = createDeviceApiHandler({
  devices,
  registry,
  mailboxes,
  decisions: new DynamoDbDecisionLog(documentClient, tableName),
  endpoints: pushEndpointRegistry(),
  publicUrl: config.publicUrl(),
  orgTokenSecret: await readSecret(config.orgTokenSecretArn()),
  now: Date.now,
  random: Math.random,
});
