import { SQSClient, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { SqsEventQueue } from '../../../functions/_lib/adapters/sqs-event-queue.js';
import { DependencyUnavailableError } from '../../../shared/errors.js';
import type { QueueMessage } from '../../../shared/queue/queue-messages.js';

// SQS partial failures (a batch accepted in part) do not happen on fauxqs; a mocked client produces them.
const client = new SQSClient({ region: 'us-east-1' });
const mock = mockClient(client);
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/events';

const message = (i: number): QueueMessage => ({
  v: 1,
  type: 'new-mail',
  deviceId: 'dev-1',
  mailboxId: 'primary',
  receivedAt: 1_700_000_000_000 + i,
  eventKeys: [`key-${i}`],
});

afterEach(() => mock.reset());

const sentBodies = () =>
  mock.commandCalls(SendMessageBatchCommand).map((call) => (call.args[0].input.Entries ?? []).map((entry) => JSON.parse(entry.MessageBody ?? '')));

describe('SqsEventQueue', () => {
  it('sends batches of at most ten JSON bodies', async () => {
    mock.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const messages = Array.from({ length: 21 }, (_, i) => message(i));

    await new SqsEventQueue(client, QUEUE_URL).enqueue(messages);

    expect(sentBodies().map((batch) => batch.length)).toEqual([10, 10, 1]);
    expect(sentBodies().flat()).toEqual(messages);
    expect(mock.commandCalls(SendMessageBatchCommand)[0]?.args[0].input.QueueUrl).toBe(QUEUE_URL);
  });

  it('sends again only the entries SQS failed, and resolves once they are accepted', async () => {
    mock
      .on(SendMessageBatchCommand)
      .resolvesOnce({ Failed: [{ Id: '1', SenderFault: false, Code: 'InternalError' }], Successful: [] })
      .resolves({ Failed: [], Successful: [] });

    await new SqsEventQueue(client, QUEUE_URL, { retryDelayMs: 1 }).enqueue([message(0), message(1), message(2)]);

    expect(sentBodies()).toEqual([[message(0), message(1), message(2)], [message(1)]]);
  });

  it('throws DependencyUnavailableError when entries keep failing', async () => {
    mock.on(SendMessageBatchCommand).resolves({ Failed: [{ Id: '0', SenderFault: false, Code: 'InternalError' }], Successful: [] });

    await expect(new SqsEventQueue(client, QUEUE_URL, { retryDelayMs: 1, entryRetries: 2 }).enqueue([message(0)])).rejects.toBeInstanceOf(
      DependencyUnavailableError,
    );
    expect(mock.commandCalls(SendMessageBatchCommand)).toHaveLength(3);
  });

  it('does not resend an entry SQS refused as the sender’s fault', async () => {
    mock.on(SendMessageBatchCommand).resolves({ Failed: [{ Id: '0', SenderFault: true, Code: 'InvalidParameterValue' }], Successful: [] });

    await expect(new SqsEventQueue(client, QUEUE_URL, { retryDelayMs: 1 }).enqueue([message(0)])).rejects.toThrow(/InvalidParameterValue/);
    expect(mock.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
  });

  it('wraps a failed call in DependencyUnavailableError, keeping the cause', async () => {
    const cause = Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
    mock.on(SendMessageBatchCommand).rejects(cause);

    const error = await new SqsEventQueue(client, QUEUE_URL).enqueue([message(0)]).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error as Error).cause).toBe(cause);
  });

  it('sets DelaySeconds on every entry of every batch when asked to, and on none otherwise', async () => {
    mock.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const queue = new SqsEventQueue(client, QUEUE_URL);

    await queue.enqueue(Array.from({ length: 12 }, (_, i) => message(i)), { delaySeconds: 900 });
    await queue.enqueue([message(20)]);

    const entries = mock.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input.Entries ?? []);
    expect(entries.map((batch) => batch.map((entry) => entry.DelaySeconds))).toEqual([Array(10).fill(900), [900, 900], [undefined]]);
  });

  it.each([-1, 901, 2.5])('refuses delaySeconds %s before sending anything', async (delaySeconds) => {
    await expect(new SqsEventQueue(client, QUEUE_URL).enqueue([message(0)], { delaySeconds })).rejects.toBeInstanceOf(RangeError);

    expect(mock.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
  });

  it('sends nothing for an empty list', async () => {
    await new SqsEventQueue(client, QUEUE_URL).enqueue([]);

    expect(mock.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
  });
});
