import { DynamoDbDecisionLog } from '../_lib/adapters/dynamodb-decision-log.js';
import { dynamoDbDevicePorts } from '../_lib/adapters/dynamodb-device-ports.js';
import { DynamoDbOrgStore } from '../_lib/adapters/dynamodb-org-store.js';
import { awsClients, pushEndpointRegistry, secretsManagerSecret } from '../_lib/aws-runtime.js';
import { mailServerReaders, orgKeyring } from '../_lib/org-runtime.js';
import { config } from '../_lib/config.js';
import { createDeviceApiHandler } from './edge.js';

const { documentClient } = awsClients();
const orgTokenSecret = secretsManagerSecret(config.orgTokenSecretArn());
// Read once at cold start, so a missing or unreadable secret fails the start (and the Errors alarm), not a request.
await orgTokenSecret();
const tableName = config.tableName();
const { devices, registry, mailboxes, retirement, pushTokens, deviceQuota } = dynamoDbDevicePorts(documentClient, tableName);

export const handler = createDeviceApiHandler({
  devices,
  registry,
  mailboxes,
  retirement,
  pushTokens,
  deviceQuota,
  maxDevicesPerOrg: config.maxDevicesPerOrg(),
  decisions: new DynamoDbDecisionLog(documentClient, tableName),
  endpoints: pushEndpointRegistry(),
  publicUrl: config.publicUrl(),
  orgTokenSecret,
  now: Date.now,
  random: Math.random,
  orgs: new DynamoDbOrgStore(documentClient, tableName),
  keyring: orgKeyring(),
  readers: mailServerReaders,
});
