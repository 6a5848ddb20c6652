import type { CallbackDirectory, CallbackTarget } from '../../../shared/store/ports.js';
import { DeviceTable, UpdateBuilder, toCallbackTarget } from './dynamodb-device-items.js';
import { callbackKey, mailboxKey } from './table-design.js';

/** CallbackDirectory on the table: the callback lookup items and the mailbox's last-seen time. */
export class DynamoDbCallbackDirectory extends DeviceTable implements CallbackDirectory {
  async findCallback(key: string): Promise<CallbackTarget | undefined> {
    const item = await this.getItem(callbackKey(key));
    return item && toCallbackTarget(item);
  }

  async touchMailbox(deviceId: string, mailboxId: string, at: number): Promise<void> {
    await this.updateIgnoringMissing(
      mailboxKey(deviceId, mailboxId),
      new UpdateBuilder().set('lastNotificationAt', at),
      // An older timestamp (a late, concurrent write) must not move the time back.
      'attribute_exists(sk) AND (attribute_not_exists(#lastNotificationAt) OR #lastNotificationAt < :lastNotificationAt)',
    );
  }
}
