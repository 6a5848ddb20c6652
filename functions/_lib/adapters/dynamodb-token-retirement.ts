import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { TokenRetirement } from '../../../shared/store/ports.js';
import { isConditionalCheckFailed } from './dynamodb-support.js';
import { DeviceTable } from './dynamodb-device-items.js';
import { DUE_AT_ATTRIBUTE, DUE_SHARD_ATTRIBUTE, deviceKey, dueShardValue } from './table-design.js';
import { dueShardOf } from '../../../shared/store/due-shard.js';

/**
 * TokenRetirement on the table: one conditional write, so a token registered after the rejection keeps the device;
 * it also puts the device in the due index (now), for the supervisor to let go of the relay's subscriptions.
 */
export class DynamoDbTokenRetirement extends DeviceTable implements TokenRetirement {
  async retireDevice(
    deviceId: string,
    input: { pushToken: string; tokenRejectedAt: number; reason: string; now: number },
  ): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: deviceKey(deviceId),
          UpdateExpression: 'SET #status = :retired, retiredReason = :reason, updatedAt = :now, #dueAt = :now, #dueShard = :dueShard',
          ConditionExpression: 'pushToken = :token AND pushTokenUpdatedAt <= :rejectedAt AND #status = :active',
          ExpressionAttributeNames: { '#status': 'status', '#dueAt': DUE_AT_ATTRIBUTE, '#dueShard': DUE_SHARD_ATTRIBUTE },
          ExpressionAttributeValues: {
            ':retired': 'retired',
            ':active': 'active',
            ':reason': input.reason,
            ':now': input.now,
            ':dueShard': dueShardValue(dueShardOf(deviceId)),
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
}
