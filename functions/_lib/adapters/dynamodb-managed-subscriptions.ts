import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { MANAGED_ATTRIBUTES, type ManagedMailboxChanges } from '../../../shared/org/managed-subscription.js';
import { isConditionalCheckFailed } from './dynamodb-support.js';
import { DeviceTable, UpdateBuilder } from './dynamodb-device-items.js';
import { mailboxKey } from './table-design.js';

/**
 * The writes of relay-managed subscriptions (contract section 9) on the mailbox item: its subscription fields, its
 * due time and the `managed*` attributes, each set or removed on its own in one conditional UpdateItem, so that the
 * supervisor, a lifecycle event and a catch-up never overwrite each other's fields, and a mailbox removed meanwhile
 * is not brought back as a fragment (the write is refused, and the caller deletes what it made).
 */
export class DynamoDbManagedSubscriptions extends DeviceTable {
  async updateManaged(deviceId: string, mailboxId: string, changes: ManagedMailboxChanges): Promise<boolean> {
    const update = new UpdateBuilder();
    if (changes.protocol !== undefined) update.set('protocol', changes.protocol);
    if (changes.subscriptionId !== undefined) update.set('subscriptionId', changes.subscriptionId);
    if (changes.expiresAt === null) update.remove('expiresAt');
    else if (changes.expiresAt !== undefined) update.set('expiresAt', changes.expiresAt);
    if (changes.subscriptionReportedAt !== undefined) update.set('subscriptionReportedAt', changes.subscriptionReportedAt);
    if (changes.statusFrequencyMinutes !== undefined) update.set('statusFrequencyMinutes', changes.statusFrequencyMinutes);
    if (changes.dueAt !== undefined) update.dueAt(deviceId, changes.dueAt);
    for (const [field, value] of Object.entries(changes.managed ?? {})) {
      const attribute = MANAGED_ATTRIBUTES[field as keyof typeof MANAGED_ATTRIBUTES];
      if (value === null) update.remove(attribute);
      else if (value !== undefined) update.set(attribute, value);
    }
    if (update.isEmpty()) return true;
    try {
      await this.client.send(new UpdateCommand({ TableName: this.tableName, Key: mailboxKey(deviceId, mailboxId), ...update.build(), ConditionExpression: 'attribute_exists(sk)' }));
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }
}
