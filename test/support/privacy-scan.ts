import type { EventQueue, QueueMessage } from '../../shared/queue/queue-messages.js';

/**
 * What the privacy scans (test/security/log-scan.test.ts, test/e2e/organization-mode.test.ts) look through: everything
 * the process writes to stdout and stderr while the stack runs, and every message the event queue accepted.
 */

/** Captures stdout and stderr into `captured` until `restore()`. */
export function captureProcessOutput(captured: string[] = []): { captured: string[]; restore: () => void } {
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const capture = (chunk: unknown) => {
    captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
  return {
    captured,
    restore: () => {
      process.stdout.write = out;
      process.stderr.write = err;
    },
  };
}

/** For `wrapEventQueue`: the queue as it is, each message it accepted also added to `queued`. */
export function recordingAccepted(queued: QueueMessage[]): (queue: EventQueue) => EventQueue {
  return (queue) => ({
    enqueue: async (messages: QueueMessage[], ...rest: unknown[]) => {
      await (queue.enqueue as (m: QueueMessage[], ...r: unknown[]) => Promise<void>)(messages, ...rest);
      queued.push(...messages);
    },
  });
}
