/**
 * At most `limit` requests in flight per key (a Graph tenant, an EWS server), the rest waiting their turn in order.
 * Graph throttles per app and tenant (and Outlook per mailbox: 4 concurrent requests), so a sweep that renews
 * thousands of subscriptions of one tenant must not open thousands of requests at once; other tenants are not held up
 * by a busy one. Module scope per container, like the token cache.
 */
export class KeyedConcurrencyLimit {
  private readonly running = new Map<string, number>();
  private readonly waiting = new Map<string, Array<() => void>>();

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('the concurrency limit must be a positive integer');
  }

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    if ((this.running.get(key) ?? 0) >= this.limit) {
      await new Promise<void>((resolve) => {
        const queue = this.waiting.get(key) ?? [];
        queue.push(resolve);
        this.waiting.set(key, queue);
      });
    } else {
      this.running.set(key, (this.running.get(key) ?? 0) + 1);
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.get(key)?.shift();
      if (next) {
        // The slot passes straight to the next waiter: the running count stays as it is.
        next();
      } else {
        this.waiting.delete(key);
        const count = (this.running.get(key) ?? 1) - 1;
        if (count === 0) this.running.delete(key);
        else this.running.set(key, count);
      }
    }
  }

  /** Requests in flight for `key` (for tests and the bench). */
  inFlight(key: string): number {
    return this.running.get(key) ?? 0;
  }
}
