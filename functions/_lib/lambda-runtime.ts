import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DevicePorts } from '../../shared/store/ports.js';
import { lambdaDocumentClient } from './aws/dynamodb.js';
import { config } from './config.js';
import { metricsCounter, useCaseLogger } from './powertools.js';
import type { RelayRuntime, TableStores } from './relay-runtime.js';

/** The DynamoDB adapter class of each device port a function uses, as its handler names them. */
export type DevicePortAdapters<P extends keyof DevicePorts> = { [K in P]: new (client: DynamoDBDocumentClient, tableName: string) => DevicePorts[K] };
/** The DynamoDB adapter class of each other store a function uses. */
export type TableStoreAdapters<S extends keyof TableStores> = { [K in S]: new (client: DynamoDBDocumentClient, tableName: string) => TableStores[K] };

/**
 * The Lambda's RelayRuntime: the DynamoDB adapters over the table (TABLE_NAME), the real clock and randomness,
 * Powertools logs and metrics. Only DynamoDB: the other clients come from functions/_lib/aws/, one module per
 * service, imported by the handlers whose functions use them. The device ports and stores are those the handler names,
 * by adapter class, so that a function's bundle holds only the adapters its wiring uses (issue 15); the wiring's type
 * says which it needs, so a missing one fails the typecheck.
 */
export function lambdaRuntime<P extends keyof DevicePorts, S extends keyof TableStores>(adapters: {
  ports: DevicePortAdapters<P>;
  stores: TableStoreAdapters<S>;
}): RelayRuntime<P, S> {
  const documentClient = lambdaDocumentClient();
  const tableName = config.tableName();
  const build = <T>(classes: Record<string, new (client: DynamoDBDocumentClient, tableName: string) => unknown>): T =>
    Object.fromEntries(Object.entries(classes).map(([name, Adapter]) => [name, new Adapter(documentClient, tableName)])) as T;
  return {
    ports: build<Pick<DevicePorts, P>>(adapters.ports),
    ...build<Pick<TableStores, S>>(adapters.stores),
    now: Date.now,
    random: Math.random,
    logger: useCaseLogger,
    counter: metricsCounter,
  } as RelayRuntime<P, S>;
}
