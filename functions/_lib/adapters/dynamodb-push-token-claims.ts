import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { PushTokenClaims } from '../../../shared/store/ports.js';
import { hashSecret } from '../device-secrets.js';
import { DeviceTable } from './dynamodb-device-items.js';
import { isConditionalCheckFailed } from './dynamodb-support.js';
import { pushTokenKey } from './table-design.js';

/**
 * PushTokenClaims on the table: one item per token, keyed by the token's SHA-256 so that the token itself stays in its
 * device's record only. A claim is one PutItem that returns the previous holder, so two registrations of one token
 * racing each learn of the other: the later write retires the earlier holder.
 */
export class DynamoDbPushTokenClaims extends DeviceTable implements PushTokenClaims {
  async claimPushToken(pushToken: string, deviceId: string): Promise<string | undefined> {
    const { Attributes: previous } = await this.client.send(
      new PutCommand({ TableName: this.tableName, Item: { ...keyOf(pushToken), deviceId }, ReturnValues: 'ALL_OLD' }),
    );
    const holder = typeof previous?.deviceId === 'string' ? previous.deviceId : undefined;
    return holder === deviceId ? undefined : holder;
  }

  async pushTokenHolder(pushToken: string): Promise<string | undefined> {
    const item = await this.getItem(keyOf(pushToken));
    return typeof item?.deviceId === 'string' ? item.deviceId : undefined;
  }

  async releasePushToken(pushToken: string, deviceId: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keyOf(pushToken),
          ConditionExpression: 'deviceId = :deviceId',
          ExpressionAttributeValues: { ':deviceId': deviceId },
        }),
      );
    } catch (error) {
      // Another device holds it now (or nobody does): nothing of ours to give up.
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}

function keyOf(pushToken: string) {
  return pushTokenKey(hashSecret(pushToken));
}
