import { dynamoDbDevicePorts } from '../_lib/adapters/dynamodb-device-ports.js';
import { DynamoDbOrgStore } from '../_lib/adapters/dynamodb-org-store.js';
import { awsClients, secretsManagerSecret } from '../_lib/aws-runtime.js';
import { mailServerReaders, orgKeyring } from '../_lib/org-runtime.js';
import { config } from '../_lib/config.js';
import { clearOrgDevices } from './clear-org-devices.js';
import { createOrgApiHandler } from './edge.js';

const { documentClient } = awsClients();
const tableName = config.tableName();
const { devices, registry, mailboxes } = dynamoDbDevicePorts(documentClient, tableName);
const orgs = new DynamoDbOrgStore(documentClient, tableName);
const adminTokenSecret = secretsManagerSecret(config.adminTokenSecretArn());
// Read once at cold start, so a missing or unreadable secret fails the start (and the Errors alarm), not a request.
await adminTokenSecret();

export const handler = createOrgApiHandler({
  orgs,
  keyring: orgKeyring(),
  readers: mailServerReaders,
  // On AWS only https to public addresses (contract section 8); loopback is for `npm start`.
  policy: { allowLoopback: false },
  clearOrgDevices: (orgId) => clearOrgDevices(orgId, { orgs, devices, registry, mailboxes, now: Date.now }),
  adminTokenSecret,
  now: Date.now,
});
