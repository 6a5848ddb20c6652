import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DeviceQuota } from '../../../shared/store/ports.js';
import { DeviceTable } from './dynamodb-device-items.js';
import { ORG_PK_PREFIX } from './dynamodb-org-store.js';
import { isConditionalCheckFailed } from './dynamodb-support.js';
import { ORG_DEVICE_COUNT_SK } from './table-design.js';

/**
 * DeviceQuota on the table: one counter item per organization (`ORG#<orgId>` / `DEVICE-COUNT`, beside the
 * organization's own item), changed only by conditional atomic ADDs, so concurrent registrations cannot pass the cap
 * together and counting never reads the devices.
 */
export class DynamoDbDeviceQuota extends DeviceTable implements DeviceQuota {
  async reserveDevice(orgId: string, max: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keyOf(orgId),
          UpdateExpression: 'ADD devices :one',
          ConditionExpression: 'attribute_not_exists(devices) OR devices < :max',
          ExpressionAttributeValues: { ':one': 1, ':max': max },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async releaseDevice(orgId: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keyOf(orgId),
          UpdateExpression: 'ADD devices :minusOne',
          ConditionExpression: 'devices > :zero',
          ExpressionAttributeValues: { ':minusOne': -1, ':zero': 0 },
        }),
      );
    } catch (error) {
      // Already zero, or never counted: a device registered before the count existed.
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  async countDevices(orgId: string): Promise<number> {
    const item = await this.getItem(keyOf(orgId));
    return typeof item?.devices === 'number' ? item.devices : 0;
  }
}

function keyOf(orgId: string) {
  return { pk: `${ORG_PK_PREFIX}${orgId}`, sk: ORG_DEVICE_COUNT_SK };
}
