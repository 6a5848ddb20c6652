import { DynamoDbDedupeStore } from '../_lib/adapters/dynamodb-dedupe-store.js';
import { DynamoDbDecisionLog } from '../_lib/adapters/dynamodb-decision-log.js';
import { DynamoDbOrgStore } from '../_lib/adapters/dynamodb-org-store.js';
import { LazyManagedSubscriptions } from '../_lib/adapters/lazy-managed-subscriptions.js';
import { DynamoDbCallbackDirectory } from '../_lib/adapters/dynamodb-callback-directory.js';
import { DynamoDbDeviceReader } from '../_lib/adapters/dynamodb-device-reader.js';
import { DynamoDbSettlementLog } from '../_lib/adapters/dynamodb-settlement-log.js';
import { DynamoDbTokenRetirement } from '../_lib/adapters/dynamodb-token-retirement.js';
import { DynamoDbBurstBudget } from '../_lib/adapters/dynamodb-burst-budget.js';
import { DynamoDbMailboxActionLimit } from '../_lib/adapters/dynamodb-mailbox-action-limit.js';
import { lambdaEventQueue } from '../_lib/aws/sqs.js';
import { config } from '../_lib/config.js';
import { lambdaRuntime } from '../_lib/lambda-runtime.js';
import { mailServerReaders, orgKeyring } from '../_lib/org-runtime.js';
import { pushGateway } from '../_lib/push-runtime.js';
import { queueRegistrationSeal } from '../_lib/queue-seal-runtime.js';
import { createDispatcherHandler } from './edge.js';
import { buildDispatcherDeps } from './wiring.js';

// The table's adapters this function's wiring uses, by class: its bundle holds no other.
const runtime = lambdaRuntime({
  ports: {
    devices: DynamoDbDeviceReader,
    callbacks: DynamoDbCallbackDirectory,
    retirement: DynamoDbTokenRetirement,
    burstBudget: DynamoDbBurstBudget,
    actionLimit: DynamoDbMailboxActionLimit,
  },
  stores: { dedupe: DynamoDbDedupeStore, decisions: DynamoDbDecisionLog, settlements: DynamoDbSettlementLog, orgs: DynamoDbOrgStore, managed: LazyManagedSubscriptions },
});

export const handler = createDispatcherHandler(
  buildDispatcherDeps(runtime, {
    push: await pushGateway(),
    maxReceiveCount: config.maxReceiveCount(),
    queue: lambdaEventQueue(),
    keyring: orgKeyring(),
    readers: mailServerReaders,
    // On AWS only https to public addresses (contract section 8).
    mailServerPolicy: { allowLoopback: false },
    publicUrl: config.callbackBaseUrl(),
    registrationSeal: queueRegistrationSeal(),
  }),
);
