import { DependencyUnavailableError } from '../errors.js';
import { queueMessageSchema, type EventQueue, type QueueMessage } from '../queue/queue-messages.js';
import { copy } from './in-memory-store-state.js';

/** An accepted message and the delay it was sent with (0 when none was asked for). */
export interface InMemoryDelivery {
  message: QueueMessage;
  delaySeconds: number;
}

/** SQS's limit for DelaySeconds (15 minutes). */
const MAX_DELAY_SECONDS = 900;

/**
 * EventQueue in memory, for unit tests: validates like SqsEventQueue (messages and delay), records what was
 * accepted with its delay, and can be told to refuse work the way an unavailable queue does
 * (DependencyUnavailableError, nothing recorded). It does not hold delayed messages back: tests that care read
 * `deliveries` and decide when to hand them over.
 */
export class InMemoryEventQueue implements EventQueue {
  private readonly accepted: InMemoryDelivery[] = [];
  private failuresLeft = 0;
  private failingUntilRestored = false;

  /** Copies of every accepted message, in order. */
  get messages(): QueueMessage[] {
    return copy(this.accepted.map((delivery) => delivery.message));
  }

  /** Copies of every accepted message with its delay, in order. */
  get deliveries(): InMemoryDelivery[] {
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

  /** Forgets the accepted messages (a consumer took them) and returns them. */
  clear(): QueueMessage[] {
    return this.accepted.splice(0, this.accepted.length).map((delivery) => delivery.message);
  }

  async enqueue(messages: QueueMessage[], options?: { delaySeconds?: number }): Promise<void> {
    const delaySeconds = options?.delaySeconds ?? 0;
    if (!(Number.isInteger(delaySeconds) && delaySeconds >= 0 && delaySeconds <= MAX_DELAY_SECONDS)) {
      throw new RangeError(`delaySeconds must be an integer from 0 to ${MAX_DELAY_SECONDS}, got ${delaySeconds}`);
    }
    const parsed = messages.map((message, index) => {
      const result = queueMessageSchema.safeParse(message);
      if (!result.success) throw new TypeError(`queue message ${index} is invalid: ${result.error.message}`);
      return result.data;
    });
    if (this.failingUntilRestored || this.failuresLeft > 0) {
      if (this.failuresLeft > 0) this.failuresLeft--;
      throw new DependencyUnavailableError('the event queue did not accept the messages (simulated)');
    }
    this.accepted.push(...copy(parsed).map((message) => ({ message, delaySeconds })));
  }
}
