import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DUE_SHARDS, type DueItem, type MailboxSupervisionChanges, type SupervisionIndex } from '../../../shared/store/ports.js';
import type { Item } from './dynamodb-support.js';
import { DeviceTable, UpdateBuilder } from './dynamodb-device-items.js';
import {
  DEVICE_PK_PREFIX,
  DUE_AT_ATTRIBUTE,
  DUE_INDEX_NAME,
  DUE_SHARD_ATTRIBUTE,
  MAILBOX_SK_PREFIX,
  META_SK,
  dueShardValue,
  mailboxKey,
} from './table-design.js';

/** SupervisionIndex on the table's sparse due index and the mailbox items' supervision fields. */
export class DynamoDbSupervisionIndex extends DeviceTable implements SupervisionIndex {
  /**
   * One Query of the index (eventually consistent: GSIs have no strongly consistent reads). A full page carries a
   * cursor even when nothing follows, as DynamoDB does; the next page is then empty.
   */
  async listDue(input: { shard: number; now: number; limit: number; cursor?: string }): Promise<{ items: DueItem[]; cursor?: string }> {
    checkDueQuery(input);
    const page = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: DUE_INDEX_NAME,
        KeyConditionExpression: '#shard = :shard AND #dueAt <= :now',
        ExpressionAttributeNames: { '#shard': DUE_SHARD_ATTRIBUTE, '#dueAt': DUE_AT_ATTRIBUTE },
        ExpressionAttributeValues: { ':shard': dueShardValue(input.shard), ':now': input.now },
        ScanIndexForward: true,
        Limit: input.limit,
        ...(input.cursor !== undefined ? { ExclusiveStartKey: decodeDueCursor(input.cursor, input.shard) } : {}),
      }),
    );
    const items = ((page.Items ?? []) as Item[]).flatMap((item) => {
      const due = toDueItem(item);
      return due ? [due] : [];
    });
    return { items, ...(page.LastEvaluatedKey ? { cursor: encodeDueCursor(page.LastEvaluatedKey) } : {}) };
  }

  async updateMailboxSupervision(deviceId: string, mailboxId: string, changes: MailboxSupervisionChanges): Promise<void> {
    const update = new UpdateBuilder();
    if (changes.supervisionState !== undefined) update.set('supervisionState', changes.supervisionState);
    if (changes.resubscribeRequestedAt !== undefined) update.set('resubscribeRequestedAt', changes.resubscribeRequestedAt);
    if (changes.supersededAt !== undefined) update.set('supersededAt', changes.supersededAt);
    if (changes.dueAt !== undefined) update.dueAt(deviceId, changes.dueAt);
    if (update.isEmpty()) return;
    await this.updateIgnoringMissing(mailboxKey(deviceId, mailboxId), update, 'attribute_exists(sk)');
  }
}

/** The due index returns base keys only: the sort key says what the item is. */
function toDueItem(item: Item): DueItem | undefined {
  const { pk, sk, [DUE_AT_ATTRIBUTE]: dueAt } = item;
  if (typeof pk !== 'string' || typeof sk !== 'string' || typeof dueAt !== 'number' || !pk.startsWith(DEVICE_PK_PREFIX)) return undefined;
  const deviceId = pk.slice(DEVICE_PK_PREFIX.length);
  if (sk === META_SK) return { kind: 'interval', deviceId, dueAt };
  if (sk.startsWith(MAILBOX_SK_PREFIX)) return { kind: 'mailbox', deviceId, mailboxId: sk.slice(MAILBOX_SK_PREFIX.length), dueAt };
  return undefined;
}

function checkDueQuery(input: { shard: number; limit: number }): void {
  if (!Number.isInteger(input.shard) || input.shard < 0 || input.shard >= DUE_SHARDS) {
    throw new RangeError(`due shard must be an integer from 0 to ${DUE_SHARDS - 1}, got ${input.shard}`);
  }
  if (!Number.isInteger(input.limit) || input.limit < 1) throw new RangeError(`limit must be a positive integer, got ${input.limit}`);
}

/** The cursor is the index's LastEvaluatedKey, opaque to callers. */
function encodeDueCursor(lastEvaluatedKey: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(lastEvaluatedKey)).toString('base64url');
}

function decodeDueCursor(cursor: string, shard: number): Record<string, unknown> {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  const valid =
    typeof key === 'object' &&
    key !== null &&
    typeof (key as Item).pk === 'string' &&
    typeof (key as Item).sk === 'string' &&
    typeof (key as Item)[DUE_AT_ATTRIBUTE] === 'number' &&
    (key as Item)[DUE_SHARD_ATTRIBUTE] === dueShardValue(shard);
  if (!valid) throw new TypeError(`not a due-index cursor of shard ${shard}`);
  return key as Record<string, unknown>;
}
