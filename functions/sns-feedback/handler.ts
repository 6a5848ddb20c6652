import { DynamoDbTokenRetirement } from '../_lib/adapters/dynamodb-token-retirement.js';
import { SnsEndpointRegistry } from '../_lib/adapters/sns-endpoint-registry.js';
import { lambdaDocumentClient } from '../_lib/aws/dynamodb.js';
import { lambdaSnsClient } from '../_lib/aws/sns.js';
import { config } from '../_lib/config.js';
import { useCaseLogger } from '../_lib/powertools.js';
import { createSnsFeedbackHandler } from './edge.js';

// Its one wiring (nothing runs this function locally: no SNS there). Only the retirement adapter, not the whole
// lambdaRuntime(): the feedback function's bundle holds no other table adapter.
export const handler = createSnsFeedbackHandler({
  // Only describe() is used: the registry needs no platform applications for it.
  endpoints: new SnsEndpointRegistry(lambdaSnsClient(), { platformApplicationArns: {} }),
  retirement: new DynamoDbTokenRetirement(lambdaDocumentClient(), config.tableName()),
  logger: useCaseLogger,
  now: Date.now,
});
