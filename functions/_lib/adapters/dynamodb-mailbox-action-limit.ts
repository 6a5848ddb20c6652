import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { MailboxAction } from '../../../shared/push/apns-payloads.js';
import type { MailboxActionLimit } from '../../../shared/store/ports.js';
import { isConditionalCheckFailed } from './dynamodb-support.js';
import { DeviceTable } from './dynamodb-device-items.js';
import { mailboxKey } from './table-design.js';

/** MailboxActionLimit on the mailbox item: one `<action>PushedAt` per action, taken with one conditional write. */
export class DynamoDbMailboxActionLimit extends DeviceTable implements MailboxActionLimit {
  async claimMailboxAction(deviceId: string, mailboxId: string, action: MailboxAction, now: number, windowMs: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: mailboxKey(deviceId, mailboxId),
          UpdateExpression: 'SET #last = :now',
          ConditionExpression: 'attribute_exists(sk) AND (attribute_not_exists(#last) OR #last <= :cutoff)',
          ExpressionAttributeNames: { '#last': `${action}PushedAt` },
          ExpressionAttributeValues: { ':now': now, ':cutoff': now - windowMs },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async releaseMailboxAction(deviceId: string, mailboxId: string, action: MailboxAction, claimedAt: number): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: mailboxKey(deviceId, mailboxId),
          UpdateExpression: 'REMOVE #last',
          ConditionExpression: '#last = :claimedAt',
          ExpressionAttributeNames: { '#last': `${action}PushedAt` },
          ExpressionAttributeValues: { ':claimedAt': claimedAt },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}
