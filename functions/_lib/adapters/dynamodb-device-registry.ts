import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConcurrentUpdateError, DeviceNotFoundError } from '../../../shared/errors.js';
import { DEVICE_CHANGEABLE_FIELDS, type DeviceChanges, type DeviceRecord, type DeviceRegistry, type MailboxRecord } from '../../../shared/store/ports.js';
import { batchWriteAll, isConditionalCheckFailed, queryAll, type Item, type WriteRequest } from './dynamodb-support.js';
import { DeviceTable, UpdateBuilder, callbackItem, deviceItem, mailboxItem, toDevice } from './dynamodb-device-items.js';
import { MAILBOX_SK_PREFIX, META_SK, callbackKey, deviceKey, devicePk } from './table-design.js';

/** DeviceRegistry on the table: a device's creation, changes and deletion. */
export class DynamoDbDeviceRegistry extends DeviceTable implements DeviceRegistry {
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

  async updateDevice(deviceId: string, changes: DeviceChanges, now: number, options?: { ifRevision?: number }): Promise<DeviceRecord> {
    const update = new UpdateBuilder().set('updatedAt', now).add('revision', 1);
    for (const field of DEVICE_CHANGEABLE_FIELDS) {
      const value = changes[field];
      if (value !== undefined) update.set(field, value);
    }
    if (changes.retiredReason === null) update.remove('retiredReason');
    else if (changes.retiredReason !== undefined) update.set('retiredReason', changes.retiredReason);
    if (changes.vipSenderHashes === null) update.remove('vipSenderHashes');
    else if (changes.vipSenderHashes !== undefined) update.set('vipSenderHashes', changes.vipSenderHashes);
    if (changes.alertKey === null) update.remove('alertKey');
    else if (changes.alertKey !== undefined) update.set('alertKey', changes.alertKey);
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
      if (options?.ifRevision === undefined || !(await this.readDevice(deviceId))) throw new DeviceNotFoundError();
      throw new ConcurrentUpdateError();
    }
  }

  /**
   * The callback lookups, then each mailbox item on its own (at most five, each answering what it held when deleted:
   * the relay's subscriptions of them are deleted from that), then the device item, then everything else of the
   * partition in batches.
   *
   * The mailboxes go before the device: the dispatcher's mailbox writes (an alert slot, held mail) are conditional on
   * the mailbox item, so once they are gone nothing more is pushed or stored for the device, whereas a device deleted
   * first would leave its mailboxes a moment in which a mail judged by the registration the callback carried
   * (docs/performance.md, the seventh call) takes a slot, is pushed and is recorded under a deleted device. The
   * callback answers Unsubscribe throughout: an unknown URL, a mailbox gone or a device gone all do. A crash midway
   * leaves the device with fewer mailboxes (or none): it still authenticates, and a repeated DELETE completes (the
   * relay's subscriptions of the mailboxes the crashed attempt removed are not in its answer: they expire with Graph).
   */
  async deleteDevice(deviceId: string): Promise<MailboxRecord[]> {
    const deleted = await this.deleteMailboxesOf(deviceId);
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: deviceKey(deviceId) }));
    // Read again once the device item is gone: a mailbox added after the first read and before that is found here
    // (one added later finds no device on its read-back and removes itself, dynamodb-mailbox-registry.ts).
    deleted.push(...(await this.deleteMailboxesOf(deviceId, { andTheRest: true })));
    return deleted;
  }

  /** The device's mailboxes (each callback lookup before its mailbox), and with `andTheRest` all else but the device item. */
  private async deleteMailboxesOf(deviceId: string, options: { andTheRest?: boolean } = {}): Promise<MailboxRecord[]> {
    // The first pass reads only the registration's range (the mailboxes and the device item); the partition also
    // holds the device's dedupe keys and a week of decisions, which only the last pass needs to read.
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      ...(options.andTheRest
        ? { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': devicePk(deviceId) } }
        : { KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last', ExpressionAttributeValues: { ':pk': devicePk(deviceId), ':first': MAILBOX_SK_PREFIX, ':last': META_SK } }),
      ProjectionExpression: 'pk, sk, callbackKey',
      ConsistentRead: true,
    });
    const isMailbox = (item: Item) => typeof item.sk === 'string' && item.sk.startsWith(MAILBOX_SK_PREFIX) && typeof item.callbackKey === 'string';
    const mailboxItems = items.filter(isMailbox);
    const callbacks = mailboxItems.map((item): WriteRequest => ({ DeleteRequest: { Key: callbackKey(item.callbackKey as string) } }));
    await batchWriteAll(this.client, this.tableName, callbacks, this.options);
    const deleted: MailboxRecord[] = [];
    for (const item of mailboxItems) {
      const mailbox = await this.deleteMailboxItem({ deviceId, mailboxId: String(item.sk).slice(MAILBOX_SK_PREFIX.length), callbackKey: item.callbackKey as string });
      if (mailbox) deleted.push(mailbox);
    }
    if (options.andTheRest) {
      const rest = items
        .filter((item) => !isMailbox(item) && item.sk !== deviceKey(deviceId).sk)
        .map((item): WriteRequest => ({ DeleteRequest: { Key: { pk: String(item.pk), sk: String(item.sk) } } }));
      await batchWriteAll(this.client, this.tableName, rest, this.options);
    }
    return deleted;
  }
}
