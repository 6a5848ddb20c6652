import type { DeviceReader, DeviceRecord, DeviceWithMailboxes, MailboxRecord } from '../../../shared/store/ports.js';
import { batchGetAll } from './dynamodb-support.js';
import { DeviceTable, toDevice, toMailbox } from './dynamodb-device-items.js';
import { META_SK, deviceKey, mailboxKey } from './table-design.js';

/** DeviceReader on the table: strongly consistent reads of the device and mailbox items. */
export class DynamoDbDeviceReader extends DeviceTable implements DeviceReader {
  async getDevice(deviceId: string): Promise<DeviceRecord | undefined> {
    return this.readDevice(deviceId);
  }

  async getDeviceWithMailboxes(deviceId: string): Promise<DeviceWithMailboxes | undefined> {
    const items = await this.queryRegistration(deviceId);
    const deviceItem = items.find((item) => item.sk === META_SK);
    if (!deviceItem) return undefined;
    return {
      device: toDevice(deviceItem),
      mailboxes: items.filter((item) => item.sk !== META_SK).map(toMailbox),
    };
  }

  async getDeviceAndMailbox(deviceId: string, mailboxId: string): Promise<{ device?: DeviceRecord; mailbox?: MailboxRecord }> {
    const items = await batchGetAll(this.client, this.tableName, [deviceKey(deviceId), mailboxKey(deviceId, mailboxId)], this.options);
    const result: { device?: DeviceRecord; mailbox?: MailboxRecord } = {};
    for (const item of items) {
      if (!this.isLive(item)) continue;
      if (item.sk === META_SK) result.device = toDevice(item);
      else result.mailbox = toMailbox(item);
    }
    return result;
  }
}
