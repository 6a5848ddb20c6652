/**
 * Runs `fn` over the items with at most `limit` calls in flight, keeping results in input order. The first rejection
 * rejects the whole run (calls already started still finish). The one bounded pool of the repository: the DynamoDB
 * adapters, the simulator, the fault harness and the benchmarks all use it.
 */
export async function mapWithConcurrency<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
