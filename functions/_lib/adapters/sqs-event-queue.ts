import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import { DependencyUnavailableError } from '../../../shared/errors.js';
import { retry, retryTiming, type RetryTiming } from '../retry.js';
import { queueMessageSchema, type EventQueue, type QueueMessage } from '../../../shared/queue/queue-messages.js';

/** SendMessageBatch takes at most 10 entries. A new-mail message is at most ~14 KB, so 10 stay under 256 KiB. */
const BATCH_SIZE = 10;

/** SQS's limit for DelaySeconds (15 minutes). */
const MAX_DELAY_SECONDS = 900;

/** `random` and `sleep` (RetryTiming): the wait between tries of failed entries. */
export interface SqsEventQueueOptions extends Partial<RetryTiming> {
  /** Further tries of entries SQS reported as failed (default 2). Whole-call errors are retried by the SDK itself. */
  entryRetries?: number;
  /** Delay before the first retry of failed entries, doubled each time (default 50 ms). */
  retryDelayMs?: number;
}

/**
 * The event queue on SQS. `enqueue` resolves only when SQS accepted every message; otherwise it throws
 * DependencyUnavailableError, so that the callback answers 5xx and Exchange delivers the notification again.
 * Messages already accepted before a failure stay queued: consumers are idempotent through the dedupe keys.
 */
export class SqsEventQueue implements EventQueue {
  private readonly entryRetries: number;
  private readonly retryDelayMs: number;
  private readonly timing: RetryTiming;

  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
    options?: SqsEventQueueOptions,
  ) {
    this.entryRetries = options?.entryRetries ?? 2;
    this.retryDelayMs = options?.retryDelayMs ?? 50;
    this.timing = retryTiming(options);
  }

  async enqueue(messages: QueueMessage[], options?: { delaySeconds?: number }): Promise<void> {
    const delaySeconds = options?.delaySeconds;
    // Validate everything before sending anything: a malformed message is a bug, not a reason to queue half a body.
    if (delaySeconds !== undefined && !(Number.isInteger(delaySeconds) && delaySeconds >= 0 && delaySeconds <= MAX_DELAY_SECONDS)) {
      throw new RangeError(`delaySeconds must be an integer from 0 to ${MAX_DELAY_SECONDS}, got ${delaySeconds}`);
    }
    const bodies = messages.map((message, index) => {
      const parsed = queueMessageSchema.safeParse(message);
      if (!parsed.success) throw new TypeError(`queue message ${index} is invalid: ${parsed.error.message}`);
      return JSON.stringify(parsed.data);
    });
    for (let start = 0; start < bodies.length; start += BATCH_SIZE) {
      await this.sendBatch(bodies.slice(start, start + BATCH_SIZE), delaySeconds);
    }
  }

  private async sendBatch(bodies: string[], delaySeconds: number | undefined): Promise<void> {
    // Without a delay the entry carries none, so the queue's own DelaySeconds (0 here) applies.
    let pending: SendMessageBatchRequestEntry[] = bodies.map((body, index) => ({
      Id: String(index),
      MessageBody: body,
      ...(delaySeconds !== undefined ? { DelaySeconds: delaySeconds } : {}),
    }));
    const sendPending = async (): Promise<void> => {
      let failed: { Id?: string; SenderFault?: boolean; Code?: string }[];
      try {
        const result = await this.client.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: pending }));
        failed = result.Failed ?? [];
      } catch (error) {
        throw new DependencyUnavailableError('the event queue did not accept the messages', { cause: error });
      }
      if (failed.length === 0) return;
      const failedIds = new Set(failed.map((entry) => entry.Id));
      pending = pending.filter((entry) => failedIds.has(entry.Id));
      throw new UnacceptedEntries(failed);
    };
    try {
      await retry(sendPending, {
        attempts: this.entryRetries + 1,
        // A sender fault (malformed entry) fails again however often it is sent.
        retryable: (error) => error instanceof UnacceptedEntries && error.entries.every((entry) => !entry.SenderFault),
        delayMs: (attempt) => this.retryDelayMs * 2 ** (attempt - 1),
      }, this.timing);
    } catch (error) {
      if (!(error instanceof UnacceptedEntries)) throw error;
      const codes = [...new Set(error.entries.map((entry) => entry.Code ?? 'unknown'))].join(', ');
      throw new DependencyUnavailableError(`the event queue did not accept ${pending.length} messages (${codes})`);
    }
  }
}

/** Entries SQS reported as failed in one SendMessageBatch. */
class UnacceptedEntries extends Error {
  constructor(readonly entries: { Id?: string; SenderFault?: boolean; Code?: string }[]) {
    super(`SQS refused ${entries.length} entries`);
    this.name = 'UnacceptedEntries';
  }
}
