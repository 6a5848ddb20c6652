import { DeviceNotFoundError, MailboxExistsError, MailboxLimitError, MailboxNotFoundError } from '../errors.js';
import type { DeviceChanges, DeviceRecord, DeviceStore, DeviceWithMailboxes, MailboxRecord } from './ports.js';
import { InMemoryStoreState, copy } from './in-memory-store-state.js';

const CHANGEABLE_FIELDS = [
  'pushToken',
  'pushTokenUpdatedAt',
  'apnsEnvironment',
  'mode',
  'intervalSeconds',
  'timeZone',
  'alerts',
  'status',
  'endpointArn',
] as const satisfies readonly (keyof DeviceChanges)[];

/**
 * DeviceStore in memory, for unit tests of the use cases. Same semantics as DynamoDbDeviceStore: values are deep
 * copies both ways, mailboxes come back ordered by id (the table's sort order), the delegated-mailbox limit holds.
 * Each call completes atomically, so concurrent adds get exactly `maxDelegated` through, where the DynamoDB store
 * may refuse more of them (never fewer than are stored).
 */
export class InMemoryDeviceStore implements DeviceStore {
  private readonly state: InMemoryStoreState;

  constructor(options?: { state?: InMemoryStoreState }) {
    this.state = options?.state ?? new InMemoryStoreState();
  }

  async createDevice(device: DeviceRecord, mailboxes: MailboxRecord[]): Promise<void> {
    for (const mailbox of mailboxes) {
      if (mailbox.deviceId !== device.deviceId) {
        throw new Error(`mailbox ${mailbox.mailboxId} belongs to device ${mailbox.deviceId}, not ${device.deviceId}`);
      }
    }
    if (this.state.devices.has(device.deviceId)) throw new Error(`device ${device.deviceId} already exists`);
    for (const mailbox of mailboxes) this.writeMailbox(mailbox);
    this.state.devices.set(device.deviceId, copy(device));
  }

  async getDevice(deviceId: string): Promise<DeviceRecord | undefined> {
    const device = this.state.devices.get(deviceId);
    return device && copy(device);
  }

  async getDeviceWithMailboxes(deviceId: string): Promise<DeviceWithMailboxes | undefined> {
    const device = this.state.devices.get(deviceId);
    if (!device) return undefined;
    const mailboxes = [...(this.state.mailboxes.get(deviceId)?.values() ?? [])].sort((a, b) =>
      a.mailboxId < b.mailboxId ? -1 : a.mailboxId > b.mailboxId ? 1 : 0,
    );
    return copy({ device, mailboxes });
  }

  async getDeviceAndMailbox(deviceId: string, mailboxId: string): Promise<{ device?: DeviceRecord; mailbox?: MailboxRecord }> {
    const device = this.state.devices.get(deviceId);
    const mailbox = this.state.mailboxes.get(deviceId)?.get(mailboxId);
    return copy({ ...(device ? { device } : {}), ...(mailbox ? { mailbox } : {}) });
  }

  async findCallback(callbackKey: string): Promise<{ deviceId: string; mailboxId: string } | undefined> {
    const lookup = this.state.callbacks.get(callbackKey);
    return lookup && copy(lookup);
  }

  async updateDevice(deviceId: string, changes: DeviceChanges, now: number): Promise<DeviceRecord> {
    const device = this.state.devices.get(deviceId);
    if (!device) throw new DeviceNotFoundError();
    const updated: DeviceRecord = { ...device, updatedAt: now };
    for (const field of CHANGEABLE_FIELDS) {
      const value = changes[field];
      if (value !== undefined) Object.assign(updated, { [field]: copy(value) });
    }
    if (changes.retiredReason === null) delete updated.retiredReason;
    else if (changes.retiredReason !== undefined) updated.retiredReason = changes.retiredReason;
    this.state.devices.set(deviceId, updated);
    return copy(updated);
  }

  async retireDevice(
    deviceId: string,
    input: { pushToken: string; tokenRejectedAt: number; reason: string; now: number },
  ): Promise<boolean> {
    const device = this.state.devices.get(deviceId);
    if (
      !device ||
      device.pushToken !== input.pushToken ||
      device.pushTokenUpdatedAt > input.tokenRejectedAt ||
      device.status !== 'active'
    ) {
      return false;
    }
    this.state.devices.set(deviceId, { ...device, status: 'retired', retiredReason: input.reason, updatedAt: input.now });
    return true;
  }

  async addMailbox(mailbox: MailboxRecord, maxDelegated: number): Promise<void> {
    if (!this.state.devices.has(mailbox.deviceId)) throw new DeviceNotFoundError();
    const mailboxes = this.state.mailboxesOf(mailbox.deviceId);
    if (mailboxes.has(mailbox.mailboxId)) {
      throw new MailboxExistsError(`mailbox ${mailbox.mailboxId} is already registered on this device`);
    }
    const delegated = [...mailboxes.values()].filter((m) => m.kind === 'delegated').length;
    if (mailbox.kind === 'delegated' && delegated >= maxDelegated) {
      throw new MailboxLimitError(`a device can have at most ${maxDelegated} delegated mailboxes`);
    }
    this.writeMailbox(mailbox);
  }

  async removeMailbox(deviceId: string, mailboxId: string): Promise<void> {
    const mailboxes = this.state.mailboxes.get(deviceId);
    const mailbox = mailboxes?.get(mailboxId);
    if (!mailboxes || !mailbox) return;
    this.deleteCallback(mailbox);
    mailboxes.delete(mailboxId);
  }

  async setSubscription(
    deviceId: string,
    mailboxId: string,
    subscription: { subscriptionId: string; expiresAt: number },
  ): Promise<void> {
    const mailbox = this.state.mailboxes.get(deviceId)?.get(mailboxId);
    if (!mailbox) throw new MailboxNotFoundError();
    mailbox.subscriptionId = subscription.subscriptionId;
    mailbox.expiresAt = subscription.expiresAt;
  }

  async touchMailbox(deviceId: string, mailboxId: string, at: number): Promise<void> {
    const mailbox = this.state.mailboxes.get(deviceId)?.get(mailboxId);
    if (mailbox && (mailbox.lastNotificationAt === undefined || mailbox.lastNotificationAt < at)) {
      mailbox.lastNotificationAt = at;
    }
  }

  async deleteDevice(deviceId: string): Promise<void> {
    for (const mailbox of this.state.mailboxes.get(deviceId)?.values() ?? []) this.deleteCallback(mailbox);
    this.state.dropDevicePartition(deviceId);
  }

  private writeMailbox(mailbox: MailboxRecord): void {
    this.state.callbacks.set(mailbox.callbackKey, { deviceId: mailbox.deviceId, mailboxId: mailbox.mailboxId });
    this.state.mailboxesOf(mailbox.deviceId).set(mailbox.mailboxId, copy(mailbox));
  }

  private deleteCallback(mailbox: MailboxRecord): void {
    const lookup = this.state.callbacks.get(mailbox.callbackKey);
    if (lookup && lookup.deviceId === mailbox.deviceId && lookup.mailboxId === mailbox.mailboxId) {
      this.state.callbacks.delete(mailbox.callbackKey);
    }
  }
}
