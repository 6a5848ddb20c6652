import { MailServerError } from '../../../shared/org/ports.js';
import { realTiming, retry, type RetryTiming } from '../retry.js';

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

/** The wall clock and the wait between attempts (RetryTiming's `sleep`); tests inject both. */
export interface Clock extends Pick<RetryTiming, 'sleep'> {
  now: () => number;
}

export const systemClock: Clock = { now: Date.now, sleep: realTiming.sleep };

/** Runs `attempt(timeoutMs)` until it succeeds, fails for good, or the budget (from now) runs out. */
export async function withinBudget<T>(budgetMs: number, attempt: (timeoutMs: number) => Promise<T>, clock: Clock = systemClock): Promise<T> {
  const deadline = clock.now() + budgetMs;
  try {
    return await retry(
      () => attempt(deadline - clock.now()),
      {
        attempts: MAX_ATTEMPTS,
        retryable: (error) => error instanceof MailServerError && RETRYABLE.has(error.kind),
        delayMs: (attemptNumber, _random, error) => {
          const wait = (error as MailServerError).retryAfterMs ?? BACKOFF_MS[attemptNumber - 1] ?? 300;
          // No wait that leaves too little of the budget for a useful attempt: give up with this error instead.
          return clock.now() + wait + MIN_ATTEMPT_MS > deadline ? undefined : wait;
        },
      },
      { random: realTiming.random, sleep: clock.sleep },
    );
  } catch (error) {
    if (!(error instanceof MailServerError)) throw new MailServerError('server-error', 'unexpected', { cause: error });
    throw error;
  }
}
