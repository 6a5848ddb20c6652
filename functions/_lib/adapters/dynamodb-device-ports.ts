import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DevicePorts } from '../../../shared/store/ports.js';
import { DynamoDbBurstBudget } from './dynamodb-burst-budget.js';
import { DynamoDbCallbackDirectory } from './dynamodb-callback-directory.js';
import { DynamoDbDeviceReader } from './dynamodb-device-reader.js';
import { DynamoDbDeviceRegistry } from './dynamodb-device-registry.js';
import { DynamoDbMailboxActionLimit } from './dynamodb-mailbox-action-limit.js';
import { DynamoDbMailboxRegistry, type DynamoDbMailboxRegistryOptions } from './dynamodb-mailbox-registry.js';
import { DynamoDbSupervisionIndex } from './dynamodb-supervision-index.js';
import { DynamoDbDeviceQuota } from './dynamodb-device-quota.js';
import { DynamoDbPushTokenClaims } from './dynamodb-push-token-claims.js';
import { DynamoDbTokenRetirement } from './dynamodb-token-retirement.js';

/** Every device port on one table; a function's wiring hands each use case the ones it names. */
export function dynamoDbDevicePorts(client: DynamoDBDocumentClient, tableName: string, options?: DynamoDbMailboxRegistryOptions): DevicePorts {
  return {
    devices: new DynamoDbDeviceReader(client, tableName, options),
    registry: new DynamoDbDeviceRegistry(client, tableName, options),
    mailboxes: new DynamoDbMailboxRegistry(client, tableName, options),
    callbacks: new DynamoDbCallbackDirectory(client, tableName, options),
    supervision: new DynamoDbSupervisionIndex(client, tableName, options),
    retirement: new DynamoDbTokenRetirement(client, tableName, options),
    burstBudget: new DynamoDbBurstBudget(client, tableName, options),
    actionLimit: new DynamoDbMailboxActionLimit(client, tableName, options),
    pushTokens: new DynamoDbPushTokenClaims(client, tableName, options),
    deviceQuota: new DynamoDbDeviceQuota(client, tableName, options),
  };
}
