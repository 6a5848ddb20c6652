import { beforeEach, describe, expect, it } from 'vitest';
import type { DispatcherDeps } from '../../functions/dispatcher/deps.js';
import { dispatchQueueRecords, type QueueRecord } from '../../functions/dispatcher/edge.js';
import { hashSecret } from '../../functions/_lib/device-secrets.js';
import { RetryableDeliveryError } from '../../shared/errors.js';
import type { NewMailMessage } from '../../shared/queue/queue-messages.js';
import { createInMemoryStores, type InMemoryStores } from '../../shared/store/in-memory-stores.js';
import { inMemoryDispatcherDeps } from '../support/dispatcher-deps.js';
import { ManualClock, RecordingPushGateway } from '../support/fakes.js';
import { T0, makeDevice, makeMailbox } from '../support/store-fixtures.js';

/**
 * A dead-lettered notification must be pushed when an operator redrives the DLQ. SQS's redrive (StartMessageMoveTask,
 * or soak/redrive-dlq.ts locally) sends the body as a new message with a new message id, so whatever claims the
 * idempotency keys must survive that move.
 */
const MAX_RECEIVES = 3;

describe('dead-lettered notification, redriven', () => {
  let stores: InMemoryStores;
  let push: RecordingPushGateway;
  let clock: ManualClock;
  let deps: DispatcherDeps;

  const body = JSON.stringify({ v: 1, type: 'new-mail', deviceId: 'device-1', mailboxId: 'inbox', receivedAt: T0, eventKeys: ['key-1'] } satisfies NewMailMessage);
  const record = (messageId: string, receiveCount: number): QueueRecord => ({ messageId, body, receiveCount });

  beforeEach(async () => {
    clock = new ManualClock(T0);
    stores = createInMemoryStores({ now: clock.now });
    push = new RecordingPushGateway();
    deps = inMemoryDispatcherDeps(stores, { push, now: clock.now, maxReceiveCount: MAX_RECEIVES });
    await stores.devices.createDevice(
      makeDevice({ deviceId: 'device-1', secretHash: hashSecret('s') }),
      [makeMailbox('device-1', { mailboxId: 'inbox', kind: 'primary', callbackKey: 'k1' })],
    );
  });

  /** APNs fails every attempt until the record is dead-lettered (redeliveries come after the burst window). */
  async function deadLetter(messageId: string): Promise<void> {
    for (let receive = 1; receive <= MAX_RECEIVES; receive++) {
      push.answerNext(new RetryableDeliveryError('ServiceUnavailable'));
      const result = await dispatchQueueRecords([record(messageId, receive)], deps);
      expect(result.failedMessageIds).toEqual([messageId]);
      clock.advance(60_000);
    }
  }

  it('pushes the mail once when the DLQ redrive brings the body back under a new message id', async () => {
    await deadLetter('original-id');
    expect(push.sent).toHaveLength(0);

    const redriven = await dispatchQueueRecords([record('new-id-after-redrive', 1)], deps);
    expect(redriven.failedMessageIds).toEqual([]);
    expect(push.sent).toHaveLength(1);
    expect((await stores.decisions.list('device-1', 0))[0]).toMatchObject({ outcome: 'pushed' });
  });

  it('still treats an Exchange retry of a pushed mail (another body, same item) as a duplicate', async () => {
    await dispatchQueueRecords([record('first', 1)], deps);
    clock.advance(60_000);
    const retry = JSON.stringify({ ...(JSON.parse(body) as NewMailMessage), receivedAt: T0 + 1_000 });
    await dispatchQueueRecords([{ messageId: 'exchange-retry', body: retry, receiveCount: 1 }], deps);
    expect(push.sent).toHaveLength(1);
    expect((await stores.decisions.list('device-1', 0))[0]).toMatchObject({ outcome: 'duplicate' });
  });

  it('pushes a redelivery of a record that died between the claim and the push', async () => {
    push.answerNext(new Error('process died'));
    await dispatchQueueRecords([record('crashed', 1)], deps);
    clock.advance(60_000);
    await dispatchQueueRecords([record('crashed', 2)], deps);
    expect(push.sent).toHaveLength(1);
  });
});
