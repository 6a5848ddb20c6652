import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { ConcurrentUpdateError, DeviceNotFoundError, MailboxExistsError, MailboxLimitError, MailboxNotFoundError } from '../../../shared/errors.js';
import { dueShardOf } from '../../../shared/store/due-shard.js';
import {
  DUE_SHARDS,
  type DeviceChanges,
  type DeviceRecord,
  type DeviceStore,
  type DeviceWithMailboxes,
  DEVICE_CHANGEABLE_FIELDS,
  type AlertBudget,
  type DueItem,
  type MailboxRecord,
  type MailboxSupervisionChanges,
} from '../../../shared/store/ports.js';
import {
  DEVICE_PK_PREFIX,
  DUE_AT_ATTRIBUTE,
  DUE_INDEX_NAME,
  DUE_SHARD_ATTRIBUTE,
  MAILBOX_SK_PREFIX,
  META_SK,
  callbackKey,
  deviceKey,
  devicePk,
  dueShardValue,
  mailboxKey,
} from './table-design.js';
import {
  backoff,
  batchGetAll,
  batchWriteAll,
  isConditionalCheckFailed,
  isPastTtl,
  queryAll,
  resolveAdapterOptions,
  withoutKeys,
  type DynamoDbDeviceStoreOptions,
  type Item,
  type ResolvedAdapterOptions,
  type WriteRequest,
} from './dynamodb-support.js';


/**
 * DeviceStore on the single table (functions/_lib/adapters/table-design.ts). No transactions (dynalite has none): every multi-item
 * change is ordered so that a crash half-way leaves only items nothing can reach.
 */
export class DynamoDbDeviceStore implements DeviceStore {
  private readonly options: ResolvedAdapterOptions;
  private readonly addMailboxAttempts: number;
  private readonly addMailboxBackoffMs: number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options?: DynamoDbDeviceStoreOptions,
  ) {
    this.options = resolveAdapterOptions(options);
    this.addMailboxAttempts = options?.addMailboxAttempts ?? 5;
    this.addMailboxBackoffMs = options?.addMailboxBackoffMs ?? 50;
  }

  /**
   * Callback lookups first, then mailboxes, then the device item (conditional on the id being new). The device id
   * must be fresh: on a collision this throws, but the mailbox and callback items are already written.
   */
  async createDevice(device: DeviceRecord, mailboxes: MailboxRecord[]): Promise<void> {
    for (const mailbox of mailboxes) {
      if (mailbox.deviceId !== device.deviceId) {
        throw new Error(`mailbox ${mailbox.mailboxId} belongs to device ${mailbox.deviceId}, not ${device.deviceId}`);
      }
    }
    const put = (item: Item): WriteRequest => ({ PutRequest: { Item: item } });
    await batchWriteAll(this.client, this.tableName, mailboxes.map((m) => put(callbackItem(m))), this.options);
    await batchWriteAll(this.client, this.tableName, mailboxes.map((m) => put(mailboxItem(m))), this.options);
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: deviceItem(device),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new Error(`device ${device.deviceId} already exists`, { cause: error });
      throw error;
    }
  }

  async getDevice(deviceId: string): Promise<DeviceRecord | undefined> {
    const { Item: item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: deviceKey(deviceId), ConsistentRead: true }),
    );
    return item && this.isLive(item) ? toDevice(item) : undefined;
  }

  async getDeviceWithMailboxes(deviceId: string): Promise<DeviceWithMailboxes | undefined> {
    const items = await this.queryRegistration(deviceId);
    const deviceItem = items.find((item) => item.sk === META_SK);
    if (!deviceItem) return undefined;
    return {
      device: toDevice(deviceItem),
      mailboxes: items.filter((item) => item.sk !== META_SK).map(toMailbox),
    };
  }

  async getDeviceAndMailbox(deviceId: string, mailboxId: string): Promise<{ device?: DeviceRecord; mailbox?: MailboxRecord }> {
    const items = await batchGetAll(
      this.client,
      this.tableName,
      [deviceKey(deviceId), mailboxKey(deviceId, mailboxId)],
      this.options,
    );
    const result: { device?: DeviceRecord; mailbox?: MailboxRecord } = {};
    for (const item of items) {
      if (!this.isLive(item)) continue;
      if (item.sk === META_SK) result.device = toDevice(item);
      else result.mailbox = toMailbox(item);
    }
    return result;
  }

  async findCallback(key: string): Promise<{ deviceId: string; mailboxId: string } | undefined> {
    const { Item: item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: callbackKey(key), ConsistentRead: true }),
    );
    if (!item || !this.isLive(item)) return undefined;
    return { deviceId: String(item.deviceId), mailboxId: String(item.mailboxId) };
  }

  async updateDevice(deviceId: string, changes: DeviceChanges, now: number, options?: { ifRevision?: number }): Promise<DeviceRecord> {
    const update = new UpdateBuilder().set('updatedAt', now).add('revision', 1);
    for (const field of DEVICE_CHANGEABLE_FIELDS) {
      const value = changes[field];
      if (value !== undefined) update.set(field, value);
    }
    if (changes.retiredReason === null) update.remove('retiredReason');
    else if (changes.retiredReason !== undefined) update.set('retiredReason', changes.retiredReason);
    if (changes.dueAt !== undefined) update.dueAt(deviceId, changes.dueAt);
    const expression = update.build();
    let condition = 'attribute_exists(pk)';
    if (options?.ifRevision !== undefined) {
      // A device never updated has no revision yet: it counts as 0.
      condition += options.ifRevision === 0 ? ' AND (attribute_not_exists(#revision) OR #revision = :ifRevision)' : ' AND #revision = :ifRevision';
      expression.ExpressionAttributeValues = { ...expression.ExpressionAttributeValues, ':ifRevision': options.ifRevision };
    }
    try {
      const { Attributes: attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: deviceKey(deviceId),
          ...expression,
          ConditionExpression: condition,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toDevice(attributes ?? {});
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      if (options?.ifRevision === undefined || !(await this.getDevice(deviceId))) throw new DeviceNotFoundError();
      throw new ConcurrentUpdateError();
    }
  }

  async retireDevice(
    deviceId: string,
    input: { pushToken: string; tokenRejectedAt: number; reason: string; now: number },
  ): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: deviceKey(deviceId),
          UpdateExpression: 'SET #status = :retired, retiredReason = :reason, updatedAt = :now',
          ConditionExpression: 'pushToken = :token AND pushTokenUpdatedAt <= :rejectedAt AND #status = :active',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':retired': 'retired',
            ':active': 'active',
            ':reason': input.reason,
            ':now': input.now,
            ':token': input.pushToken,
            ':rejectedAt': input.tokenRejectedAt,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /**
   * Without transactions the limit is enforced optimistically: write, then read back (strongly consistent). An add
   * that then sees more than `maxDelegated` delegated mailboxes removes itself again, callback lookup first. Every
   * add reads after it wrote, so the last one to read sees every mailbox that survived and cannot survive past the
   * limit. (Keeping the oldest by createdAt instead is not safe: a later-stamped add that read before the others
   * wrote would survive alongside them.)
   *
   * Adds that collided that way all lose, so a losing add backs off with jitter and tries again, as long as the
   * device still has room; it gives up with MailboxLimitError after `addMailboxAttempts` tries.
   */
  async addMailbox(mailbox: MailboxRecord, maxDelegated: number): Promise<void> {
    const ownSk = mailboxKey(mailbox.deviceId, mailbox.mailboxId).sk;
    const limitError = () => new MailboxLimitError(`a device can have at most ${maxDelegated} delegated mailboxes`);
    for (let attempt = 1; ; attempt++) {
      const before = summarize(await this.queryRegistration(mailbox.deviceId));
      if (!before.deviceExists) throw new DeviceNotFoundError();
      if (before.mailboxSks.has(ownSk)) throw new MailboxExistsError(`mailbox ${mailbox.mailboxId} is already registered on this device`);
      if (mailbox.kind === 'delegated' && before.delegated >= maxDelegated) throw limitError();

      await this.client.send(new PutCommand({ TableName: this.tableName, Item: callbackItem(mailbox) }));
      try {
        await this.client.send(
          new PutCommand({ TableName: this.tableName, Item: mailboxItem(mailbox), ConditionExpression: 'attribute_not_exists(sk)' }),
        );
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        await this.deleteCallback(mailbox);
        throw new MailboxExistsError(`mailbox ${mailbox.mailboxId} is already registered on this device`);
      }

      // The read-back also shows whether a concurrent deleteDevice removed the device after the first read, in
      // which case this mailbox would be left behind.
      const after = summarize(await this.queryRegistration(mailbox.deviceId));
      const overLimit = mailbox.kind === 'delegated' && after.delegated > maxDelegated;
      if (after.deviceExists && !overLimit) return;
      await this.deleteMailboxItems(mailbox);
      if (!after.deviceExists) throw new DeviceNotFoundError();
      if (attempt >= this.addMailboxAttempts) throw limitError();
      await backoff(attempt, this.addMailboxBackoffMs);
    }
  }

  async removeMailbox(deviceId: string, mailboxId: string): Promise<void> {
    const { Item: item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: mailboxKey(deviceId, mailboxId), ConsistentRead: true }),
    );
    if (!item) return;
    await this.deleteMailboxItems(toMailbox(item));
  }

  async setSubscription(
    deviceId: string,
    mailboxId: string,
    subscription: { subscriptionId: string; expiresAt: number; reportedAt: number; statusFrequencyMinutes?: number; dueAt: number },
  ): Promise<void> {
    const update = new UpdateBuilder()
      .set('subscriptionId', subscription.subscriptionId)
      .set('expiresAt', subscription.expiresAt)
      .set('subscriptionReportedAt', subscription.reportedAt)
      .dueAt(deviceId, subscription.dueAt);
    // A report without a StatusFrequency means Exchange's default, not "whatever the previous subscription had".
    if (subscription.statusFrequencyMinutes === undefined) update.remove('statusFrequencyMinutes');
    else update.set('statusFrequencyMinutes', subscription.statusFrequencyMinutes);
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: mailboxKey(deviceId, mailboxId),
          ...update.build(),
          ConditionExpression: 'attribute_exists(sk)',
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new MailboxNotFoundError();
      throw error;
    }
  }

  async touchMailbox(deviceId: string, mailboxId: string, at: number, dueAt?: number): Promise<void> {
    const update = new UpdateBuilder().set('lastNotificationAt', at);
    if (dueAt !== undefined) update.dueAt(deviceId, dueAt);
    await this.updateIgnoringMissing(
      mailboxKey(deviceId, mailboxId),
      update,
      // An older timestamp (a late, concurrent write) must not move the time back nor the due time with it.
      'attribute_exists(sk) AND (attribute_not_exists(#lastNotificationAt) OR #lastNotificationAt < :lastNotificationAt)',
    );
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

  async holdAlerts(deviceId: string, mailboxId: string, count: number): Promise<void> {
    checkAlertCount(count);
    await this.updateIgnoringMissing(mailboxKey(deviceId, mailboxId), new UpdateBuilder().add('heldAlerts', count), 'attribute_exists(sk)');
  }

  async beginFlush(deviceId: string, mailboxId: string, now: number, leaseUntil: number): Promise<{ held: number } | { busyUntil: number } | undefined> {
    try {
      const { Attributes: attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: mailboxKey(deviceId, mailboxId),
          UpdateExpression: 'SET flushingUntil = :leaseUntil',
          // Atomic on the item: of two flushes at once, one takes the lease and the other sees it taken.
          ConditionExpression: 'heldAlerts > :zero AND (attribute_not_exists(flushingUntil) OR flushingUntil <= :now)',
          ExpressionAttributeValues: { ':leaseUntil': leaseUntil, ':zero': 0, ':now': now },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { held: Number(attributes?.heldAlerts) };
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
    const { Item: item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: mailboxKey(deviceId, mailboxId), ConsistentRead: true }),
    );
    if (!item || !(Number(item.heldAlerts) > 0)) return undefined;
    // Held mail and a lease (or a race with one just ended): the caller looks again later, never drops it.
    return { busyUntil: typeof item.flushingUntil === 'number' ? Math.max(item.flushingUntil, now) : now };
  }

  async endFlush(deviceId: string, mailboxId: string): Promise<void> {
    await this.updateIgnoringMissing(mailboxKey(deviceId, mailboxId), new UpdateBuilder().remove('flushingUntil'), 'attribute_exists(sk)');
  }

  async releaseHeldAlerts(deviceId: string, mailboxId: string, count: number): Promise<boolean> {
    checkAlertCount(count);
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: mailboxKey(deviceId, mailboxId),
          UpdateExpression: 'ADD heldAlerts :minus REMOVE flushingUntil',
          // Fails on a missing mailbox too (no heldAlerts): two flushes of one burst cannot both take the count.
          ConditionExpression: 'heldAlerts >= :count',
          ExpressionAttributeValues: { ':minus': -count, ':count': count },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /**
   * Two conditional writes at most: open a new window when the last one closed, else take a slot in the open one.
   * Each is atomic on the item, so concurrent consumers cannot take more slots than the budget.
   */
  async claimAlertSlot(deviceId: string, mailboxId: string, at: number, budget: AlertBudget): Promise<boolean> {
    const key = mailboxKey(deviceId, mailboxId);
    const cutoff = at - budget.windowMs;
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'SET #start = :at, #count = :one',
          ConditionExpression: 'attribute_exists(sk) AND (attribute_not_exists(#start) OR #start <= :cutoff)',
          ExpressionAttributeNames: { '#start': 'alertWindowStartedAt', '#count': 'alertsInWindow' },
          ExpressionAttributeValues: { ':at': at, ':one': 1, ':cutoff': cutoff },
        }),
      );
      return true;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'ADD #count :one',
          ConditionExpression: 'attribute_exists(sk) AND #start > :cutoff AND #count < :max',
          ExpressionAttributeNames: { '#start': 'alertWindowStartedAt', '#count': 'alertsInWindow' },
          ExpressionAttributeValues: { ':one': 1, ':cutoff': cutoff, ':max': budget.maxPerWindow },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /**
   * The device item goes first, so callbacks answer Unsubscribe at once; then everything under the device's key,
   * page by page, each mailbox's callback lookup before the mailbox that names it (a crash in between would
   * otherwise leave a callback item nothing points to). Safe to repeat after a crash.
   */
  async deleteDevice(deviceId: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: deviceKey(deviceId) }));
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': devicePk(deviceId) },
      ProjectionExpression: 'pk, sk, callbackKey',
      ConsistentRead: true,
    });
    const callbacks = items
      .filter((item) => typeof item.sk === 'string' && item.sk.startsWith(MAILBOX_SK_PREFIX) && typeof item.callbackKey === 'string')
      .map((item): WriteRequest => ({ DeleteRequest: { Key: callbackKey(item.callbackKey as string) } }));
    await batchWriteAll(this.client, this.tableName, callbacks, this.options);
    const rest = items.map((item): WriteRequest => ({ DeleteRequest: { Key: { pk: String(item.pk), sk: String(item.sk) } } }));
    await batchWriteAll(this.client, this.tableName, rest, this.options);
  }

  /**
   * An UpdateItem whose failed condition means "nothing to do" (the mailbox was removed, or a newer value is
   * stored). The condition may use the builder's `#field` / `:field` placeholders.
   */
  private async updateIgnoringMissing(key: { pk: string; sk: string }, update: UpdateBuilder, condition: string): Promise<void> {
    try {
      await this.client.send(new UpdateCommand({ TableName: this.tableName, Key: key, ...update.build(), ConditionExpression: condition }));
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  /** The device item and its mailbox items (one consistent Query), without expired items. */
  private async queryRegistration(deviceId: string): Promise<Item[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
      ExpressionAttributeValues: { ':pk': devicePk(deviceId), ':first': MAILBOX_SK_PREFIX, ':last': META_SK },
      ConsistentRead: true,
    });
    return items.filter((item) => this.isLive(item));
  }

  /** Callback lookup first, so the URL answers Unsubscribe before the mailbox disappears. */
  private async deleteMailboxItems(mailbox: MailboxRecord): Promise<void> {
    await this.deleteCallback(mailbox);
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: mailboxKey(mailbox.deviceId, mailbox.mailboxId) }));
  }

  private async deleteCallback(mailbox: MailboxRecord): Promise<void> {
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

  private isLive(item: Item): boolean {
    return !isPastTtl(item, this.options.now());
  }
}

/** What addMailbox needs to know about a registration read. */
function summarize(items: Item[]): { deviceExists: boolean; delegated: number; mailboxSks: Set<unknown> } {
  const mailboxes = items.filter((item) => item.sk !== META_SK);
  return {
    deviceExists: items.some((item) => item.sk === META_SK),
    delegated: mailboxes.filter((item) => item.kind === 'delegated').length,
    mailboxSks: new Set(mailboxes.map((item) => item.sk)),
  };
}

function callbackItem(mailbox: MailboxRecord): Item {
  return { ...callbackKey(mailbox.callbackKey), deviceId: mailbox.deviceId, mailboxId: mailbox.mailboxId };
}

function mailboxItem(mailbox: MailboxRecord): Item {
  return withDueShard({ ...mailboxKey(mailbox.deviceId, mailbox.mailboxId), ...mailbox }, mailbox.deviceId);
}

function deviceItem(device: DeviceRecord): Item {
  return withDueShard({ ...deviceKey(device.deviceId), ...device }, device.deviceId);
}

/** An item with a due time goes into the due index: it needs the shard as well. */
function withDueShard(item: Item, deviceId: string): Item {
  return item[DUE_AT_ATTRIBUTE] === undefined ? item : { ...item, [DUE_SHARD_ATTRIBUTE]: dueShardValue(dueShardOf(deviceId)) };
}

function toDevice(item: Item): DeviceRecord {
  return withoutKeys(item) as unknown as DeviceRecord;
}

function toMailbox(item: Item): MailboxRecord {
  return withoutKeys(item) as unknown as MailboxRecord;
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

function checkAlertCount(count: number): void {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`alert count must be a positive integer, got ${count}`);
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

/**
 * Collects SET / REMOVE / ADD clauses with `#field` names and `:field` values, so that conditions can refer to the
 * same placeholders.
 */
class UpdateBuilder {
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
