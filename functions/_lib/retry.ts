/**
 * The one retry loop of the runtime: the APNs and SNS gateways, the SQS event queue, the DynamoDB batch and mailbox
 * writes, a re-applied PATCH and a mail-server fetch all retry through `retry()`. Each says which failures are worth
 * another try, how many tries it has and how long to wait; the loop, the attempt count and the waiting are here.
 *
 * Time and randomness come in the same way everywhere, as a `RetryTiming` (`random` for the jitter, `sleep` for the
 * wait), so a test passes `{ random: () => 0.5, sleep: async () => {} }` to any of them instead of waiting.
 */

export interface RetryTiming {
  /** Uniform in [0, 1): the jitter of the backoff. */
  random: () => number;
  /** Waits between attempts. */
  sleep: (ms: number) => Promise<void>;
}

export const realTiming: RetryTiming = {
  random: Math.random,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** The real timing with whatever a caller (a test) replaces. */
export function retryTiming(overrides?: Partial<RetryTiming>): RetryTiming {
  return { random: overrides?.random ?? realTiming.random, sleep: overrides?.sleep ?? realTiming.sleep };
}

export interface RetryPolicy {
  /** Tries in all, the first one included (at least 1). */
  attempts: number;
  /** Whether a thrown error is worth another try; anything else is rethrown at once. */
  retryable: (error: unknown) => boolean;
  /**
   * The wait after failed attempt `attempt` (1-based), in ms. `exponentialBackoff()` for the usual full jitter. Throw
   * the error from here (or return `undefined`) to give up early, e.g. when the wait would overrun a deadline.
   */
  delayMs: (attempt: number, random: () => number, error: unknown) => number | undefined;
  /** Called before each wait (logging). */
  onRetry?: (retry: { attempt: number; delayMs: number; error: unknown }) => void;
}

/**
 * Runs `operation(attempt)` until it resolves, throws something not retryable, or has used `attempts` tries; the
 * last error is rethrown as it was, so callers map it to their own error in one place.
 */
export async function retry<T>(operation: (attempt: number) => Promise<T>, policy: RetryPolicy, timing: RetryTiming): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt >= policy.attempts || !policy.retryable(error)) throw error;
      const delayMs = policy.delayMs(attempt, timing.random, error);
      if (delayMs === undefined) throw error;
      policy.onRetry?.({ attempt, delayMs, error });
      await timing.sleep(delayMs);
    }
  }
}

/**
 * Full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog): uniform in [0, min(maxMs, baseMs * 2^(attempt-1))),
 * so that callers that collided once do not retry in lockstep.
 */
export function exponentialBackoff(options: { baseMs: number; maxMs?: number }): (attempt: number, random: () => number) => number {
  return (attempt, random) => Math.floor(random() * Math.min(options.maxMs ?? Infinity, options.baseMs * 2 ** (attempt - 1)));
}
