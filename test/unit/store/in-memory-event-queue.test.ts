import { describe, expect, it } from 'vitest';
import { DependencyUnavailableError } from '../../../shared/errors.js';
import type { FlushHeldAlertsMessage, NewMailMessage, QueueMessage } from '../../../shared/queue/queue-messages.js';
import { InMemoryEventQueue } from '../../../shared/store/in-memory-event-queue.js';

const message = (eventKey: string): NewMailMessage => ({
  v: 1,
  type: 'new-mail',
  deviceId: 'dev-1',
  mailboxId: 'primary',
  receivedAt: 1_700_000_000_000,
  eventKeys: [eventKey],
});

describe('InMemoryEventQueue', () => {
  it('records accepted messages in order, as copies', async () => {
    const queue = new InMemoryEventQueue();
    const first = message('a');

    await queue.enqueue([first, message('b')]);
    first.eventKeys.push('mutated');
    const read = queue.messages[0];
    if (read?.type !== 'new-mail') throw new Error(`expected the new-mail message first, got ${read?.type}`);
    read.eventKeys.push('mutated too');
    queue.deliveries[1]!.message.deviceId = 'mutated as well';

    expect(queue.messages).toEqual([message('a'), message('b')]);
  });

  it('fails the next calls when told to, recording nothing for them', async () => {
    const queue = new InMemoryEventQueue();
    queue.failNext(2);

    await expect(queue.enqueue([message('a')])).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(queue.enqueue([message('b')])).rejects.toBeInstanceOf(DependencyUnavailableError);
    await queue.enqueue([message('c')]);

    expect(queue.messages).toEqual([message('c')]);
  });

  it('fails every call between failAlways() and restore()', async () => {
    const queue = new InMemoryEventQueue();
    queue.failAlways();

    await expect(queue.enqueue([message('a')])).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(queue.enqueue([message('b')])).rejects.toBeInstanceOf(DependencyUnavailableError);
    queue.restore();
    await queue.enqueue([message('c')]);

    expect(queue.messages).toEqual([message('c')]);
  });

  it('refuses a message that does not match the queue schema, accepting none of the batch', async () => {
    const queue = new InMemoryEventQueue();
    const invalid = { ...message('b'), eventKeys: [] } as QueueMessage;

    await expect(queue.enqueue([message('a'), invalid])).rejects.toThrow(/queue message 1 is invalid/);
    expect(queue.messages).toEqual([]);
  });

  it('records the delay of each message, 0 when none was asked for', async () => {
    const queue = new InMemoryEventQueue();
    const flush: FlushHeldAlertsMessage = { v: 1, type: 'flush-held-alerts', deviceId: 'dev-1', mailboxId: 'primary', heldSince: 1_700_000_000_000 };

    await queue.enqueue([message('a')]);
    await queue.enqueue([flush, message('b')], { delaySeconds: 900 });

    expect(queue.deliveries).toEqual([
      { message: message('a'), delaySeconds: 0 },
      { message: flush, delaySeconds: 900 },
      { message: message('b'), delaySeconds: 900 },
    ]);
    expect(queue.messages).toEqual([message('a'), flush, message('b')]);
  });

  it.each([-1, 901, 1.5, Number.NaN])('refuses delaySeconds %s as SQS would, accepting nothing', async (delaySeconds) => {
    const queue = new InMemoryEventQueue();

    await expect(queue.enqueue([message('a')], { delaySeconds })).rejects.toBeInstanceOf(RangeError);
    expect(queue.deliveries).toEqual([]);
  });

  it('hands over and forgets its messages on clear()', async () => {
    const queue = new InMemoryEventQueue();
    await queue.enqueue([message('a')]);

    expect(queue.clear()).toEqual([message('a')]);
    expect(queue.messages).toEqual([]);
  });
});
