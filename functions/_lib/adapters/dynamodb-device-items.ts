import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConcurrentUpdateError } from '../../../shared/errors.js';
import type * as z from '../../../shared/zod.js';
import { dueShardOf } from '../../../shared/store/due-shard.js';
import {
  callbackTargetSchema,
  deviceRecordSchema,
  mailboxRecordSchema,
  type CallbackTarget,
  type DeviceRecord,
  type MailboxRecord,
} from '../../../shared/store/records.js';
import {
  isConditionalCheckFailed,
  isPastTtl,
  queryAll,
  resolveAdapterOptions,
  withoutKeys,
  type DynamoDbAdapterOptions,
  type Item,
  type ResolvedAdapterOptions,
} from './dynamodb-support.js';
import {
  DUE_AT_ATTRIBUTE,
  DUE_SHARD_ATTRIBUTE,
  META_SK,
  MAILBOX_SK_PREFIX,
  callbackKey,
  deviceKey,
  devicePk,
  dueShardValue,
  mailboxKey,
  type TableKey,
} from './table-design.js';

/**
 * What the device-port adapters share: the table, its items and how they are read and written. No transactions
 * (dynalite has none): every multi-item change is ordered so that a crash half-way leaves only items nothing can reach.
 */
export abstract class DeviceTable {
  protected readonly options: ResolvedAdapterOptions;

  constructor(
    protected readonly client: DynamoDBDocumentClient,
    protected readonly tableName: string,
    options?: DynamoDbAdapterOptions,
  ) {
    this.options = resolveAdapterOptions(options);
  }

  /** One item by key, strongly consistent; undefined when absent or past its TTL. */
  protected async getItem(key: TableKey): Promise<Item | undefined> {
    const { Item: item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return item && this.isLive(item) ? item : undefined;
  }

  protected async readDevice(deviceId: string): Promise<DeviceRecord | undefined> {
    const item = await this.getItem(deviceKey(deviceId));
    return item && toDevice(item);
  }

  /**
   * An UpdateItem whose failed condition means "nothing to do" (the mailbox was removed, or a newer value is
   * stored). The condition may use the builder's `#field` / `:field` placeholders.
   */
  protected async updateIgnoringMissing(key: TableKey, update: UpdateBuilder, condition: string): Promise<void> {
    try {
      await this.client.send(new UpdateCommand({ TableName: this.tableName, Key: key, ...update.build(), ConditionExpression: condition }));
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  /** The device item and its mailbox items (one consistent Query), without expired items. */
  protected async queryRegistration(deviceId: string): Promise<Item[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
      ExpressionAttributeValues: { ':pk': devicePk(deviceId), ':first': MAILBOX_SK_PREFIX, ':last': META_SK },
      ConsistentRead: true,
    });
    return items.filter((item) => this.isLive(item));
  }

  /**
   * Gives the mailbox as `read` new secrets: the new callback lookup first, then the mailbox (conditional on it still
   * holding the key it was read with, and on `condition`), then the old lookup, so that at no point does a URL lead to
   * a mailbox that does not hold its key, and a crash half-way leaves at most an unreachable lookup. `more` adds to the
   * same write. False when the mailbox is gone or `condition` no longer holds (nothing rotated); throws
   * ConcurrentUpdateError when a concurrent rotation won (its secrets stand).
   */
  protected async rotateMailboxSecrets(
    read: MailboxRecord,
    secrets: { callbackKey: string; clientStateHash: string },
    options: { condition?: string; more?: (update: UpdateBuilder) => void } = {},
  ): Promise<boolean> {
    const rotated = { ...read, ...secrets };
    const key = mailboxKey(read.deviceId, read.mailboxId);
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: callbackItem(rotated) }));
    const update = new UpdateBuilder().set('callbackKey', secrets.callbackKey).set('clientStateHash', secrets.clientStateHash);
    options.more?.(update);
    const built = update.build();
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          ...built,
          ConditionExpression: `attribute_exists(sk) AND #callbackKey = :previousKey${options.condition ? ` AND ${options.condition}` : ''}`,
          ExpressionAttributeValues: { ...built.ExpressionAttributeValues, ':previousKey': read.callbackKey },
        }),
      );
    } catch (error) {
      await this.deleteCallback(rotated);
      if (!isConditionalCheckFailed(error)) throw error;
      const now = await this.getItem(key);
      // Rotated by a concurrent request whose secrets now stand; else gone, or refused by `condition`.
      if (now && now.callbackKey !== read.callbackKey) throw new ConcurrentUpdateError();
      return false;
    }
    await this.deleteCallback(read);
    return true;
  }

  /** Callback lookup first, so the URL answers Unsubscribe before the mailbox disappears. */
  protected async deleteMailboxItems(mailbox: MailboxRecord): Promise<MailboxRecord | undefined> {
    await this.deleteCallback(mailbox);
    return this.deleteMailboxItem(mailbox);
  }

  /**
   * Deletes the mailbox item and answers it as it was at that moment (a rotation since `read` moved its lookup: that
   * one goes too). Whatever a concurrent writer stored before is in the answer; anything after finds no mailbox.
   */
  protected async deleteMailboxItem(read: Pick<MailboxRecord, 'deviceId' | 'mailboxId' | 'callbackKey'>): Promise<MailboxRecord | undefined> {
    const { Attributes: old } = await this.client.send(
      new DeleteCommand({ TableName: this.tableName, Key: mailboxKey(read.deviceId, read.mailboxId), ReturnValues: 'ALL_OLD' }),
    );
    if (!old) return undefined;
    const deleted = toMailbox(old as Item);
    if (deleted.callbackKey !== read.callbackKey) await this.deleteCallback(deleted);
    return deleted;
  }

  protected async deleteCallback(mailbox: MailboxRecord): Promise<void> {
    try {
      // Conditional, so that a lookup re-pointed elsewhere (it never should be) is not taken down with this mailbox.
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: callbackKey(mailbox.callbackKey),
          ConditionExpression: 'attribute_not_exists(pk) OR (deviceId = :deviceId AND mailboxId = :mailboxId)',
          ExpressionAttributeValues: { ':deviceId': mailbox.deviceId, ':mailboxId': mailbox.mailboxId },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  protected isLive(item: Item): boolean {
    return !isPastTtl(item, this.options.now());
  }
}

/** A stored item that does not hold the record its key says it holds. */
export class InvalidStoredRecordError extends Error {
  override readonly name = 'InvalidStoredRecordError';
}

function parseRecord<T>(schema: z.ZodMiniType<T>, what: string, item: Item): T {
  const parsed = schema.safeParse(withoutKeys(item));
  if (parsed.success) return parsed.data;
  // The issues name fields, never their values: a record holds tokens and hashes that logs must not carry.
  const fields = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.') || '(item)'))].join(', ');
  throw new InvalidStoredRecordError(`stored ${what} item is malformed at: ${fields}`);
}

export function toDevice(item: Item): DeviceRecord {
  return parseRecord(deviceRecordSchema, 'device', item);
}

export function toMailbox(item: Item): MailboxRecord {
  return parseRecord(mailboxRecordSchema, 'mailbox', item);
}

export function toCallbackTarget(item: Item): CallbackTarget {
  return parseRecord(callbackTargetSchema, 'callback', item);
}

export function callbackItem(mailbox: MailboxRecord): Item {
  return { ...callbackKey(mailbox.callbackKey), deviceId: mailbox.deviceId, mailboxId: mailbox.mailboxId };
}

export function mailboxItem(mailbox: MailboxRecord): Item {
  return withDueShard({ ...mailboxKey(mailbox.deviceId, mailbox.mailboxId), ...mailbox }, mailbox.deviceId);
}

export function deviceItem(device: DeviceRecord): Item {
  return withDueShard({ ...deviceKey(device.deviceId), ...device }, device.deviceId);
}

/** An item with a due time goes into the due index: it needs the shard as well. */
function withDueShard(item: Item, deviceId: string): Item {
  return item[DUE_AT_ATTRIBUTE] === undefined ? item : { ...item, [DUE_SHARD_ATTRIBUTE]: dueShardValue(dueShardOf(deviceId)) };
}

export function checkAlertCount(count: number): void {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`alert count must be a positive integer, got ${count}`);
}

/**
 * Collects SET / REMOVE / ADD clauses with `#field` names and `:field` values, so that conditions can refer to the
 * same placeholders.
 */
export class UpdateBuilder {
  private readonly names: Record<string, string> = {};
  private readonly values: Record<string, unknown> = {};
  private readonly sets: string[] = [];
  private readonly removes: string[] = [];
  private readonly adds: string[] = [];

  set(field: string, value: unknown): this {
    this.names[`#${field}`] = field;
    this.values[`:${field}`] = value;
    this.sets.push(`#${field} = :${field}`);
    return this;
  }

  remove(field: string): this {
    this.names[`#${field}`] = field;
    this.removes.push(`#${field}`);
    return this;
  }

  add(field: string, value: number): this {
    this.names[`#${field}`] = field;
    this.values[`:${field}`] = value;
    this.adds.push(`#${field} :${field}`);
    return this;
  }

  /** The due time with its shard, or (null) neither: an item is in the due index exactly when it has a due time. */
  dueAt(deviceId: string, dueAt: number | null): this {
    if (dueAt === null) return this.remove(DUE_AT_ATTRIBUTE).remove(DUE_SHARD_ATTRIBUTE);
    return this.set(DUE_AT_ATTRIBUTE, dueAt).set(DUE_SHARD_ATTRIBUTE, dueShardValue(dueShardOf(deviceId)));
  }

  isEmpty(): boolean {
    return this.sets.length + this.removes.length + this.adds.length === 0;
  }

  build(): { UpdateExpression: string; ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> } {
    const clauses = [
      this.sets.length ? `SET ${this.sets.join(', ')}` : '',
      this.removes.length ? `REMOVE ${this.removes.join(', ')}` : '',
      this.adds.length ? `ADD ${this.adds.join(', ')}` : '',
    ].filter(Boolean);
    return {
      UpdateExpression: clauses.join(' '),
      ExpressionAttributeNames: this.names,
      // DynamoDB refuses an empty ExpressionAttributeValues (a REMOVE-only update has none).
      ...(Object.keys(this.values).length ? { ExpressionAttributeValues: this.values } : {}),
    };
  }
}
