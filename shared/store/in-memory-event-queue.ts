import { DependencyUnavailableError } from '../errors.js';
import { queueMessageSchema, type EventQueue, type QueueMessage } from '../queue/queue-messages.js';
import { copy } from './in-memory-store-state.js';

/**
 * EventQueue in memory, for unit tests: validates like SqsEventQueue, records what was accepted, and can be told to
 * refuse work the way an unavailable queue does (DependencyUnavailableError, nothing recorded).
 */
export class InMemoryEventQueue implements EventQueue {
  private readonly accepted: QueueMessage[] = [];
  private failuresLeft = 0;
  private failingUntilRestored = false;

  /** Copies of every accepted message, in order. */
  get messages(): QueueMessage[] {
    return copy(this.accepted);
  }

  /** The next `times` enqueue calls fail with DependencyUnavailableError. */
  failNext(times = 1): void {
    this.failuresLeft += times;
  }

  /** Every enqueue fails until `restore()`. */
  failAlways(): void {
    this.failingUntilRestored = true;
  }

  /** Ends `failAlways()` and any pending `failNext()` failures. */
  restore(): void {
    this.failingUntilRestored = false;
    this.failuresLeft = 0;
  }

  /** Forgets the accepted messages (a consumer took them). */
  clear(): QueueMessage[] {
    return this.accepted.splice(0, this.accepted.length);
  }

  async enqueue(messages: QueueMessage[]): Promise<void> {
    const parsed = messages.map((message, index) => {
      const result = queueMessageSchema.safeParse(message);
      if (!result.success) throw new TypeError(`queue message ${index} is invalid: ${result.error.message}`);
      return result.data;
    });
    if (this.failingUntilRestored || this.failuresLeft > 0) {
      if (this.failuresLeft > 0) this.failuresLeft--;
      throw new DependencyUnavailableError('the event queue did not accept the messages (simulated)');
    }
    this.accepted.push(...copy(parsed));
  }
}
