import { DEFAULT_ALERT_BUDGET, DEFAULT_DEDUPE_TTL_SECONDS, type DispatcherDeps } from '../../functions/dispatcher/deps.js';
import { InMemoryEventQueue } from '../../shared/store/in-memory-event-queue.js';
import { InMemorySettlementLog } from '../../shared/store/in-memory-settlement-log.js';
import type { InMemoryStores } from '../../shared/store/in-memory-stores.js';
import { RecordingCounter, RecordingLogger, RecordingPushGateway } from './fakes.js';

/**
 * The dispatcher's deps over the in-memory stores, as the use-case tests need them: recording push gateway, logger
 * and counter, a fresh in-memory queue, the production alert budget and dedupe TTL, and 3 receives before the DLQ.
 * Pass what a test wants to see or to change (its own push gateway, queue, clock, budget, organization, ...),
 * and the deps of a use case that needs more than the dispatcher's (catch-up's `inbox`, ...).
 */
export function inMemoryDispatcherDeps<Extra extends object = object>(stores: InMemoryStores, overrides: Partial<DispatcherDeps> & Extra = {} as Extra): DispatcherDeps & Extra {
  const dedupe = overrides.dedupe ?? stores.dedupe;
  const decisions = overrides.decisions ?? stores.decisions;
  return {
    ...stores.ports,
    dedupe,
    decisions,
    // Over the dedupe store and decision log in use, so that a test's wrapper around either sees settlements too.
    settlements: new InMemorySettlementLog(dedupe, decisions, overrides.now ?? Date.now),
    push: new RecordingPushGateway(),
    now: Date.now,
    logger: new RecordingLogger(),
    counter: new RecordingCounter(),
    maxReceiveCount: 3,
    dedupeTtlSeconds: DEFAULT_DEDUPE_TTL_SECONDS,
    queue: new InMemoryEventQueue(),
    alertBudget: DEFAULT_ALERT_BUDGET,
    ...overrides,
  };
}
