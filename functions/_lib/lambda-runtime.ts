import { DynamoDbDecisionLog } from './adapters/dynamodb-decision-log.js';
import { DynamoDbDedupeStore } from './adapters/dynamodb-dedupe-store.js';
import { dynamoDbDevicePorts } from './adapters/dynamodb-device-ports.js';
import { DynamoDbManagedSubscriptions } from './adapters/dynamodb-managed-subscriptions.js';
import { DynamoDbOrgStore } from './adapters/dynamodb-org-store.js';
import { DynamoDbSettlementLog } from './adapters/dynamodb-settlement-log.js';
import { lambdaDocumentClient } from './aws/dynamodb.js';
import { config } from './config.js';
import { metricsCounter, useCaseLogger } from './powertools.js';
import type { RelayRuntime } from './relay-runtime.js';

/**
 * The Lambda's RelayRuntime: the DynamoDB adapters over the table (TABLE_NAME), the real clock and randomness,
 * Powertools logs and metrics. Only DynamoDB: the other clients come from functions/_lib/aws/, one module per
 * service, imported by the handlers whose functions use them.
 */
export function lambdaRuntime(): RelayRuntime {
  const documentClient = lambdaDocumentClient();
  const tableName = config.tableName();
  return {
    ports: dynamoDbDevicePorts(documentClient, tableName),
    dedupe: new DynamoDbDedupeStore(documentClient, tableName),
    decisions: new DynamoDbDecisionLog(documentClient, tableName),
    settlements: new DynamoDbSettlementLog(documentClient, tableName),
    orgs: new DynamoDbOrgStore(documentClient, tableName),
    managed: new DynamoDbManagedSubscriptions(documentClient, tableName),
    now: Date.now,
    random: Math.random,
    logger: useCaseLogger,
    counter: metricsCounter,
  };
}
