import { MANAGED_ATTRIBUTES, relaySubscriptionOf, type HandedBackMailbox, type ManagedHandBack, type ManagedMailboxChanges, type ManagedRelease, type ManagedSecretRotation } from '../org/managed-subscription.js';
import { InMemoryStoreState } from './in-memory-store-state.js';
import type { MailboxRecord } from './records.js';

const RELAY_SUBSCRIPTION_FIELDS = ['protocol', 'subscriptionId', 'expiresAt', 'subscriptionReportedAt', 'statusFrequencyMinutes', 'lastNotificationAt', 'supersededAt'] as const;
const DEVICE_SECRET_FIELDS = ['deviceCallbackKey', 'deviceClientStateHash'] as const;

/**
 * The writes of relay-managed subscriptions in memory, for unit tests, with DynamoDbManagedSubscriptions' rules: each
 * field set or removed on its own, a mailbox removed or no longer relay-managed is not written (false), the device's
 * secrets are kept by the first rotation and put back by the hand-back, and the callback lookups follow.
 */
export class InMemoryManagedSubscriptions implements ManagedHandBack, ManagedSecretRotation, ManagedRelease {
  private readonly state: InMemoryStoreState;

  constructor(options?: { state?: InMemoryStoreState }) {
    this.state = options?.state ?? new InMemoryStoreState();
  }

  async updateManaged(deviceId: string, mailboxId: string, changes: ManagedMailboxChanges): Promise<boolean> {
    const mailbox = this.state.mailboxes.get(deviceId)?.get(mailboxId);
    if (!mailbox) return false;
    if (mailbox.managedProtocol === undefined && !(changes.mark && typeof changes.managed?.protocol === 'string')) return false;
    if (changes.protocol !== undefined) mailbox.protocol = changes.protocol;
    if (changes.subscriptionId !== undefined) mailbox.subscriptionId = changes.subscriptionId;
    if (changes.expiresAt === null) delete mailbox.expiresAt;
    else if (changes.expiresAt !== undefined) mailbox.expiresAt = changes.expiresAt;
    if (changes.subscriptionReportedAt !== undefined) mailbox.subscriptionReportedAt = changes.subscriptionReportedAt;
    if (changes.statusFrequencyMinutes !== undefined) mailbox.statusFrequencyMinutes = changes.statusFrequencyMinutes;
    if (changes.dueAt !== undefined) mailbox.dueAt = changes.dueAt;
    for (const [field, value] of Object.entries(changes.managed ?? {})) {
      const attribute = MANAGED_ATTRIBUTES[field as keyof typeof MANAGED_ATTRIBUTES];
      const fields = mailbox as unknown as Record<string, unknown>;
      if (value === null) delete fields[attribute];
      else if (value !== undefined) fields[attribute] = value;
    }
    return true;
  }

  async rotateManagedSecrets(deviceId: string, mailboxId: string, input: { callbackKey: string; clientStateHash: string; subscribingSince: number }): Promise<boolean> {
    const mailbox = this.state.mailboxes.get(deviceId)?.get(mailboxId);
    if (!mailbox?.managedProtocol) return false;
    if (mailbox.deviceCallbackKey === undefined) {
      mailbox.deviceCallbackKey = mailbox.callbackKey;
      if (mailbox.clientStateHash !== undefined) mailbox.deviceClientStateHash = mailbox.clientStateHash;
    }
    this.moveLookup(mailbox, input.callbackKey);
    mailbox.clientStateHash = input.clientStateHash;
    mailbox.managedSubscribingSince = input.subscribingSince;
    return true;
  }

  async handBack(deviceId: string, mailboxId: string, input: { dueAt: number; clearManagedBy: boolean }): Promise<HandedBackMailbox | undefined> {
    const mailbox = this.state.mailboxes.get(deviceId)?.get(mailboxId);
    if (!mailbox?.managedProtocol) return undefined;
    const previous: MailboxRecord = { ...mailbox };
    if (previous.deviceCallbackKey !== undefined) {
      this.moveLookup(mailbox, previous.deviceCallbackKey);
      if (previous.deviceClientStateHash === undefined) delete mailbox.clientStateHash;
      else mailbox.clientStateHash = previous.deviceClientStateHash;
    }
    const fields = mailbox as unknown as Record<string, unknown>;
    for (const field of [...RELAY_SUBSCRIPTION_FIELDS, ...Object.values(MANAGED_ATTRIBUTES), ...DEVICE_SECRET_FIELDS]) delete fields[field];
    if (input.clearManagedBy) delete mailbox.managedBy;
    if (previous.managedProtocol === 'ews' && previous.subscriptionId !== undefined) mailbox.endedSubscriptionId = previous.subscriptionId;
    mailbox.dueAt = input.dueAt;
    return relaySubscriptionOf(previous)!;
  }

  async releaseSubscription(deviceId: string, mailboxId: string, input: { dueAt: number; endedSubscriptionId?: string }): Promise<HandedBackMailbox | undefined> {
    const mailbox = this.state.mailboxes.get(deviceId)?.get(mailboxId);
    if (!mailbox?.managedProtocol) return undefined;
    const previous: MailboxRecord = { ...mailbox };
    const fields = mailbox as unknown as Record<string, unknown>;
    for (const field of [...RELAY_SUBSCRIPTION_FIELDS, ...Object.values(MANAGED_ATTRIBUTES)]) {
      if (field !== MANAGED_ATTRIBUTES.protocol) delete fields[field];
    }
    if (input.endedSubscriptionId !== undefined) mailbox.endedSubscriptionId = input.endedSubscriptionId;
    mailbox.dueAt = input.dueAt;
    return relaySubscriptionOf(previous)!;
  }

  /** The mailbox's URLs become those of `callbackKey`: its lookup is written, the old one goes. */
  private moveLookup(mailbox: MailboxRecord, callbackKey: string): void {
    const lookup = this.state.callbacks.get(mailbox.callbackKey);
    if (lookup?.deviceId === mailbox.deviceId && lookup.mailboxId === mailbox.mailboxId) this.state.callbacks.delete(mailbox.callbackKey);
    mailbox.callbackKey = callbackKey;
    this.state.callbacks.set(callbackKey, { deviceId: mailbox.deviceId, mailboxId: mailbox.mailboxId });
  }
}

