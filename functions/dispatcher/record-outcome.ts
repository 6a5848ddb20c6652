import type { DecisionOutcome } from '../../shared/device/device-schemas.js';
import type { DecisionLog } from '../../shared/store/ports.js';
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
