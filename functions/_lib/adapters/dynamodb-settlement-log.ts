import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Settlement, SettlementLog } from '../../../shared/store/ports.js';
import { decisionItem } from './dynamodb-decision-log.js';
import { dedupeItem } from './dynamodb-dedupe-store.js';
import { batchWriteAll, resolveAdapterOptions, type DynamoDbAdapterOptions, type ResolvedAdapterOptions, type WriteRequest } from './dynamodb-support.js';

/**
 * SettlementLog on the table: each settled key's dedupe item put as done (with its claimant, outcome and the claim's
 * expiry) and each decision's item, all in BatchWriteItem requests of 25. BatchWriteItem has no conditions, which is
 * why this takes only keys its claimant claimed moments before (`SettlementLog`): `complete`'s condition (the
 * claimant still holds the key) could fail only for a claim taken over after its expiry, two days on.
 */
export class DynamoDbSettlementLog implements SettlementLog {
  private readonly options: ResolvedAdapterOptions;
  private readonly now: () => number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options?: DynamoDbAdapterOptions,
  ) {
    this.options = resolveAdapterOptions(options);
    this.now = this.options.now;
  }

  async settle(settlements: Settlement[]): Promise<void> {
    const requests: WriteRequest[] = [];
    // One request may not name a key twice: a key settled twice in one call (the same message delivered twice in a
    // batch, both deliveries its claimant) is written once.
    const seen = new Set<string>();
    for (const { deviceId, keys, claimant, outcome, expiresAt, decision } of settlements) {
      for (const key of keys) {
        const item = dedupeItem(deviceId, key, { claimant, state: 'done', outcome, expiresAt });
        const id = `${String(item.pk)}\u0000${String(item.sk)}`;
        if (seen.has(id)) continue;
        seen.add(id);
        requests.push({ PutRequest: { Item: item } });
      }
      requests.push({ PutRequest: { Item: decisionItem(deviceId, decision, this.now()) } });
    }
    await batchWriteAll(this.client, this.tableName, requests, this.options);
  }
}
