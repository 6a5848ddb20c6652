import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { MANAGED_ATTRIBUTES, type HandedBackMailbox, type ManagedHandBack, type ManagedMailboxChanges } from '../../../shared/org/managed-subscription.js';
import { isConditionalCheckFailed, type Item } from './dynamodb-support.js';
import { DeviceTable, UpdateBuilder, toMailbox } from './dynamodb-device-items.js';
import { mailboxKey } from './table-design.js';

/** The relay's own subscription fields, removed when it hands a mailbox back (the device reports its own). */
const RELAY_SUBSCRIPTION_ATTRIBUTES = ['protocol', 'subscriptionId', 'expiresAt', 'subscriptionReportedAt', 'statusFrequencyMinutes', 'lastNotificationAt', 'supersededAt'] as const;

/** Written only while the relay manages the mailbox: a removed or handed-back mailbox is not brought back as a fragment. */
const WHILE_RELAY_MANAGED = 'attribute_exists(sk) AND attribute_exists(managedProtocol)';

/**
 * The writes of relay-managed subscriptions (contract section 9) on the mailbox item: its subscription fields, its
 * due time and the `managed*` attributes, each set or removed on its own in one conditional UpdateItem, so that the
 * supervisor, a lifecycle event and a catch-up never overwrite each other's fields, and a mailbox removed or handed
 * back meanwhile is not written (the write is refused, and the caller deletes what it made).
 */
export class DynamoDbManagedSubscriptions extends DeviceTable implements ManagedHandBack {
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
    // Marking a mailbox relay-managed (setting its protocol) is the one write that needs no relay-managed mailbox.
    const condition = typeof changes.managed?.protocol === 'string' ? 'attribute_exists(sk)' : WHILE_RELAY_MANAGED;
    try {
      await this.client.send(new UpdateCommand({ TableName: this.tableName, Key: mailboxKey(deviceId, mailboxId), ...update.build(), ConditionExpression: condition }));
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async handBack(deviceId: string, mailboxId: string, input: { dueAt: number; clearManagedBy: boolean }): Promise<HandedBackMailbox | undefined> {
    const update = new UpdateBuilder().dueAt(deviceId, input.dueAt);
    for (const attribute of [...RELAY_SUBSCRIPTION_ATTRIBUTES, ...Object.values(MANAGED_ATTRIBUTES)]) update.remove(attribute);
    if (input.clearManagedBy) update.remove('managedBy');
    let previous: Item | undefined;
    try {
      const answer = await this.client.send(
        new UpdateCommand({ TableName: this.tableName, Key: mailboxKey(deviceId, mailboxId), ...update.build(), ConditionExpression: WHILE_RELAY_MANAGED, ReturnValues: 'ALL_OLD' }),
      );
      previous = answer.Attributes as Item | undefined;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return undefined;
      throw error;
    }
    if (!previous) return undefined;
    const mailbox = toMailbox(previous);
    return {
      deviceId,
      mailboxId,
      callbackKey: mailbox.callbackKey,
      protocol: mailbox.managedProtocol ?? 'graph',
      ...(mailbox.subscriptionId === undefined ? {} : { subscriptionId: mailbox.subscriptionId }),
      ...(mailbox.managedSubscribingSince === undefined ? {} : { subscribingSince: mailbox.managedSubscribingSince }),
    };
  }
}
