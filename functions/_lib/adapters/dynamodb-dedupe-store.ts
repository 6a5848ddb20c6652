import { PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ClaimResult, DedupeStore } from '../../../shared/store/ports.js';
import { TTL_ATTRIBUTE, dedupeKey } from './table-design.js';
import { isConditionalCheckFailed, mapWithConcurrency, ttlSeconds, type Item } from './dynamodb-support.js';

/** A dedupe key's item: pending while its claimant works on it, done with the outcome once settled. */
export function dedupeItem(
  deviceId: string,
  key: string,
  claim: { claimant: string; state: 'pending' | 'done'; expiresAt: number; outcome?: string },
): Item {
  return {
    ...dedupeKey(deviceId, key),
    claimant: claim.claimant,
    state: claim.state,
    ...(claim.outcome === undefined ? {} : { outcome: claim.outcome }),
    expiresAt: claim.expiresAt,
    [TTL_ATTRIBUTE]: ttlSeconds(claim.expiresAt),
  };
}

/** Conditional writes in flight per claim or complete call; a message carries at most 100 keys. */
const KEY_WRITE_CONCURRENCY = 10;

export interface DynamoDbDedupeStoreOptions {
  /** Conditional writes in flight per call (default 10). */
  concurrency?: number;
}

/**
 * DedupeStore on the single table: one item per (device, key). Each key is claimed by its own conditional PutItem;
 * the condition treats an item whose `expiresAt` has passed as absent, so correctness never waits for TTL deletion.
 */
export class DynamoDbDedupeStore implements DedupeStore {
  private readonly concurrency: number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options?: DynamoDbDedupeStoreOptions,
  ) {
    this.concurrency = options?.concurrency ?? KEY_WRITE_CONCURRENCY;
  }

  async claim(input: {
    deviceId: string;
    keys: string[];
    claimant: string;
    now: number;
    ttlSeconds: number;
  }): Promise<Map<string, ClaimResult>> {
    const keys = [...new Set(input.keys)];
    const expiresAt = input.now + input.ttlSeconds * 1000;
    const results = await mapWithConcurrency(keys, this.concurrency, async (key): Promise<ClaimResult> => {
      try {
        await this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: dedupeItem(input.deviceId, key, { claimant: input.claimant, state: 'pending', expiresAt }),
            // Free, expired, or our own unfinished claim (a redelivery of the same SQS message may push again).
            ConditionExpression: 'attribute_not_exists(sk) OR expiresAt < :now OR (claimant = :me AND #state = :pending)',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: { ':now': input.now, ':me': input.claimant, ':pending': 'pending' },
          }),
        );
        return 'claimed';
      } catch (error) {
        if (isConditionalCheckFailed(error)) return 'duplicate';
        throw error;
      }
    });
    return new Map(keys.map((key, index) => [key, results[index] as ClaimResult]));
  }

  /** Marks the caller's claims done. A key no longer held by `claimant` (taken over after expiry) is left alone. */
  async complete(input: { deviceId: string; keys: string[]; claimant: string; outcome: string; now: number }): Promise<void> {
    await mapWithConcurrency([...new Set(input.keys)], this.concurrency, async (key) => {
      try {
        await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: dedupeKey(input.deviceId, key),
            UpdateExpression: 'SET #state = :done, outcome = :outcome',
            ConditionExpression: 'claimant = :me',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: { ':done': 'done', ':outcome': input.outcome, ':me': input.claimant },
          }),
        );
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
      }
    });
  }
}
