import { PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeviceNotFoundError, MailboxExistsError, MailboxLimitError, MailboxNotFoundError } from '../../../shared/errors.js';
import type { MailboxOrganizationFields, MailboxRecord, MailboxRegistry, SubscriptionReport } from '../../../shared/store/ports.js';
import { exponentialBackoff, retry } from '../retry.js';
import { isConditionalCheckFailed, type DynamoDbAdapterOptions, type Item } from './dynamodb-support.js';
import { DeviceTable, UpdateBuilder, callbackItem, mailboxItem, toMailbox } from './dynamodb-device-items.js';
import { META_SK, mailboxKey } from './table-design.js';

export interface DynamoDbMailboxRegistryOptions extends DynamoDbAdapterOptions {
  /** Tries of an addMailbox that collided with concurrent adds at the limit, including the first (default 5). */
  addMailboxAttempts?: number;
  /** First backoff delay in ms after such a collision; doubles per try, with jitter (default 50). */
  addMailboxBackoffMs?: number;
}

/** MailboxRegistry on the table: a device's delegated mailboxes and the subscriptions it reports. */
export class DynamoDbMailboxRegistry extends DeviceTable implements MailboxRegistry {
  private readonly addMailboxAttempts: number;
  private readonly addMailboxBackoffMs: number;

  constructor(client: DynamoDBDocumentClient, tableName: string, options?: DynamoDbMailboxRegistryOptions) {
    super(client, tableName, options);
    this.addMailboxAttempts = options?.addMailboxAttempts ?? 5;
    this.addMailboxBackoffMs = options?.addMailboxBackoffMs ?? 50;
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
    const addOnce = async (): Promise<void> => {
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
      throw new CollidedAtLimit();
    };
    try {
      await retry(
        addOnce,
        {
          attempts: this.addMailboxAttempts,
          retryable: (error) => error instanceof CollidedAtLimit,
          delayMs: exponentialBackoff({ baseMs: this.addMailboxBackoffMs }),
        },
        this.options.timing,
      );
    } catch (error) {
      throw error instanceof CollidedAtLimit ? limitError() : error;
    }
  }

  async removeMailbox(deviceId: string, mailboxId: string): Promise<MailboxRecord | undefined> {
    const item = await this.getItem(mailboxKey(deviceId, mailboxId));
    if (!item) return undefined;
    return this.deleteMailboxItems(toMailbox(item));
  }

  async setSubscription(deviceId: string, mailboxId: string, subscription: SubscriptionReport): Promise<void> {
    const update = new UpdateBuilder()
      .set('subscriptionId', subscription.subscriptionId)
      .set('expiresAt', subscription.expiresAt)
      .set('subscriptionReportedAt', subscription.reportedAt)
      .dueAt(deviceId, subscription.dueAt);
    if (subscription.protocol === undefined) update.remove('protocol');
    else update.set('protocol', subscription.protocol);
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

  /** Rotated as `rotateMailboxSecrets` says: no URL ever leads to a mailbox that does not hold its key. */
  async rotateSecrets(deviceId: string, mailboxId: string, secrets: { callbackKey: string; clientStateHash: string }): Promise<void> {
    const item = await this.getItem(mailboxKey(deviceId, mailboxId));
    if (!item || !(await this.rotateMailboxSecrets(toMailbox(item), secrets))) throw new MailboxNotFoundError();
  }

  async setMailboxOrganization(deviceId: string, mailboxId: string, fields: MailboxOrganizationFields): Promise<void> {
    const update = new UpdateBuilder();
    if (fields.sealedAddress === null) update.remove('sealedAddress');
    else update.set('sealedAddress', fields.sealedAddress);
    if (fields.managedBy === null) update.remove('managedBy');
    else update.set('managedBy', fields.managedBy);
    try {
      await this.client.send(
        new UpdateCommand({ TableName: this.tableName, Key: mailboxKey(deviceId, mailboxId), ...update.build(), ConditionExpression: 'attribute_exists(sk)' }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new MailboxNotFoundError();
      throw error;
    }
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

/** An add that lost to concurrent adds at the limit and removed itself; it may try again while there is room. */
class CollidedAtLimit extends Error {
  constructor() {
    super('lost a concurrent add at the mailbox limit');
    this.name = 'CollidedAtLimit';
  }
}
