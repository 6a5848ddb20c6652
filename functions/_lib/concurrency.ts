/**
 * Runs `fn` over the items with at most `limit` calls in flight, keeping results in input order. The first rejection
 * rejects the whole run (calls already started still finish). The one bounded pool of the repository: the DynamoDB
 * adapters, the simulator, the fault harness and the benchmarks all use it.
 */
export async function mapWithConcurrency<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    // After a rejection no worker starts another call: the run has failed, and its caller has been told.
    while (next < items.length && !failed) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T, index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
