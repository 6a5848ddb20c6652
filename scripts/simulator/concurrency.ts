import { mapWithConcurrency } from '../../functions/_lib/concurrency.js';
import { realTiming } from '../../functions/_lib/retry.js';

/**
 * The bounded pool and the wait of the simulator, the fault harness and the benchmarks: the relay's own (one of each in
 * the repository). The relay and the played Exchange share one machine with the simulator; unbounded fan-out would
 * measure the scheduler, not the relay.
 */
export { mapWithConcurrency };

export const sleep = realTiming.sleep;
