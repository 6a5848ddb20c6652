import { describe, expect, it } from 'vitest';
import { exponentialBackoff, retry, type RetryPolicy } from '../../functions/_lib/retry.js';

class Transient extends Error {}

describe('retry', () => {
  const waits: number[] = [];
  const timing = { random: () => 0.5, sleep: async (ms: number) => void waits.push(ms) };
  const policy = (overrides: Partial<RetryPolicy> = {}): RetryPolicy => ({
    attempts: 3,
    retryable: (error) => error instanceof Transient,
    delayMs: exponentialBackoff({ baseMs: 100, maxMs: 150 }),
    ...overrides,
  });

  it('tries again after a retryable failure, waiting the full-jitter delay, and resolves with the first success', async () => {
    waits.length = 0;
    const seen: number[] = [];
    const value = await retry(async (attempt) => {
      seen.push(attempt);
      if (attempt < 3) throw new Transient();
      return 'done';
    }, policy(), timing);
    expect(value).toBe('done');
    expect(seen).toEqual([1, 2, 3]);
    // 0.5 * min(150, 100), then 0.5 * min(150, 200): the ceiling doubles and is capped.
    expect(waits).toEqual([50, 75]);
  });

  it('rethrows the last error as it was once the attempts are spent', async () => {
    const last = new Transient('third');
    let calls = 0;
    await expect(retry(async () => { calls++; throw calls === 3 ? last : new Transient(); }, policy(), timing)).rejects.toBe(last);
    expect(calls).toBe(3);
  });

  it('rethrows an error that is not retryable at once', async () => {
    let calls = 0;
    const fatal = new TypeError('bug');
    await expect(retry(async () => { calls++; throw fatal; }, policy(), timing)).rejects.toBe(fatal);
    expect(calls).toBe(1);
  });

  it('gives up early when the delay says undefined, and reports each wait before it', async () => {
    const retries: number[] = [];
    let calls = 0;
    await expect(
      retry(async () => { calls++; throw new Transient(); }, policy({ delayMs: (attempt) => (attempt < 2 ? 10 : undefined), onRetry: ({ attempt }) => retries.push(attempt) }), timing),
    ).rejects.toBeInstanceOf(Transient);
    expect(calls).toBe(2);
    expect(retries).toEqual([1]);
  });
});
