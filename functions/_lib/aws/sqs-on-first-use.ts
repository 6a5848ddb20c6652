import type { EventQueue } from '../../../shared/queue/queue-messages.js';
import { config } from '../config.js';
import { loadOnce } from '../load-once.js';

/**
 * The event queue of the functions that send to it only for organization mode's relay-managed work (the device API
 * and the org API: deletions, catch-ups, hand-back pushes): the SQS client and adapter are loaded with the first
 * message, so a cold start does not import them (issue 15). EVENT_QUEUE_URL is still read here, at cold start, so a
 * deployment without it fails to start as before.
 */
export function eventQueueOnFirstUse(): EventQueue {
  config.eventQueueUrl();
  const queue = loadOnce(async () => (await import('./sqs.js')).lambdaEventQueue());
  return { enqueue: async (messages, options) => (await queue()).enqueue(messages, options) };
}
