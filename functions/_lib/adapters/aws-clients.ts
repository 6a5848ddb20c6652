import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClientOf } from './dynamodb-document-client.js';

/** Static credentials; locally any non-empty pair is accepted by dynalite and fauxqs. */
export interface StaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface AwsClientOptions {
  region: string;
  /** One endpoint for every service (e.g. a LocalStack-style gateway). Implies local dummy credentials. */
  endpoint?: string;
  /**
   * Per-service endpoints, overriding `endpoint`. The embedded local backends run DynamoDB and SQS on two ports.
   * Implies local dummy credentials.
   */
  endpoints?: { dynamodb?: string; sqs?: string };
  /** Defaults: the SDK's provider chain in AWS; a dummy pair when an endpoint is set. */
  credentials?: StaticCredentials;
  /** SDK attempts per call, including the first (SDK default 3). */
  maxAttempts?: number;
}

export interface AwsClients {
  dynamodb: DynamoDBClient;
  /** Plain-JS view of `dynamodb`; undefined attribute values are dropped instead of failing the write. */
  documentClient: DynamoDBDocumentClient;
  sqs: SQSClient;
}

/** Credentials for local emulators; given explicitly so that no SDK loader goes looking for IMDS or profiles. */
export const LOCAL_CREDENTIALS: StaticCredentials = { accessKeyId: 'local', secretAccessKey: 'local' };

/**
 * Builds the DynamoDB and SQS clients from explicit options, for the local runtime, the tests and the benchmarks; reads
 * no environment. A Lambda builds its clients in functions/_lib/aws/ (one module per service, so each bundle holds only
 * the clients its function uses). Call once per process so that connections are reused.
 *
 * When an endpoint is given it is passed to the client explicitly: fauxqs hands out queue URLs whose host may not
 * resolve, and the SQS client otherwise sends each request to its QueueUrl's host.
 */
export function createAwsClients(options: AwsClientOptions): AwsClients {
  const dynamodbEndpoint = options.endpoints?.dynamodb ?? options.endpoint;
  const sqsEndpoint = options.endpoints?.sqs ?? options.endpoint;
  const base = { region: options.region, ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}) };
  const credentialsFor = (endpoint: string | undefined) =>
    options.credentials ?? (endpoint !== undefined ? LOCAL_CREDENTIALS : undefined);

  const dynamodb = new DynamoDBClient({
    ...base,
    ...(dynamodbEndpoint !== undefined ? { endpoint: dynamodbEndpoint } : {}),
    ...withCredentials(credentialsFor(dynamodbEndpoint)),
  });
  const documentClient = documentClientOf(dynamodb);
  const sqs = new SQSClient({
    ...base,
    ...(sqsEndpoint !== undefined ? { endpoint: sqsEndpoint, useQueueUrlAsEndpoint: false } : {}),
    ...withCredentials(credentialsFor(sqsEndpoint)),
  });
  return { dynamodb, documentClient, sqs };
}

/** Releases the clients' sockets (tests and the local runner; Lambdas keep theirs). */
export function destroyAwsClients(clients: AwsClients): void {
  clients.documentClient.destroy();
  clients.dynamodb.destroy();
  clients.sqs.destroy();
}

function withCredentials(credentials: StaticCredentials | undefined): { credentials?: StaticCredentials } {
  // A copy per client: the SDK annotates the object it is given.
  return credentials ? { credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey } } : {};
}
