import { ConcurrentUpdateError, DeviceNotFoundError, MailboxExistsError, MailboxLimitError, MailboxNotFoundError } from '../errors.js';
import { dueShardOf } from './due-shard.js';
import {
  DUE_SHARDS,
  type DeviceChanges,
  type DeviceRecord,
  type BurstBudget,
  type CallbackDirectory,
  type DevicePorts,
  type DeviceReader,
  type DeviceRegistry,
  type MailboxActionLimit,
  type MailboxOrganizationFields,
  type MailboxRegistry,
  type SubscriptionReport,
  type SupervisionIndex,
  type TokenRetirement,
  type PushTokenClaims,
  type DeviceQuota,
  type DeviceWithMailboxes,
  DEVICE_CHANGEABLE_FIELDS,
  type AlertBudget,
  type DueItem,
  type MailboxRecord,
  type MailboxSupervisionChanges,
} from './ports.js';
import { InMemoryStoreState, copy } from './in-memory-store-state.js';
import type { MailboxAction } from '../push/apns-payloads.js';


/**
 * Every device port in memory over one state, for unit tests of the use cases. Same semantics as the DynamoDB
 * adapters (`functions/_lib/adapters/dynamodb-*.ts`), held to the same behaviour suite: values are deep
 * copies both ways, mailboxes come back ordered by id (the table's sort order), the delegated-mailbox limit holds.
 * Each call completes atomically, so concurrent adds get exactly `maxDelegated` through, where the DynamoDB store
 * may refuse more of them (never fewer than are stored).
 *
 * The due index is the state itself: `listDue` picks the devices and mailboxes with a `dueAt` in the shard that
 * `dueShardOf` gives, as the table's sparse index would. Like DynamoDB, a full page always carries a cursor, so
 * callers meet the possibly empty last page here too.
 */
export class InMemoryDeviceStore
  implements DeviceReader, DeviceRegistry, MailboxRegistry, CallbackDirectory, SupervisionIndex, TokenRetirement, BurstBudget, MailboxActionLimit, PushTokenClaims, DeviceQuota
{
  private readonly state: InMemoryStoreState;

  constructor(options?: { state?: InMemoryStoreState }) {
    this.state = options?.state ?? new InMemoryStoreState();
  }

  /** This store in every port's place, for a use case's deps. */
  ports(): DevicePorts {
    return { devices: this, registry: this, mailboxes: this, callbacks: this, supervision: this, retirement: this, burstBudget: this, actionLimit: this, pushTokens: this, deviceQuota: this };
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

  async getDevicesAndMailboxes(
    mailboxes: ReadonlyArray<{ deviceId: string; mailboxId: string }>,
  ): Promise<Array<{ device?: DeviceRecord; mailbox?: MailboxRecord }>> {
    return Promise.all(mailboxes.map(({ deviceId, mailboxId }) => this.getDeviceAndMailbox(deviceId, mailboxId)));
  }

  async findCallback(callbackKey: string): Promise<{ deviceId: string; mailboxId: string } | undefined> {
    const lookup = this.state.callbacks.get(callbackKey);
    return lookup && copy(lookup);
  }

  async updateDevice(deviceId: string, changes: DeviceChanges, now: number, options?: { ifRevision?: number }): Promise<DeviceRecord> {
    const device = this.state.devices.get(deviceId);
    if (!device) throw new DeviceNotFoundError();
    const revision = device.revision ?? 0;
    if (options?.ifRevision !== undefined && options.ifRevision !== revision) throw new ConcurrentUpdateError();
    const updated: DeviceRecord = { ...device, updatedAt: now, revision: revision + 1 };
    for (const field of DEVICE_CHANGEABLE_FIELDS) {
      const value = changes[field];
      if (value !== undefined) Object.assign(updated, { [field]: copy(value) });
    }
    if (changes.retiredReason === null) delete updated.retiredReason;
    else if (changes.retiredReason !== undefined) updated.retiredReason = changes.retiredReason;
    if (changes.vipSenderHashes === null) delete updated.vipSenderHashes;
    else if (changes.vipSenderHashes !== undefined) updated.vipSenderHashes = [...changes.vipSenderHashes];
    if (changes.alertKey === null) delete updated.alertKey;
    else if (changes.alertKey !== undefined) updated.alertKey = copy(changes.alertKey);
    if (changes.dueAt === null) delete updated.dueAt;
    else if (changes.dueAt !== undefined) updated.dueAt = changes.dueAt;
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
    this.state.devices.set(deviceId, { ...device, status: 'retired', retiredReason: input.reason, updatedAt: input.now, dueAt: input.now });
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

  async removeMailbox(deviceId: string, mailboxId: string): Promise<MailboxRecord | undefined> {
    const mailboxes = this.state.mailboxes.get(deviceId);
    const mailbox = mailboxes?.get(mailboxId);
    if (!mailboxes || !mailbox) return undefined;
    this.deleteCallback(mailbox);
    mailboxes.delete(mailboxId);
    return copy(mailbox);
  }

  async setSubscription(deviceId: string, mailboxId: string, subscription: SubscriptionReport): Promise<void> {
    const mailbox = this.mailbox(deviceId, mailboxId);
    if (!mailbox) throw new MailboxNotFoundError();
    if (subscription.protocol === undefined) delete mailbox.protocol;
    else mailbox.protocol = subscription.protocol;
    mailbox.subscriptionId = subscription.subscriptionId;
    mailbox.expiresAt = subscription.expiresAt;
    mailbox.subscriptionReportedAt = subscription.reportedAt;
    if (subscription.statusFrequencyMinutes === undefined) delete mailbox.statusFrequencyMinutes;
    else mailbox.statusFrequencyMinutes = subscription.statusFrequencyMinutes;
    mailbox.dueAt = subscription.dueAt;
  }

  async rotateSecrets(deviceId: string, mailboxId: string, secrets: { callbackKey: string; clientStateHash: string }): Promise<void> {
    const mailbox = this.mailbox(deviceId, mailboxId);
    if (!mailbox) throw new MailboxNotFoundError();
    this.deleteCallback(mailbox);
    mailbox.callbackKey = secrets.callbackKey;
    mailbox.clientStateHash = secrets.clientStateHash;
    this.writeMailbox(mailbox);
  }

  async claimMailboxAction(deviceId: string, mailboxId: string, action: MailboxAction, now: number, windowMs: number): Promise<boolean> {
    const mailbox = this.mailbox(deviceId, mailboxId);
    if (!mailbox) return false;
    const field = `${action}PushedAt` as const;
    const last = mailbox[field];
    if (last !== undefined && last > now - windowMs) return false;
    mailbox[field] = now;
    return true;
  }

  async releaseMailboxAction(deviceId: string, mailboxId: string, action: MailboxAction, claimedAt: number): Promise<void> {
    const mailbox = this.mailbox(deviceId, mailboxId);
    if (mailbox && mailbox[`${action}PushedAt`] === claimedAt) delete mailbox[`${action}PushedAt`];
  }

  async setMailboxOrganization(deviceId: string, mailboxId: string, fields: MailboxOrganizationFields): Promise<void> {
    const mailbox = this.mailbox(deviceId, mailboxId);
    if (!mailbox) throw new MailboxNotFoundError();
    if (fields.sealedAddress === null) delete mailbox.sealedAddress;
    else mailbox.sealedAddress = fields.sealedAddress;
    if (fields.managedBy === null) delete mailbox.managedBy;
    else mailbox.managedBy = fields.managedBy;
  }

  async touchMailbox(deviceId: string, mailboxId: string, at: number): Promise<void> {
    const mailbox = this.mailbox(deviceId, mailboxId);
    if (mailbox && (mailbox.lastNotificationAt === undefined || mailbox.lastNotificationAt < at)) mailbox.lastNotificationAt = at;
  }

  async updateMailboxSupervision(deviceId: string, mailboxId: string, changes: MailboxSupervisionChanges): Promise<void> {
    const mailbox = this.mailbox(deviceId, mailboxId);
    if (!mailbox) return;
    if (changes.supervisionState !== undefined) mailbox.supervisionState = changes.supervisionState;
    if (changes.resubscribeRequestedAt !== undefined) mailbox.resubscribeRequestedAt = changes.resubscribeRequestedAt;
    if (changes.supersededAt !== undefined) mailbox.supersededAt = changes.supersededAt;
    if (changes.dueAt === null) delete mailbox.dueAt;
    else if (changes.dueAt !== undefined) mailbox.dueAt = changes.dueAt;
  }

  async listDue(input: { shard: number; now: number; limit: number; cursor?: string }): Promise<{ items: DueItem[]; cursor?: string }> {
    if (!Number.isInteger(input.shard) || input.shard < 0 || input.shard >= DUE_SHARDS) {
      throw new RangeError(`due shard must be an integer from 0 to ${DUE_SHARDS - 1}, got ${input.shard}`);
    }
    if (!Number.isInteger(input.limit) || input.limit < 1) throw new RangeError(`limit must be a positive integer, got ${input.limit}`);
    const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor);
    const due: IndexEntry[] = [];
    for (const device of this.state.devices.values()) {
      if (device.dueAt !== undefined) due.push({ dueAt: device.dueAt, key: indexKey(device.deviceId), item: { kind: 'interval', deviceId: device.deviceId, dueAt: device.dueAt } });
    }
    for (const [deviceId, mailboxes] of this.state.mailboxes) {
      for (const mailbox of mailboxes.values()) {
        if (mailbox.dueAt === undefined) continue;
        const item: DueItem = { kind: 'mailbox', deviceId, mailboxId: mailbox.mailboxId, dueAt: mailbox.dueAt };
        due.push({ dueAt: mailbox.dueAt, key: indexKey(deviceId, mailbox.mailboxId), item });
      }
    }
    const page = due
      .filter((entry) => entry.dueAt <= input.now && dueShardOf(entry.item.deviceId) === input.shard)
      .filter((entry) => !after || compareEntries(entry, after) > 0)
      .sort(compareEntries)
      .slice(0, input.limit);
    const last = page.length === input.limit ? page[page.length - 1] : undefined;
    return { items: page.map((entry) => entry.item), ...(last ? { cursor: encodeCursor(last) } : {}) };
  }

  async holdAlerts(deviceId: string, mailboxId: string, count: number, seenAt?: number): Promise<void> {
    checkAlertCount(count);
    const mailbox = this.mailbox(deviceId, mailboxId);
    if (!mailbox) return;
    mailbox.heldAlerts = (mailbox.heldAlerts ?? 0) + count;
    if (seenAt !== undefined) mailbox.lastNotificationAt = seenAt;
  }

  async beginFlush(deviceId: string, mailboxId: string, now: number, leaseUntil: number): Promise<{ held: number } | { busyUntil: number } | undefined> {
    const mailbox = this.mailbox(deviceId, mailboxId);
    if (!mailbox || (mailbox.heldAlerts ?? 0) <= 0) return undefined;
    if (mailbox.flushingUntil !== undefined && mailbox.flushingUntil > now) return { busyUntil: mailbox.flushingUntil };
    mailbox.flushingUntil = leaseUntil;
    return { held: mailbox.heldAlerts! };
  }

  async endFlush(deviceId: string, mailboxId: string): Promise<void> {
    const mailbox = this.mailbox(deviceId, mailboxId);
    if (mailbox) delete mailbox.flushingUntil;
  }

  async releaseHeldAlerts(deviceId: string, mailboxId: string, count: number): Promise<boolean> {
    checkAlertCount(count);
    const mailbox = this.mailbox(deviceId, mailboxId);
    if (!mailbox || mailbox.heldAlerts === undefined || mailbox.heldAlerts < count) return false;
    mailbox.heldAlerts -= count;
    delete mailbox.flushingUntil;
    return true;
  }

  async claimAlertSlot(deviceId: string, mailboxId: string, at: number, budget: AlertBudget, seenAt?: number): Promise<boolean> {
    const mailbox = this.mailbox(deviceId, mailboxId);
    if (!mailbox) return false;
    if (mailbox.alertWindowStartedAt === undefined || mailbox.alertWindowStartedAt <= at - budget.windowMs) {
      mailbox.alertWindowStartedAt = at;
      mailbox.alertsInWindow = 1;
    } else if ((mailbox.alertsInWindow ?? 0) >= budget.maxPerWindow) {
      return false;
    } else {
      mailbox.alertsInWindow = (mailbox.alertsInWindow ?? 0) + 1;
    }
    if (seenAt !== undefined) mailbox.lastNotificationAt = seenAt;
    return true;
  }

  async claimPushToken(pushToken: string, deviceId: string): Promise<string | undefined> {
    const previous = this.state.pushTokenHolders.get(pushToken);
    this.state.pushTokenHolders.set(pushToken, deviceId);
    return previous === deviceId ? undefined : previous;
  }

  async pushTokenHolder(pushToken: string): Promise<string | undefined> {
    return this.state.pushTokenHolders.get(pushToken);
  }

  async releasePushToken(pushToken: string, deviceId: string): Promise<void> {
    if (this.state.pushTokenHolders.get(pushToken) === deviceId) this.state.pushTokenHolders.delete(pushToken);
  }

  async reserveDevice(orgId: string, max: number): Promise<boolean> {
    const count = this.state.orgDeviceCounts.get(orgId) ?? 0;
    if (count >= max) return false;
    this.state.orgDeviceCounts.set(orgId, count + 1);
    return true;
  }

  async releaseDevice(orgId: string): Promise<void> {
    const count = this.state.orgDeviceCounts.get(orgId) ?? 0;
    if (count > 0) this.state.orgDeviceCounts.set(orgId, count - 1);
  }

  async countDevices(orgId: string): Promise<number> {
    return this.state.orgDeviceCounts.get(orgId) ?? 0;
  }

  async deleteDevice(deviceId: string): Promise<MailboxRecord[]> {
    const mailboxes = [...(this.state.mailboxes.get(deviceId)?.values() ?? [])].map(copy);
    for (const mailbox of mailboxes) this.deleteCallback(mailbox);
    this.state.dropDevicePartition(deviceId);
    return mailboxes;
  }

  private mailbox(deviceId: string, mailboxId: string): MailboxRecord | undefined {
    return this.state.mailboxes.get(deviceId)?.get(mailboxId);
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

/** An item of the simulated due index; `key` is the table key (pk, sk) that orders items with the same due time. */
interface IndexEntry {
  dueAt: number;
  key: [string, string];
  item: DueItem;
}

function indexKey(deviceId: string, mailboxId?: string): [string, string] {
  return [`DEVICE#${deviceId}`, mailboxId === undefined ? 'META' : `MAILBOX#${mailboxId}`];
}

function compareEntries(a: Pick<IndexEntry, 'dueAt' | 'key'>, b: Pick<IndexEntry, 'dueAt' | 'key'>): number {
  if (a.dueAt !== b.dueAt) return a.dueAt - b.dueAt;
  for (let i = 0; i < 2; i++) {
    if (a.key[i]! < b.key[i]!) return -1;
    if (a.key[i]! > b.key[i]!) return 1;
  }
  return 0;
}

/** Base64url JSON of where the page ended, so that the next page starts after it even if items moved meanwhile. */
function encodeCursor(entry: IndexEntry): string {
  const json = JSON.stringify({ dueAt: entry.dueAt, key: entry.key });
  return btoa(String.fromCharCode(...new TextEncoder().encode(json))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function decodeCursor(cursor: string): Pick<IndexEntry, 'dueAt' | 'key'> {
  try {
    const binary = atob(cursor.replace(/-/g, '+').replace(/_/g, '/'));
    const parsed: unknown = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
    const { dueAt, key } = parsed as { dueAt: unknown; key: unknown };
    if (typeof dueAt === 'number' && Array.isArray(key) && key.length === 2 && key.every((k) => typeof k === 'string')) {
      return { dueAt, key: key as [string, string] };
    }
  } catch {
    // Falls through to the error below.
  }
  throw new TypeError('not a due-index cursor');
}

function checkAlertCount(count: number): void {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`alert count must be a positive integer, got ${count}`);
}
