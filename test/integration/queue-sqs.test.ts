import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { CreateQueueCommand, DeleteQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients, destroyAwsClients } from '../../functions/_lib/adapters/aws-clients.js';
import { SqsEventQueue } from '../../functions/_lib/adapters/sqs-event-queue.js';
import { DependencyUnavailableError } from '../../shared/errors.js';
import { queueMessageSchema, type FlushHeldAlertsMessage, type NewMailMessage, type QueueMessage } from '../../shared/queue/queue-messages.js';
import { withLocalBackends, type LocalBackendsHarness } from '../support/local-backends.js';

let local: LocalBackendsHarness;
beforeAll(async () => {
  local = await withLocalBackends();
});
afterAll(() => local?.stop());

const message = (i: number): NewMailMessage => ({
  v: 1,
  type: 'new-mail',
  deviceId: `dev-${i}`,
  mailboxId: 'primary',
  receivedAt: 1_700_000_000_000 + i,
  eventKeys: [`key-${i}-a`, `key-${i}-b`],
});

async function receiveAll(queueUrl: string, expected: number): Promise<QueueMessage[]> {
  const received: QueueMessage[] = [];
  // Bounded: a missing message fails the assertion below instead of hanging the test.
  for (let round = 0; round < 20 && received.length < expected; round++) {
    const { Messages: messages = [] } = await local.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60 }),
    );
    received.push(...messages.map((m) => queueMessageSchema.parse(JSON.parse(m.Body ?? ''))));
  }
  return received;
}

describe('SqsEventQueue on fauxqs', () => {
  it('puts every message on the event queue as its JSON body, more than one batch of ten', async () => {
    const queue = new SqsEventQueue(local.clients.sqs, local.backends.eventQueueUrl);
    const messages = Array.from({ length: 23 }, (_, i) => message(i));

    await queue.enqueue(messages);

    const received = await receiveAll(local.backends.eventQueueUrl, 23);
    const newMail = received.filter((m): m is NewMailMessage => m.type === 'new-mail');
    expect(newMail).toHaveLength(received.length);
    expect(newMail.sort((a, b) => a.receivedAt - b.receivedAt)).toEqual(messages);
  });

  it('holds a delayed message back for its delay, then delivers it', async () => {
    const { QueueUrl: queueUrl } = await local.clients.sqs.send(new CreateQueueCommand({ QueueName: 'delayed' }));
    const flush: FlushHeldAlertsMessage = { v: 1, type: 'flush-held-alerts', deviceId: 'dev-1', mailboxId: 'primary', heldSince: 1_700_000_000_000 };
    const receive = (waitSeconds: number) =>
      local.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl!, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds }));
    const sentAt = Date.now();

    await new SqsEventQueue(local.clients.sqs, queueUrl!).enqueue([flush], { delaySeconds: 2 });

    expect((await receive(0)).Messages ?? []).toEqual([]);
    const { Messages: later = [] } = await receive(5);
    expect(later.map((m) => queueMessageSchema.parse(JSON.parse(m.Body ?? '')))).toEqual([flush]);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(1_900);
  });

  it('refuses a message that does not match the schema and sends none of the call', async () => {
    const { QueueUrl: queueUrl } = await local.clients.sqs.send(new CreateQueueCommand({ QueueName: 'invalid-input' }));
    const queue = new SqsEventQueue(local.clients.sqs, queueUrl!);
    const invalid = { ...message(2), eventKeys: [] } as QueueMessage;

    await expect(queue.enqueue([message(1), invalid])).rejects.toThrow(/queue message 1 is invalid/);

    const { Messages: left = [] } = await local.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl!, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    expect(left).toEqual([]);
  });

  it('throws DependencyUnavailableError when the queue no longer exists', async () => {
    const { QueueUrl: queueUrl } = await local.clients.sqs.send(new CreateQueueCommand({ QueueName: 'deleted-soon' }));
    await local.clients.sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl! }));

    const error = await new SqsEventQueue(local.clients.sqs, queueUrl!).enqueue([message(1)]).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error as Error).cause).toMatchObject({ name: 'QueueDoesNotExist' });
  });

  it('throws DependencyUnavailableError when SQS cannot be reached', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const clients = createAwsClients({ region: 'us-east-1', endpoint: `http://127.0.0.1:${closedPort}`, maxAttempts: 1 });
    try {
      const queue = new SqsEventQueue(clients.sqs, `http://127.0.0.1:${closedPort}/000000000000/gone`);

      await expect(queue.enqueue([message(1)])).rejects.toBeInstanceOf(DependencyUnavailableError);
    } finally {
      destroyAwsClients(clients);
    }
  });
});
