import { decisionSchema, type Decision } from '../device/device-schemas.js';
import { DECISION_RETENTION_MS, type DecisionLog } from './ports.js';
import { InMemoryStoreState, copy } from './in-memory-store-state.js';

/**
 * DecisionLog in memory, for unit tests. Same rules as DynamoDbDecisionLog: only the decision's schema fields are
 * kept, newest first, and a decision older than 7 days (by the injected clock) is gone.
 */
export class InMemoryDecisionLog implements DecisionLog {
  private readonly state: InMemoryStoreState;
  private readonly now: () => number;

  constructor(options?: { state?: InMemoryStoreState; now?: () => number }) {
    this.state = options?.state ?? new InMemoryStoreState();
    this.now = options?.now ?? Date.now;
  }

  async record(deviceId: string, decision: Decision): Promise<void> {
    const parsed = decisionSchema.parse(decision);
    const atMs = Date.parse(parsed.at);
    if (Number.isNaN(atMs)) throw new RangeError(`decision time is not a date: ${parsed.at}`);
    let entries = this.state.decisions.get(deviceId);
    if (!entries) {
      entries = [];
      this.state.decisions.set(deviceId, entries);
    }
    entries.push({
      decision: copy(parsed),
      atMs,
      // The table's TTL is whole seconds, rounded up.
      expiresAtMs: Math.ceil((atMs + DECISION_RETENTION_MS) / 1000) * 1000,
      sequence: this.state.takeSequence(),
    });
  }

  async list(deviceId: string, since: number, limit = Number.POSITIVE_INFINITY): Promise<Decision[]> {
    if (limit <= 0) return [];
    const now = this.now();
    return (this.state.decisions.get(deviceId) ?? [])
      .filter((entry) => entry.atMs >= since && entry.expiresAtMs >= now)
      .sort((a, b) => b.atMs - a.atMs || b.sequence - a.sequence)
      .slice(0, limit)
      .map((entry) => copy(entry.decision));
  }
}
