import { BatchGetCommand, BatchWriteCommand, QueryCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { DependencyUnavailableError } from '../../../shared/errors.js';
import { exponentialBackoff, retry, retryTiming, type RetryTiming } from '../retry.js';
import { DUE_SHARD_ATTRIBUTE, TTL_ATTRIBUTE, type TableKey } from './table-design.js';

/** A stored item as the document client returns it. */
export type Item = Record<string, unknown>;

/** Options shared by the DynamoDB adapters; `random` and `sleep` (RetryTiming) are the backoff's jitter and wait. */
export interface DynamoDbAdapterOptions extends Partial<RetryTiming> {
  /** The clock that decides whether an item's `ttl` has passed (default `Date.now`). */
  now?: () => number;
  /** Retries of unprocessed batch entries, after the first try (default 6). */
  batchRetries?: number;
  /** First backoff delay in ms before retrying unprocessed batch entries; it doubles per retry, with jitter (default 50). */
  batchBackoffMs?: number;
}

export interface ResolvedAdapterOptions {
  now: () => number;
  batchRetries: number;
  batchBackoffMs: number;
  timing: RetryTiming;
}

export function resolveAdapterOptions(options: DynamoDbAdapterOptions | undefined): ResolvedAdapterOptions {
  return {
    now: options?.now ?? Date.now,
    batchRetries: options?.batchRetries ?? 6,
    batchBackoffMs: options?.batchBackoffMs ?? 50,
    timing: retryTiming(options),
  };
}

/** BatchWriteItem's limit per call. */
const BATCH_WRITE_SIZE = 25;
/** BatchGetItem's limit per call. */
const BATCH_GET_SIZE = 100;

export function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/**
 * True when the item carries a `ttl` (epoch seconds) that has passed. DynamoDB deletes such items up to days late
 * and dynalite never does, so every read filters them itself.
 */
export function isPastTtl(item: Item, nowMs: number): boolean {
  const ttl = item[TTL_ATTRIBUTE];
  return typeof ttl === 'number' && ttl * 1000 < nowMs;
}

/** Epoch seconds for the TTL attribute, rounded up so that DynamoDB never deletes an item before `expiresAtMs`. */
export function ttlSeconds(expiresAtMs: number): number {
  return Math.ceil(expiresAtMs / 1000);
}

/** The item without its key, due-index shard and TTL attributes (storage details, not record fields). */
export function withoutKeys(item: Item): Item {
  const { pk: _pk, sk: _sk, [TTL_ATTRIBUTE]: _ttl, [DUE_SHARD_ATTRIBUTE]: _dueShard, ...rest } = item;
  return rest;
}

/** All items of a Query, following LastEvaluatedKey. */
export async function queryAll(client: DynamoDBDocumentClient, input: QueryCommandInput): Promise<Item[]> {
  const items: Item[] = [];
  let exclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(new QueryCommand({ ...input, ExclusiveStartKey: exclusiveStartKey }));
    items.push(...((page.Items ?? []) as Item[]));
    exclusiveStartKey = page.LastEvaluatedKey;
  } while (exclusiveStartKey);
  return items;
}

export type WriteRequest = { DeleteRequest: { Key: TableKey } } | { PutRequest: { Item: Item } };

/**
 * Writes all requests with BatchWriteItem (25 per call, in order of the chunks), retrying UnprocessedItems with
 * exponential backoff. Throws DependencyUnavailableError when entries are still unprocessed after the retries.
 */
export async function batchWriteAll(
  client: DynamoDBDocumentClient,
  tableName: string,
  requests: WriteRequest[],
  options: ResolvedAdapterOptions,
): Promise<void> {
  for (let start = 0; start < requests.length; start += BATCH_WRITE_SIZE) {
    let pending: WriteRequest[] = requests.slice(start, start + BATCH_WRITE_SIZE);
    await retryUnprocessed('writes', options, async () => {
      const result = await client.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }));
      pending = (result.UnprocessedItems?.[tableName] ?? []) as WriteRequest[];
      return pending.length;
    });
  }
}

/**
 * Reads the keys with strongly consistent BatchGetItem, retrying UnprocessedKeys with exponential backoff. Returns
 * the found items in no particular order, each once; throws DependencyUnavailableError when keys stay unprocessed.
 * A key asked for twice is read once: BatchGetItem refuses a request that names a key twice
 * (`ValidationException: Provided list of item keys contains duplicates`), which a device with two mailboxes in one
 * read would otherwise send.
 */
export async function batchGetAll(
  client: DynamoDBDocumentClient,
  tableName: string,
  requested: TableKey[],
  options: ResolvedAdapterOptions,
): Promise<Item[]> {
  const keys = [...new Map(requested.map((key) => [`${key.pk}\u0000${key.sk}`, { pk: key.pk, sk: key.sk }])).values()];
  const items: Item[] = [];
  for (let start = 0; start < keys.length; start += BATCH_GET_SIZE) {
    let pending: Record<string, unknown>[] = keys.slice(start, start + BATCH_GET_SIZE);
    await retryUnprocessed('reads', options, async () => {
      const result = await client.send(
        new BatchGetCommand({ RequestItems: { [tableName]: { Keys: pending, ConsistentRead: true } } }),
      );
      items.push(...((result.Responses?.[tableName] ?? []) as Item[]));
      pending = result.UnprocessedKeys?.[tableName]?.Keys ?? [];
      return pending.length;
    });
  }
  return items;
}

/** The one bounded pool (functions/_lib/concurrency.ts), where the adapters import their helpers from. */
export { mapWithConcurrency } from '../concurrency.js';

/**
 * Runs one batch call, then again for what DynamoDB left unprocessed (`call` returns how many), with full-jitter
 * backoff; throws DependencyUnavailableError when entries are still unprocessed after `batchRetries` retries.
 */
async function retryUnprocessed(what: 'reads' | 'writes', options: ResolvedAdapterOptions, call: () => Promise<number>): Promise<void> {
  const attempts = options.batchRetries + 1;
  try {
    await retry(
      async () => {
        const unprocessed = await call();
        if (unprocessed > 0) throw new Unprocessed(unprocessed);
      },
      { attempts, retryable: (error) => error instanceof Unprocessed, delayMs: exponentialBackoff({ baseMs: options.batchBackoffMs }) },
      options.timing,
    );
  } catch (error) {
    if (!(error instanceof Unprocessed)) throw error;
    throw new DependencyUnavailableError(`DynamoDB left ${error.count} batch ${what} unprocessed after ${attempts} attempts`);
  }
}

class Unprocessed extends Error {
  constructor(readonly count: number) {
    super(`${count} unprocessed`);
    this.name = 'Unprocessed';
  }
}
