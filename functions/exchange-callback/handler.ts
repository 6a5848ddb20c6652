import { DynamoDbDecisionLog } from '../_lib/adapters/dynamodb-decision-log.js';
import { DynamoDbCallbackDirectory } from '../_lib/adapters/dynamodb-callback-directory.js';
import { DynamoDbDeviceReader } from '../_lib/adapters/dynamodb-device-reader.js';
import { DynamoDbSupervisionIndex } from '../_lib/adapters/dynamodb-supervision-index.js';
import { lambdaEventQueue } from '../_lib/aws/sqs.js';
import { lambdaRuntime } from '../_lib/lambda-runtime.js';
import { queueRegistrationSeal } from '../_lib/queue-seal-runtime.js';
import { createExchangeCallbackHandler } from './edge.js';
import { buildExchangeCallbackDeps } from './wiring.js';

// The table's adapters this function's wiring uses, by class: its bundle holds no other.
const runtime = lambdaRuntime({
  ports: {
    callbacks: DynamoDbCallbackDirectory,
    devices: DynamoDbDeviceReader,
    supervision: DynamoDbSupervisionIndex,
  },
  stores: { decisions: DynamoDbDecisionLog },
});

export const handler = createExchangeCallbackHandler(buildExchangeCallbackDeps(runtime, { queue: lambdaEventQueue(), registrationSeal: queueRegistrationSeal() }));
