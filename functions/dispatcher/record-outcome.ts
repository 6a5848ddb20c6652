import type { DecisionOutcome } from '../../shared/device/device-schemas.js';
import type { DecisionLog, SettlementLog } from '../../shared/store/ports.js';
import type { OutcomeCounter, UseCaseLogger } from '../_lib/powertools.js';

/** Why one notification (or one held burst) was or was not pushed. */
export interface Outcome {
  deviceId: string;
  mailbox: string;
  /** When the notification arrived (ms): the decision log's `at`. */
  at: number;
  outcome: DecisionOutcome;
  reason: string;
}

/**
 * The one place a dispatch outcome is taken down: an `Outcome-<outcome>` count (the metric the push failure alarm
 * and the dashboards read) and the decision the device can list (contract section 3), always together, one each per
 * notification. A failing decision write is logged, not thrown: the push (or the decision not to push) already
 * happened, and failing the record would only risk a duplicate.
 */
export async function recordOutcome(
  outcome: Outcome,
  deps: { decisions: DecisionLog; counter: OutcomeCounter; logger: UseCaseLogger },
): Promise<void> {
  deps.counter.count(`Outcome-${outcome.outcome}`);
  const { deviceId, ...decision } = outcome;
  try {
    await deps.decisions.record(deviceId, { ...decision, at: new Date(decision.at).toISOString() });
  } catch (error) {
    deps.logger.error('could not record a decision', { error: error as Error, outcome: decision.outcome });
  }
}

/** A record whose claimed keys are settled with its outcome. */
export interface SettledRecord {
  outcome: Outcome;
  keys: string[];
  claimant: string;
  /** When the keys' claims expire, as claimed. */
  expiresAt: number;
}

/**
 * `recordOutcome` for records whose keys this invocation claimed: the keys completed with the outcome and the
 * decisions recorded in one write where the store can (`SettlementLog`: one request on the table instead of two per
 * record). Counted as recordOutcome counts; a failing write is logged, not thrown, for the same reason: the keys then
 * expire as pending claims.
 */
export async function settleOutcomes(
  settled: SettledRecord[],
  deps: { settlements: SettlementLog; counter: OutcomeCounter; logger: UseCaseLogger },
): Promise<void> {
  if (settled.length === 0) return;
  for (const { outcome } of settled) deps.counter.count(`Outcome-${outcome.outcome}`);
  try {
    await deps.settlements.settle(
      settled.map(({ outcome: { deviceId, ...decision }, keys, claimant, expiresAt }) => ({
        deviceId,
        keys,
        claimant,
        outcome: decision.outcome,
        expiresAt,
        decision: { ...decision, at: new Date(decision.at).toISOString() },
      })),
    );
  } catch (error) {
    deps.logger.error('could not complete event keys and record their decisions', { error: error as Error, records: settled.length });
  }
}
