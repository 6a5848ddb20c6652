import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';
import { DUE_INDEX_NAME, tableDefinition } from '../../functions/_lib/adapters/table-design.js';

/**
 * Embedded AWS backends for `npm start` and integration tests: dynalite (DynamoDB) and fauxqs (SQS) in this
 * process, both listening on 127.0.0.1 only, on ports the OS picks.
 *
 * What they do not do (found out when they were chosen): dynalite has no transactions and never expires
 * items by TTL (the adapters treat expired items as absent themselves); fauxqs keeps messages in memory only, so
 * queued events are lost when the process stops, whatever `dataDir` says.
 *
 * dynalite cannot add a global secondary index to an existing table: UpdateTable with
 * `GlobalSecondaryIndexUpdates: [{ Create }]` answers success and changes nothing (dynalite 4.0.0). A persistent data
 * directory whose table predates the due index therefore cannot be upgraded in place; starting on one fails with an
 * error that says so, and nothing is deleted or recreated automatically (move the directory away to start afresh).
 */

/** Credentials the embedded backends accept (any non-empty pair would do). */
export const LOCAL_BACKEND_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_TABLE_NAME = 'inbox-relay';
export const LOCAL_EVENT_QUEUE_NAME = 'inbox-relay-events';
export const LOCAL_DEAD_LETTER_QUEUE_NAME = 'inbox-relay-events-dlq';
/** SQS's maximum retention, so that dead letters stay around for inspection while the process runs. */
const DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 60 * 60;

export interface StartLocalBackendsOptions {
  /**
   * Where DynamoDB data persists (`<dataDir>/dynamodb`, a LevelDB directory, created if missing), or `':memory:'`
   * to keep nothing. SQS messages are never persisted.
   */
  dataDir: string;
  /** Visibility timeout of the event queue (default 30 s). */
  queueVisibilityTimeoutSeconds?: number;
  /** Receives of one message before SQS moves it to the dead-letter queue (default 5). */
  maxReceiveCount?: number;
}

export interface LocalBackends {
  /** `http://127.0.0.1:<port>` of dynalite. */
  dynamodbEndpoint: string;
  /** `http://127.0.0.1:<port>` of fauxqs. Pass it to the SQS client explicitly. */
  sqsEndpoint: string;
  region: typeof LOCAL_REGION;
  credentials: { accessKeyId: string; secretAccessKey: string };
  tableName: string;
  eventQueueUrl: string;
  deadLetterQueueUrl: string;
  /** Wall time `startLocalBackends` took, for the local runner's start-up line. */
  startupMs: number;
  /** Stops both servers and closes the database; idempotent. */
  stop(): Promise<void>;
}

interface DynaliteOptions {
  path?: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}

const requireHere = createRequire(import.meta.url);
// dynalite is CommonJS without type declarations; this is the part of its API used here.
const loadDynalite = requireHere('dynalite') as (options: DynaliteOptions) => Server;

/** The LevelDB class dynalite opens its directory with (its own dependency, resolved from dynalite). */
interface LevelDb {
  open(): Promise<void>;
  close(): Promise<void>;
}
const loadLevel = (): new (location: string) => LevelDb =>
  (createRequire(requireHere.resolve('dynalite'))('level') as { Level: new (location: string) => LevelDb }).Level;

/** Starts dynalite and fauxqs, creates the table and the event queue with its DLQ when missing. */
export async function startLocalBackends(options: StartLocalBackendsOptions): Promise<LocalBackends> {
  const started = performance.now();
  const stoppers: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    const results = await Promise.allSettled(stoppers.splice(0).map((stop) => stop()));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason);
    if (failures.length > 0) throw new AggregateError(failures, 'stopping the local backends failed');
  };

  try {
    const dynamodbPath = options.dataDir === ':memory:' ? undefined : path.join(options.dataDir, 'dynamodb');
    if (dynamodbPath) {
      await mkdir(dynamodbPath, { recursive: true });
      await assertDataDirFree(options.dataDir, dynamodbPath);
    }
    const dynalite = loadDynalite({
      createTableMs: 0,
      deleteTableMs: 0,
      updateTableMs: 0,
      ...(dynamodbPath ? { path: dynamodbPath } : {}),
    });
    const dynamodbPort = await listenOnLoopback(dynalite);
    stoppers.push(() => closeServer(dynalite));
    const dynamodbEndpoint = `http://127.0.0.1:${dynamodbPort}`;

    // Not startFauxqs(): it always binds 0.0.0.0. Queue URLs come out as http://sqs.us-east-1.localhost:<port>/...,
    // whose host does not resolve here, so every SQS client must be given `sqsEndpoint` explicitly. (buildApp's
    // `host` option only changes that URL host, e.g. to sqs.us-east-1.127.0.0.1, which resolves no better.)
    const fauxqs = buildApp({ logger: false });
    const sqsEndpoint = await fauxqs.listen({ port: 0, host: '127.0.0.1' });
    stoppers.push(() => fauxqs.close());

    // The SDK annotates the credentials object it is given, so each client gets its own copy.
    const clientConfig = () => ({ region: LOCAL_REGION, credentials: { ...LOCAL_BACKEND_CREDENTIALS }, maxAttempts: 1 });
    const dynamodb = new DynamoDBClient({ ...clientConfig(), endpoint: dynamodbEndpoint });
    const sqs = new SQSClient({ ...clientConfig(), endpoint: sqsEndpoint, useQueueUrlAsEndpoint: false });
    try {
      await ensureTable(dynamodb, LOCAL_TABLE_NAME, dynamodbPath ? `DATA_DIR ${path.resolve(options.dataDir)}` : 'memory');
      const queues = await createQueues(sqs, {
        visibilityTimeoutSeconds: options.queueVisibilityTimeoutSeconds ?? 30,
        maxReceiveCount: options.maxReceiveCount ?? 5,
      });
      const stop = once(stopAll);
      return {
        dynamodbEndpoint,
        sqsEndpoint,
        region: LOCAL_REGION,
        credentials: { ...LOCAL_BACKEND_CREDENTIALS },
        tableName: LOCAL_TABLE_NAME,
        ...queues,
        startupMs: Math.round(performance.now() - started),
        stop,
      };
    } finally {
      dynamodb.destroy();
      sqs.destroy();
    }
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
}

async function ensureTable(client: DynamoDBClient, tableName: string, dataDirLabel: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ResourceNotFoundException')) throw error;
    await client.send(new CreateTableCommand(tableDefinition(tableName)));
  }
  // With createTableMs 0 dynalite reports ACTIVE at once; the loop only guards against a slower configuration.
  for (let attempt = 0; attempt < 200; attempt++) {
    const { Table: table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (table?.TableStatus === 'ACTIVE') {
      if (!(table.GlobalSecondaryIndexes ?? []).some((index) => index.IndexName === DUE_INDEX_NAME)) {
        // See the note at the top: dynalite cannot add the index, and dropping the developer's data is not ours to do.
        throw new Error(
          `table ${tableName} in ${dataDirLabel} was created before the ${DUE_INDEX_NAME} index, which dynalite cannot add ` +
            'to an existing table; move that DATA_DIR away (or delete it) to start with a new table',
        );
      }
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`table ${tableName} did not become ACTIVE`);
}

/**
 * Fails clearly when another process holds the LevelDB directory. dynalite itself would open it lazily and then
 * throw "Database is closed" from inside its request handler, an uncaught exception that ends the process. Opening
 * and closing the directory once here leaves a window in which another process could take it, which is fine for a
 * developer tool.
 */
async function assertDataDirFree(dataDir: string, dynamodbPath: string): Promise<void> {
  const Level = loadLevel();
  const db = new Level(dynamodbPath);
  try {
    await db.open();
  } catch (error) {
    if (errorCodes(error).includes('LEVEL_LOCKED')) {
      throw new Error(`DATA_DIR ${path.resolve(dataDir)} is in use by another inbox-relay process`, { cause: error });
    }
    throw error;
  }
  await db.close();
}

/** `code` of the error and of its causes (abstract-level wraps the LevelDB lock error in LEVEL_DATABASE_NOT_OPEN). */
function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let current = error; current instanceof Error && codes.length < 10; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
  }
  return codes;
}

async function createQueues(
  client: SQSClient,
  settings: { visibilityTimeoutSeconds: number; maxReceiveCount: number },
): Promise<{ eventQueueUrl: string; deadLetterQueueUrl: string }> {
  const deadLetter = await client.send(
    new CreateQueueCommand({
      QueueName: LOCAL_DEAD_LETTER_QUEUE_NAME,
      Attributes: { MessageRetentionPeriod: String(DEAD_LETTER_RETENTION_SECONDS) },
    }),
  );
  const deadLetterQueueUrl = required(deadLetter.QueueUrl, 'dead-letter queue URL');
  const { Attributes: attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: deadLetterQueueUrl, AttributeNames: ['QueueArn'] }),
  );
  const events = await client.send(
    new CreateQueueCommand({
      QueueName: LOCAL_EVENT_QUEUE_NAME,
      Attributes: {
        VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: required(attributes?.QueueArn, 'dead-letter queue ARN'),
          maxReceiveCount: settings.maxReceiveCount,
        }),
      },
    }),
  );
  return { eventQueueUrl: required(events.QueueUrl, 'event queue URL'), deadLetterQueueUrl };
}

function listenOnLoopback(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    // dynalite's close() also closes the LevelDB store, so a later start can open the same directory.
    server.close((error) => (error ? reject(error) : resolve()));
    // Clients that are still open keep idle keep-alive sockets; they must not hold the shutdown up.
    server.closeIdleConnections();
  });
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the local SQS did not return a ${what}`);
  return value;
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}
