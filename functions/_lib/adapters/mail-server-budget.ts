import { MailServerError } from '../../../shared/org/ports.js';

/**
 * A time budget for one mail-server operation, retries included (contract section 8: a fetch that takes over 3 s is
 * judged as failed). Retried: throttling (429, ErrorServerBusy), 5xx and connection failures, when the wait the server
 * asked for (or a short backoff) plus a useful attempt still fit in what is left. A timeout is not retried: it has
 * spent the budget.
 */
export const DEFAULT_MAIL_SERVER_BUDGET_MS = 3_000;
/** Below this, a new attempt could not complete a TLS handshake and an answer; give up instead. */
const MIN_ATTEMPT_MS = 250;
const MAX_ATTEMPTS = 3;
const BACKOFF_MS = [100, 300];

const RETRYABLE = new Set(['throttled', 'server-error', 'unreachable']);

export interface Clock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

export const systemClock: Clock = { now: Date.now, sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };

/** Runs `attempt(timeoutMs)` until it succeeds, fails for good, or the budget (from now) runs out. */
export async function withinBudget<T>(budgetMs: number, attempt: (timeoutMs: number) => Promise<T>, clock: Clock = systemClock): Promise<T> {
  const deadline = clock.now() + budgetMs;
  for (let attemptNumber = 1; ; attemptNumber++) {
    try {
      return await attempt(deadline - clock.now());
    } catch (error) {
      if (!(error instanceof MailServerError)) throw new MailServerError('server-error', 'unexpected', { cause: error });
      if (!RETRYABLE.has(error.kind) || attemptNumber >= MAX_ATTEMPTS) throw error;
      const wait = error.retryAfterMs ?? BACKOFF_MS[attemptNumber - 1] ?? 300;
      if (clock.now() + wait + MIN_ATTEMPT_MS > deadline) throw error;
      await clock.sleep(wait);
    }
  }
}
