import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ProviderTokenStore, SharedProviderToken } from '../../../shared/push/provider-token-store.js';
import { isConditionalCheckFailed, ttlSeconds } from './dynamodb-support.js';
import { TTL_ATTRIBUTE, apnsTokenKey } from './table-design.js';

/** Apple refuses a token older than an hour, so the row is worth nothing after that; TTL cleans up rotated keys' rows. */
const TOKEN_LIFETIME_MS = 60 * 60_000;

/**
 * ProviderTokenStore on the single table: one item per signing key (table-design.ts). Reads are strongly consistent,
 * so an instance that lost the race to replace the token reads the winner's. Costs one GetItem per instance per cold
 * start and per refresh period, and one conditional PutItem per refresh period for the fleet (plus the losers' failed
 * conditions, which happen only when instances race at the same second).
 */
export class DynamoDbProviderTokenStore implements ProviderTokenStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async read(key: { keyId: string; teamId: string }): Promise<SharedProviderToken | undefined> {
    const answer = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: apnsTokenKey(key.teamId, key.keyId), ConsistentRead: true }),
    );
    const item = answer.Item;
    if (item === undefined || typeof item['sealedJwt'] !== 'string' || typeof item['issuedAtMs'] !== 'number') return undefined;
    return { keyId: key.keyId, teamId: key.teamId, sealedJwt: item['sealedJwt'], issuedAtMs: item['issuedAtMs'] };
  }

  async replace(next: SharedProviderToken, replacingIssuedAtMs: number | undefined): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...apnsTokenKey(next.teamId, next.keyId),
            sealedJwt: next.sealedJwt,
            issuedAtMs: next.issuedAtMs,
            [TTL_ATTRIBUTE]: ttlSeconds(next.issuedAtMs + TOKEN_LIFETIME_MS),
          },
          ...(replacingIssuedAtMs === undefined
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: 'issuedAtMs = :replacing',
                ExpressionAttributeValues: { ':replacing': replacingIssuedAtMs },
              }),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }
}
