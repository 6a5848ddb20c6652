import { describe, expect, it } from 'vitest';
import { DependencyUnavailableError } from '../../../shared/errors.js';
import type { QueueMessage } from '../../../shared/queue/queue-messages.js';
import { InMemoryEventQueue } from '../../../shared/store/in-memory-event-queue.js';

const message = (eventKey: string): QueueMessage => ({
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
    queue.messages[0]!.eventKeys.push('mutated too');

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

  it('hands over and forgets its messages on clear()', async () => {
    const queue = new InMemoryEventQueue();
    await queue.enqueue([message('a')]);

    expect(queue.clear()).toEqual([message('a')]);
    expect(queue.messages).toEqual([]);
  });
});
