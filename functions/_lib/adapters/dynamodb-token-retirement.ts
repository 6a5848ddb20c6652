import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { TokenRetirement } from '../../../shared/store/ports.js';
import { isConditionalCheckFailed } from './dynamodb-support.js';
import { DeviceTable } from './dynamodb-device-items.js';
import { deviceKey } from './table-design.js';

/** TokenRetirement on the table: one conditional write, so a token registered after the rejection keeps the device. */
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
}
