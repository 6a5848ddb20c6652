import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ManagedMailboxWrites } from '../../../shared/org/managed-subscription.js';
import { loadOnce } from '../load-once.js';

/**
 * The table's writes of relay-managed subscriptions (DynamoDbManagedSubscriptions), loaded with the first of them. Only
 * a mailbox the relay manages for an organization (contract section 9) is ever written so, so the functions whose
 * every request could need them otherwise (device API, org API, dispatcher) leave the adapter out of their cold start
 * (issue 15). Every method is asynchronous already; a failed load is tried again by the next call.
 */
export class LazyManagedSubscriptions implements ManagedMailboxWrites {
  private readonly store: () => Promise<ManagedMailboxWrites>;

  constructor(client: DynamoDBDocumentClient, tableName: string) {
    this.store = loadOnce(async () => new (await import('./dynamodb-managed-subscriptions.js')).DynamoDbManagedSubscriptions(client, tableName));
  }

  async updateManaged(...args: Parameters<ManagedMailboxWrites['updateManaged']>): ReturnType<ManagedMailboxWrites['updateManaged']> {
    return (await this.store()).updateManaged(...args);
  }

  async rotateManagedSecrets(...args: Parameters<ManagedMailboxWrites['rotateManagedSecrets']>): ReturnType<ManagedMailboxWrites['rotateManagedSecrets']> {
    return (await this.store()).rotateManagedSecrets(...args);
  }

  async handBack(...args: Parameters<ManagedMailboxWrites['handBack']>): ReturnType<ManagedMailboxWrites['handBack']> {
    return (await this.store()).handBack(...args);
  }

  async releaseSubscription(...args: Parameters<ManagedMailboxWrites['releaseSubscription']>): ReturnType<ManagedMailboxWrites['releaseSubscription']> {
    return (await this.store()).releaseSubscription(...args);
  }
}
