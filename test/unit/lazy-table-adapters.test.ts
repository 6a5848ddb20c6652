import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * The table and queue adapters the device API and org API load on first use (issue 15): the relay-managed writes
 * (LazyManagedSubscriptions) and the event queue (eventQueueOnFirstUse). The real modules are replaced by recording
 * stand-ins, so that what is checked is the wrapping: nothing loaded before the first call, every call reaching the
 * real adapter with its arguments and answer, one load for all calls.
 */
const built: Array<{ client: unknown; tableName: string }> = [];
const calls: unknown[][] = [];
vi.mock('../../functions/_lib/adapters/dynamodb-managed-subscriptions.js', () => ({
  DynamoDbManagedSubscriptions: class {
    constructor(client: unknown, tableName: string) {
      built.push({ client, tableName });
    }
    async updateManaged(...args: unknown[]) {
      calls.push(['updateManaged', ...args]);
      return true;
    }
    async rotateManagedSecrets(...args: unknown[]) {
      calls.push(['rotateManagedSecrets', ...args]);
      return false;
    }
    async handBack(...args: unknown[]) {
      calls.push(['handBack', ...args]);
      return { deviceId: 'd', mailboxId: 'm', callbackKey: 'k', protocol: 'graph' };
    }
    async releaseSubscription(...args: unknown[]) {
      calls.push(['releaseSubscription', ...args]);
      return undefined;
    }
  },
}));
const queues: number[] = [];
const enqueued: unknown[][] = [];
vi.mock('../../functions/_lib/aws/sqs.js', () => ({
  lambdaEventQueue: () => {
    queues.push(queues.length);
    return { enqueue: async (...args: unknown[]) => void enqueued.push(args) };
  },
}));

const { LazyManagedSubscriptions } = await import('../../functions/_lib/adapters/lazy-managed-subscriptions.js');
const { eventQueueOnFirstUse } = await import('../../functions/_lib/aws/sqs-on-first-use.js');

describe('table and queue adapters loaded on first use', () => {
  beforeEach(() => {
    built.length = 0;
    calls.length = 0;
  });

  it('builds the relay-managed writes with the first call and passes every call through', async () => {
    const client = {} as DynamoDBDocumentClient;
    const managed = new LazyManagedSubscriptions(client, 'relay-table');
    expect(built).toEqual([]);
    expect(await managed.updateManaged('d', 'm', { dueAt: 1 })).toBe(true);
    expect(await managed.rotateManagedSecrets('d', 'm', { callbackKey: 'k', clientStateHash: 'h', subscribingSince: 2 })).toBe(false);
    expect(await managed.handBack('d', 'm', { dueAt: 3, clearManagedBy: true })).toMatchObject({ protocol: 'graph' });
    expect(await managed.releaseSubscription('d', 'm', { dueAt: 4 })).toBeUndefined();
    expect(built).toEqual([{ client, tableName: 'relay-table' }]);
    expect(calls).toEqual([
      ['updateManaged', 'd', 'm', { dueAt: 1 }],
      ['rotateManagedSecrets', 'd', 'm', { callbackKey: 'k', clientStateHash: 'h', subscribingSince: 2 }],
      ['handBack', 'd', 'm', { dueAt: 3, clearManagedBy: true }],
      ['releaseSubscription', 'd', 'm', { dueAt: 4 }],
    ]);
  });

  it('reads EVENT_QUEUE_URL at once, so a deployment without it still fails to start, and loads the queue with the first message', async () => {
    const saved = process.env.EVENT_QUEUE_URL;
    try {
      delete process.env.EVENT_QUEUE_URL;
      expect(() => eventQueueOnFirstUse()).toThrow(/EVENT_QUEUE_URL/);
      process.env.EVENT_QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/000000000000/events';
      const queue = eventQueueOnFirstUse();
      expect(queues).toEqual([]);
      const message = { v: 1, type: 'flush-held-alerts', deviceId: 'd', mailboxId: 'm', heldSince: 1 } as const;
      await queue.enqueue([message], { delaySeconds: 5 });
      await queue.enqueue([message]);
      expect(queues).toEqual([0]);
      expect(enqueued).toEqual([[[message], { delaySeconds: 5 }], [[message], undefined]]);
    } finally {
      if (saved === undefined) delete process.env.EVENT_QUEUE_URL;
      else process.env.EVENT_QUEUE_URL = saved;
    }
  });
});
