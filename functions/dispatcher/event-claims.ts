import { createHash } from 'node:crypto';
import type { DispatcherDeps, DispatchRecord } from './deps.js';

/**
 * Who claims a record's idempotency keys: a hash of its body, not the SQS message id. A DLQ redrive sends the same body
 * under a new message id; keyed by message id, the redriven record would find its keys pending under the dead one and
 * drop the mail as a duplicate. An Exchange retry is a different body (another receivedAt), so it still finds the
 * keys taken.
 */
export function claimantOf(record: Pick<DispatchRecord, 'body'>): string {
  return createHash('sha256').update(record.body, 'utf8').digest('base64url');
}

/** Completes a record's claimed keys with its outcome; a failure is logged (the keys expire as pending claims). */
export async function completeKeys(
  input: { deviceId: string; record: Pick<DispatchRecord, 'body'>; keys: string[]; outcome: string },
  deps: Pick<DispatcherDeps, 'dedupe' | 'now' | 'logger'>,
): Promise<void> {
  try {
    await deps.dedupe.complete({ deviceId: input.deviceId, keys: input.keys, claimant: claimantOf(input.record), outcome: input.outcome, now: deps.now() });
  } catch (error) {
    deps.logger.error('could not complete event keys', { error: error as Error });
  }
}
