import { DynamoDbDecisionLog } from '../_lib/adapters/dynamodb-decision-log.js';
import { DynamoDbOrgStore } from '../_lib/adapters/dynamodb-org-store.js';
import { LazyManagedSubscriptions } from '../_lib/adapters/lazy-managed-subscriptions.js';
import { DynamoDbDeviceReader } from '../_lib/adapters/dynamodb-device-reader.js';
import { DynamoDbDeviceRegistry } from '../_lib/adapters/dynamodb-device-registry.js';
import { DynamoDbMailboxRegistry } from '../_lib/adapters/dynamodb-mailbox-registry.js';
import { DynamoDbTokenRetirement } from '../_lib/adapters/dynamodb-token-retirement.js';
import { DynamoDbPushTokenClaims } from '../_lib/adapters/dynamodb-push-token-claims.js';
import { DynamoDbDeviceQuota } from '../_lib/adapters/dynamodb-device-quota.js';
import { SnsEndpointRegistry } from '../_lib/adapters/sns-endpoint-registry.js';
import { secretsManagerSecret } from '../_lib/aws/secrets-manager.js';
import { eventQueueOnFirstUse } from '../_lib/aws/sqs-on-first-use.js';
import { lambdaSnsClient } from '../_lib/aws/sns.js';
import { config } from '../_lib/config.js';
import { lambdaRuntime } from '../_lib/lambda-runtime.js';
import { mailServerReaders, orgKeyring } from '../_lib/org-runtime.js';
import { noEndpointRegistry } from '../../shared/push/push-gateway.js';
import { createDeviceApiHandler } from './edge.js';
import { buildDeviceApiDeps } from './wiring.js';

const orgTokenSecret = secretsManagerSecret(config.orgTokenSecretArn());
// Read once at cold start, so a missing or unreadable secret fails the start (and the Errors alarm), not a request.
await orgTokenSecret();

// The table's adapters this function's wiring uses, by class: its bundle holds no other.
const runtime = lambdaRuntime({
  ports: {
    devices: DynamoDbDeviceReader,
    registry: DynamoDbDeviceRegistry,
    mailboxes: DynamoDbMailboxRegistry,
    retirement: DynamoDbTokenRetirement,
    pushTokens: DynamoDbPushTokenClaims,
    deviceQuota: DynamoDbDeviceQuota,
  },
  stores: { decisions: DynamoDbDecisionLog, orgs: DynamoDbOrgStore, managed: LazyManagedSubscriptions },
});

export const handler = createDeviceApiHandler(
  buildDeviceApiDeps(runtime, {
    // SNS mobile push registers a platform endpoint per device; direct APNs has nothing to register.
    endpoints:
      config.pushGateway() === 'sns'
        ? new SnsEndpointRegistry(lambdaSnsClient(), {
            platformApplicationArns: { production: config.snsPlatformApplicationArn(), sandbox: config.snsSandboxPlatformApplicationArn() },
          })
        : noEndpointRegistry,
    publicUrl: config.callbackBaseUrl(),
    orgTokenSecret,
    maxDevicesPerOrg: config.maxDevicesPerOrg(),
    keyring: orgKeyring(),
    readers: mailServerReaders,
    // On AWS only https to public addresses (contract section 8).
    mailServerPolicy: { allowLoopback: false },
    queue: eventQueueOnFirstUse(),
  }),
);
