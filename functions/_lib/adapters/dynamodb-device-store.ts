import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { DeviceNotFoundError, MailboxExistsError, MailboxLimitError, MailboxNotFoundError } from '../../../shared/errors.js';
import type {
  DeviceChanges,
  DeviceRecord,
  DeviceStore,
  DeviceWithMailboxes,
  MailboxRecord,
} from '../../../shared/store/ports.js';
import {
  MAILBOX_SK_PREFIX,
  META_SK,
  callbackKey,
  deviceKey,
  devicePk,
  mailboxKey,
} from '../../../infra/table-design.js';
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

/** The device fields `updateDevice` may write; anything else in a changes object is ignored. */
const CHANGEABLE_FIELDS = [
  'pushToken',
  'pushTokenUpdatedAt',
  'apnsEnvironment',
  'mode',
  'intervalSeconds',
  'timeZone',
  'alerts',
  'status',
  'endpointArn',
] as const satisfies readonly (keyof DeviceChanges)[];

/**
 * DeviceStore on the single table (infra/table-design.ts). No transactions (dynalite has none): every multi-item
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
          Item: { ...deviceKey(device.deviceId), ...device },
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

  async updateDevice(deviceId: string, changes: DeviceChanges, now: number): Promise<DeviceRecord> {
    const names: Record<string, string> = { '#updatedAt': 'updatedAt' };
    const values: Record<string, unknown> = { ':updatedAt': now };
    const sets = ['#updatedAt = :updatedAt'];
    const removes: string[] = [];
    for (const field of CHANGEABLE_FIELDS) {
      const value = changes[field];
      if (value === undefined) continue;
      names[`#${field}`] = field;
      values[`:${field}`] = value;
      sets.push(`#${field} = :${field}`);
    }
    if (changes.retiredReason !== undefined) {
      names['#retiredReason'] = 'retiredReason';
      if (changes.retiredReason === null) {
        removes.push('#retiredReason');
      } else {
        values[':retiredReason'] = changes.retiredReason;
        sets.push('#retiredReason = :retiredReason');
      }
    }
    try {
      const { Attributes: attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: deviceKey(deviceId),
          UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toDevice(attributes ?? {});
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new DeviceNotFoundError();
      throw error;
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
    subscription: { subscriptionId: string; expiresAt: number },
  ): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: mailboxKey(deviceId, mailboxId),
          UpdateExpression: 'SET subscriptionId = :subscriptionId, expiresAt = :expiresAt',
          ConditionExpression: 'attribute_exists(sk)',
          ExpressionAttributeValues: { ':subscriptionId': subscription.subscriptionId, ':expiresAt': subscription.expiresAt },
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new MailboxNotFoundError();
      throw error;
    }
  }

  async touchMailbox(deviceId: string, mailboxId: string, at: number): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: mailboxKey(deviceId, mailboxId),
          UpdateExpression: 'SET lastNotificationAt = :at',
          ConditionExpression: 'attribute_exists(sk) AND (attribute_not_exists(lastNotificationAt) OR lastNotificationAt < :at)',
          ExpressionAttributeValues: { ':at': at },
        }),
      );
    } catch (error) {
      // An older timestamp or a removed mailbox: nothing to record.
      if (!isConditionalCheckFailed(error)) throw error;
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
  return { ...mailboxKey(mailbox.deviceId, mailbox.mailboxId), ...mailbox };
}

function toDevice(item: Item): DeviceRecord {
  return withoutKeys(item) as unknown as DeviceRecord;
}

function toMailbox(item: Item): MailboxRecord {
  return withoutKeys(item) as unknown as MailboxRecord;
}
