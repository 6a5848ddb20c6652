import type { ClaimResult, DedupeStore } from './ports.js';
import { InMemoryStoreState } from './in-memory-store-state.js';

/**
 * DedupeStore in memory, for unit tests. Same rules as DynamoDbDedupeStore: a key is free when absent or when its
 * `expiresAt` lies before `now`; a claimant may re-claim its own pending key; a done key is nobody's to take until
 * it expires.
 */
export class InMemoryDedupeStore implements DedupeStore {
  private readonly state: InMemoryStoreState;

  constructor(options?: { state?: InMemoryStoreState }) {
    this.state = options?.state ?? new InMemoryStoreState();
  }

  async claim(input: {
    deviceId: string;
    keys: string[];
    claimant: string;
    now: number;
    ttlSeconds: number;
  }): Promise<Map<string, ClaimResult>> {
    let entries = this.state.dedupe.get(input.deviceId);
    if (!entries) {
      entries = new Map();
      this.state.dedupe.set(input.deviceId, entries);
    }
    const results = new Map<string, ClaimResult>();
    for (const key of input.keys) {
      const entry = entries.get(key);
      const free =
        !entry || entry.expiresAt < input.now || (entry.claimant === input.claimant && entry.state === 'pending');
      if (free) {
        entries.set(key, { claimant: input.claimant, state: 'pending', expiresAt: input.now + input.ttlSeconds * 1000 });
      }
      results.set(key, free ? 'claimed' : 'duplicate');
    }
    return results;
  }

  async complete(input: { deviceId: string; keys: string[]; claimant: string; outcome: string; now: number }): Promise<void> {
    const entries = this.state.dedupe.get(input.deviceId);
    for (const key of input.keys) {
      const entry = entries?.get(key);
      if (entry && entry.claimant === input.claimant) {
        entry.state = 'done';
        entry.outcome = input.outcome;
      }
    }
  }
}
