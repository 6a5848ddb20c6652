import type { DecisionLog, DedupeStore, Settlement, SettlementLog } from './ports.js';

/** SettlementLog over a DedupeStore and a DecisionLog: each settlement's keys completed, then its decision recorded. */
export class InMemorySettlementLog implements SettlementLog {
  constructor(
    private readonly dedupe: Pick<DedupeStore, 'complete'>,
    private readonly decisions: Pick<DecisionLog, 'record'>,
    private readonly now: () => number = Date.now,
  ) {}

  async settle(settlements: Settlement[]): Promise<void> {
    for (const { deviceId, keys, claimant, outcome, decision } of settlements) {
      await this.dedupe.complete({ deviceId, keys, claimant, outcome, now: this.now() });
      await this.decisions.record(deviceId, decision);
    }
  }
}
