import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClientOf } from '../adapters/dynamodb-document-client.js';
import { traced } from '../powertools.js';
import { lambdaClientSettings } from './settings.js';

let documentClient: DynamoDBDocumentClient | undefined;

/** The Lambda's DynamoDB client, one per process (module scope, so connections are reused), traced by X-Ray. */
export function lambdaDocumentClient(): DynamoDBDocumentClient {
  documentClient ??= documentClientOf(traced(new DynamoDBClient(lambdaClientSettings('dynamodb'))));
  return documentClient;
}
