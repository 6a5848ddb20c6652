import { MANAGED_ATTRIBUTES, type ManagedMailboxChanges } from '../org/managed-subscription.js';
import { InMemoryStoreState } from './in-memory-store-state.js';

/**
 * The writes of relay-managed subscriptions in memory, for unit tests, with DynamoDbManagedSubscriptions' rules: each
 * field set or removed on its own, and a removed mailbox is not written (false).
 */
export class InMemoryManagedSubscriptions {
  private readonly state: InMemoryStoreState;

  constructor(options?: { state?: InMemoryStoreState }) {
    this.state = options?.state ?? new InMemoryStoreState();
  }

  async updateManaged(deviceId: string, mailboxId: string, changes: ManagedMailboxChanges): Promise<boolean> {
    const mailbox = this.state.mailboxes.get(deviceId)?.get(mailboxId);
    if (!mailbox) return false;
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
}
