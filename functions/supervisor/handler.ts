import { DynamoDbDecisionLog } from '../_lib/adapters/dynamodb-decision-log.js';
import { DynamoDbManagedSubscriptions } from '../_lib/adapters/dynamodb-managed-subscriptions.js';
import { DynamoDbDeviceReader } from '../_lib/adapters/dynamodb-device-reader.js';
import { DynamoDbDeviceRegistry } from '../_lib/adapters/dynamodb-device-registry.js';
import { DynamoDbSupervisionIndex } from '../_lib/adapters/dynamodb-supervision-index.js';
import { DynamoDbTokenRetirement } from '../_lib/adapters/dynamodb-token-retirement.js';
import { DynamoDbMailboxActionLimit } from '../_lib/adapters/dynamodb-mailbox-action-limit.js';
import { lambdaEventQueue } from '../_lib/aws/sqs.js';
import { lambdaRuntime } from '../_lib/lambda-runtime.js';
import { pushGateway } from '../_lib/push-runtime.js';
import { createSupervisorHandler } from './edge.js';
import { buildSupervisorDeps } from './wiring.js';

// The table's adapters this function's wiring uses, by class: its bundle holds no other.
const runtime = lambdaRuntime({
  ports: {
    devices: DynamoDbDeviceReader,
    registry: DynamoDbDeviceRegistry,
    supervision: DynamoDbSupervisionIndex,
    retirement: DynamoDbTokenRetirement,
    actionLimit: DynamoDbMailboxActionLimit,
  },
  stores: { decisions: DynamoDbDecisionLog, managed: DynamoDbManagedSubscriptions },
});

export const handler = createSupervisorHandler(buildSupervisorDeps(runtime, { push: await pushGateway(), managedWork: lambdaEventQueue() }));
