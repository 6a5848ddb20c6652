import { DynamoDbOrgStore } from '../_lib/adapters/dynamodb-org-store.js';
import { LazyManagedSubscriptions } from '../_lib/adapters/lazy-managed-subscriptions.js';
import { DynamoDbDeviceReader } from '../_lib/adapters/dynamodb-device-reader.js';
import { DynamoDbDeviceRegistry } from '../_lib/adapters/dynamodb-device-registry.js';
import { DynamoDbMailboxRegistry } from '../_lib/adapters/dynamodb-mailbox-registry.js';
import { secretsManagerSecret } from '../_lib/aws/secrets-manager.js';
import { eventQueueOnFirstUse } from '../_lib/aws/sqs-on-first-use.js';
import { config } from '../_lib/config.js';
import { lambdaRuntime } from '../_lib/lambda-runtime.js';
import { mailServerReaders, orgKeyring } from '../_lib/org-runtime.js';
import { createOrgApiHandler } from './edge.js';
import { buildOrgApiDeps } from './wiring.js';

const adminTokenSecret = secretsManagerSecret(config.adminTokenSecretArn());
// Read once at cold start, so a missing or unreadable secret fails the start (and the Errors alarm), not a request.
await adminTokenSecret();

// The table's adapters this function's wiring uses, by class: its bundle holds no other.
const runtime = lambdaRuntime({
  ports: {
    devices: DynamoDbDeviceReader,
    registry: DynamoDbDeviceRegistry,
    mailboxes: DynamoDbMailboxRegistry,
  },
  stores: { orgs: DynamoDbOrgStore, managed: LazyManagedSubscriptions },
});

export const handler = createOrgApiHandler(
  buildOrgApiDeps(runtime, {
    keyring: orgKeyring(),
    readers: mailServerReaders,
    // On AWS only https to public addresses (contract section 8); loopback is for `npm start`.
    policy: { allowLoopback: false },
    adminTokenSecret,
    queue: eventQueueOnFirstUse(),
  }),
);
