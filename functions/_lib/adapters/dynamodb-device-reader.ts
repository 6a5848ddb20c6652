import type { DeviceReader, DeviceRecord, DeviceWithMailboxes, MailboxRecord } from '../../../shared/store/ports.js';
import { batchGetAll, type Item } from './dynamodb-support.js';
import { DeviceTable, toDevice, toMailbox } from './dynamodb-device-items.js';
import { META_SK, deviceKey, mailboxKey, type TableKey } from './table-design.js';

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
    const [result] = await this.getDevicesAndMailboxes([{ deviceId, mailboxId }]);
    return result!;
  }

  /** One BatchGetItem per 100 keys; a device with several of the mailboxes is one key. */
  async getDevicesAndMailboxes(
    mailboxes: ReadonlyArray<{ deviceId: string; mailboxId: string }>,
  ): Promise<Array<{ device?: DeviceRecord; mailbox?: MailboxRecord }>> {
    const keys = mailboxes.flatMap(({ deviceId, mailboxId }) => [deviceKey(deviceId), mailboxKey(deviceId, mailboxId)]);
    const items = new Map<string, Item>();
    for (const item of await batchGetAll(this.client, this.tableName, keys, this.options)) {
      if (this.isLive(item)) items.set(`${String(item.pk)}\u0000${String(item.sk)}`, item);
    }
    const find = (key: TableKey) => items.get(`${key.pk}\u0000${key.sk}`);
    return mailboxes.map(({ deviceId, mailboxId }) => {
      const device = find(deviceKey(deviceId));
      const mailbox = find(mailboxKey(deviceId, mailboxId));
      return { ...(device ? { device: toDevice(device) } : {}), ...(mailbox ? { mailbox: toMailbox(mailbox) } : {}) };
    });
  }
}
