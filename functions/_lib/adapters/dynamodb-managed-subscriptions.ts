import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConcurrentUpdateError } from '../../../shared/errors.js';
import {
  MANAGED_ATTRIBUTES,
  relaySubscriptionOf,
  type HandedBackMailbox,
  type ManagedHandBack,
  type ManagedMailboxChanges,
  type ManagedRelease,
  type ManagedSecretRotation,
} from '../../../shared/org/managed-subscription.js';
import type { MailboxRecord } from '../../../shared/store/records.js';
import { isConditionalCheckFailed, type Item } from './dynamodb-support.js';
import { DeviceTable, UpdateBuilder, callbackItem, toMailbox } from './dynamodb-device-items.js';
import { mailboxKey } from './table-design.js';

/** The relay's own subscription fields, removed when it hands a mailbox back (the device reports its own). */
const RELAY_SUBSCRIPTION_ATTRIBUTES = ['protocol', 'subscriptionId', 'expiresAt', 'subscriptionReportedAt', 'statusFrequencyMinutes', 'lastNotificationAt', 'supersededAt'] as const;

/** Written only while the relay manages the mailbox: a removed or handed-back mailbox is not brought back as a fragment. */
const WHILE_RELAY_MANAGED = 'attribute_exists(sk) AND attribute_exists(managedProtocol)';

/** The hashes of the secrets the device holds, kept while the relay's subscriptions use others. */
const DEVICE_SECRET_ATTRIBUTES = ['deviceCallbackKey', 'deviceClientStateHash'] as const;

/** A hand-back that keeps losing to concurrent rotations gives up after this many reads (the caller may retry). */
const HAND_BACK_ATTEMPTS = 5;

/**
 * The writes of relay-managed subscriptions (contract section 9) on the mailbox item: its subscription fields, its
 * due time and the `managed*` attributes, each set or removed on its own in one conditional UpdateItem, so that the
 * supervisor, a lifecycle event and a catch-up never overwrite each other's fields, and a mailbox removed or handed
 * back meanwhile is not written (the write is refused, and the caller deletes what it made).
 */
export class DynamoDbManagedSubscriptions extends DeviceTable implements ManagedHandBack, ManagedSecretRotation, ManagedRelease {
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
    // Marking a mailbox relay-managed is the one write that needs no relay-managed mailbox.
    const condition = changes.mark && typeof changes.managed?.protocol === 'string' ? 'attribute_exists(sk)' : WHILE_RELAY_MANAGED;
    try {
      await this.client.send(new UpdateCommand({ TableName: this.tableName, Key: mailboxKey(deviceId, mailboxId), ...update.build(), ConditionExpression: condition }));
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async rotateManagedSecrets(deviceId: string, mailboxId: string, input: { callbackKey: string; clientStateHash: string; subscribingSince: number }): Promise<boolean> {
    const item = await this.getItem(mailboxKey(deviceId, mailboxId));
    if (item?.managedProtocol === undefined) return false;
    const read = toMailbox(item);
    return this.rotateMailboxSecrets(read, input, {
      condition: 'attribute_exists(managedProtocol)',
      more: (update) => {
        update.set(MANAGED_ATTRIBUTES.subscribingSince, input.subscribingSince);
        // The first rotation away from the device's secrets keeps them; the write's condition (the key it read) makes
        // sure no other rotation or hand-back came in between.
        if (read.deviceCallbackKey === undefined) {
          update.set('deviceCallbackKey', read.callbackKey);
          if (read.clientStateHash !== undefined) update.set('deviceClientStateHash', read.clientStateHash);
        }
      },
    });
  }

  async handBack(deviceId: string, mailboxId: string, input: { dueAt: number; clearManagedBy: boolean }): Promise<HandedBackMailbox | undefined> {
    const key = mailboxKey(deviceId, mailboxId);
    for (let attempt = 1; ; attempt++) {
      const item = await this.getItem(key);
      if (item?.managedProtocol === undefined) return undefined;
      const read = toMailbox(item);
      const restore = devicesSecretsOf(read);
      // The device's lookup first: from the write on, its URLs lead to the mailbox again.
      if (restore) await this.client.send(new PutCommand({ TableName: this.tableName, Item: callbackItem({ ...read, ...restore }) }));
      const update = new UpdateBuilder().dueAt(deviceId, input.dueAt);
      for (const attribute of [...RELAY_SUBSCRIPTION_ATTRIBUTES, ...Object.values(MANAGED_ATTRIBUTES), ...DEVICE_SECRET_ATTRIBUTES]) update.remove(attribute);
      if (input.clearManagedBy) update.remove('managedBy');
      if (read.managedProtocol === 'ews' && read.subscriptionId !== undefined) update.set('endedSubscriptionId', read.subscriptionId);
      if (restore) {
        update.set('callbackKey', restore.callbackKey);
        // A mailbox registered before the relay spoke Graph had no clientState: it gets none back either.
        if (restore.clientStateHash === undefined) update.remove('clientStateHash');
        else update.set('clientStateHash', restore.clientStateHash);
      }
      const built = update.build();
      let previous: Item | undefined;
      try {
        const answer = await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            ...built,
            ExpressionAttributeNames: { ...built.ExpressionAttributeNames, '#keyRead': 'callbackKey' },
            // The key it read: a rotation in between (a renewal in flight) makes it read again.
            ConditionExpression: `${WHILE_RELAY_MANAGED} AND #keyRead = :previousKey`,
            ExpressionAttributeValues: { ...built.ExpressionAttributeValues, ':previousKey': read.callbackKey },
            ReturnValues: 'ALL_OLD',
          }),
        );
        previous = answer.Attributes as Item | undefined;
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        if (restore) await this.dropUnheldLookup({ ...read, ...restore });
        if (attempt >= HAND_BACK_ATTEMPTS) throw new ConcurrentUpdateError();
        continue;
      }
      if (!previous) return undefined;
      const mailbox = toMailbox(previous);
      // The relay's own URLs lead nowhere from now on (an EWS subscription on them is answered Unsubscribe, a Graph one 404).
      if (restore && mailbox.callbackKey !== restore.callbackKey) await this.deleteCallback(mailbox);
      return relaySubscriptionOf(mailbox);
    }
  }

  async releaseSubscription(deviceId: string, mailboxId: string, input: { dueAt: number; endedSubscriptionId?: string }): Promise<HandedBackMailbox | undefined> {
    const update = new UpdateBuilder().dueAt(deviceId, input.dueAt);
    if (input.endedSubscriptionId !== undefined) update.set('endedSubscriptionId', input.endedSubscriptionId);
    for (const attribute of [...RELAY_SUBSCRIPTION_ATTRIBUTES, ...Object.values(MANAGED_ATTRIBUTES)]) {
      if (attribute !== MANAGED_ATTRIBUTES.protocol) update.remove(attribute);
    }
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
    return previous && relaySubscriptionOf(toMailbox(previous));
  }

  /** A lookup written for a write that did not happen goes again, unless the mailbox holds its key after all. */
  private async dropUnheldLookup(lookup: MailboxRecord): Promise<void> {
    const now = await this.getItem(mailboxKey(lookup.deviceId, lookup.mailboxId));
    if (now?.callbackKey !== lookup.callbackKey) await this.deleteCallback(lookup);
  }
}

/** The secrets the device holds, when the relay's subscriptions moved the mailbox to others. */
function devicesSecretsOf(mailbox: MailboxRecord): { callbackKey: string; clientStateHash?: string } | undefined {
  if (mailbox.deviceCallbackKey === undefined) return undefined;
  return { callbackKey: mailbox.deviceCallbackKey, ...(mailbox.deviceClientStateHash === undefined ? {} : { clientStateHash: mailbox.deviceClientStateHash }) };
}
