import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AlertBudget, BurstBudget } from '../../../shared/store/ports.js';
import { isConditionalCheckFailed } from './dynamodb-support.js';
import { DeviceTable, UpdateBuilder, checkAlertCount } from './dynamodb-device-items.js';
import { mailboxKey } from './table-design.js';

/** BurstBudget on the mailbox item: its alert window, the alerts held in a burst and the flush lease. */
export class DynamoDbBurstBudget extends DeviceTable implements BurstBudget {
  /**
   * Two conditional writes at most: open a new window when the last one closed, else take a slot in the open one.
   * Each is atomic on the item, so concurrent consumers cannot take more slots than the budget.
   */
  async claimAlertSlot(deviceId: string, mailboxId: string, at: number, budget: AlertBudget, seenAt?: number): Promise<boolean> {
    const key = mailboxKey(deviceId, mailboxId);
    const cutoff = at - budget.windowMs;
    // The last-seen time rides along with whichever update takes the slot.
    const seen: { set: string; names: Record<string, string>; values: Record<string, number> } =
      seenAt === undefined ? { set: '', names: {}, values: {} } : { set: ', #seen = :seen', names: { '#seen': 'lastNotificationAt' }, values: { ':seen': seenAt } };
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: `SET #start = :at, #count = :one${seen.set}`,
          ConditionExpression: 'attribute_exists(sk) AND (attribute_not_exists(#start) OR #start <= :cutoff)',
          ExpressionAttributeNames: { '#start': 'alertWindowStartedAt', '#count': 'alertsInWindow', ...seen.names },
          ExpressionAttributeValues: { ':at': at, ':one': 1, ':cutoff': cutoff, ...seen.values },
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
          UpdateExpression: `ADD #count :one${seen.set.replace(', ', ' SET ')}`,
          ConditionExpression: 'attribute_exists(sk) AND #start > :cutoff AND #count < :max',
          ExpressionAttributeNames: { '#start': 'alertWindowStartedAt', '#count': 'alertsInWindow', ...seen.names },
          ExpressionAttributeValues: { ':one': 1, ':cutoff': cutoff, ':max': budget.maxPerWindow, ...seen.values },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async holdAlerts(deviceId: string, mailboxId: string, count: number, seenAt?: number): Promise<void> {
    checkAlertCount(count);
    const update = new UpdateBuilder().add('heldAlerts', count);
    if (seenAt !== undefined) update.set('lastNotificationAt', seenAt);
    await this.updateIgnoringMissing(mailboxKey(deviceId, mailboxId), update, 'attribute_exists(sk)');
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
    const item = await this.getItem(mailboxKey(deviceId, mailboxId));
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
}
