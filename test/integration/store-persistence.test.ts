import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SendMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoDbDecisionLog } from '../../functions/_lib/adapters/dynamodb-decision-log.js';
import { DynamoDbDeviceStore } from '../../functions/_lib/adapters/dynamodb-device-store.js';
import { withLocalBackends, type LocalBackendsHarness } from '../support/local-backends.js';
import { decisionAt } from '../support/store-behaviour.js';
import { makeDevice, makeMailbox } from '../support/store-fixtures.js';

describe('local backends across a restart', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(dataDir: string): Promise<LocalBackendsHarness> {
    const local = await withLocalBackends({ dataDir });
    cleanups.push(() => local.stop());
    return local;
  }

  it('keeps DynamoDB data in the data directory; queued messages are not kept', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'inbox-relay-backends-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const device = makeDevice();
    const primary = makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary' });
    const decision = decisionAt(Date.now(), 'pushed');

    const first = await start(dataDir);
    await new DynamoDbDeviceStore(first.clients.documentClient, first.backends.tableName).createDevice(device, [primary]);
    await new DynamoDbDecisionLog(first.clients.documentClient, first.backends.tableName).record(device.deviceId, decision);
    await first.clients.sqs.send(new SendMessageCommand({ QueueUrl: first.backends.eventQueueUrl, MessageBody: 'lost on restart' }));
    await first.stop();

    const second = await start(dataDir);
    const devices = new DynamoDbDeviceStore(second.clients.documentClient, second.backends.tableName);

    expect(await readdir(path.join(dataDir, 'dynamodb'))).not.toEqual([]);
    expect(await devices.getDeviceWithMailboxes(device.deviceId)).toEqual({ device, mailboxes: [primary] });
    expect(await devices.findCallback(primary.callbackKey)).toEqual({ deviceId: device.deviceId, mailboxId: 'primary' });
    expect(await new DynamoDbDecisionLog(second.clients.documentClient, second.backends.tableName).list(device.deviceId, 0)).toEqual([
      decision,
    ]);
    const { Messages: messages = [] } = await second.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: second.backends.eventQueueUrl, WaitTimeSeconds: 0 }),
    );
    expect(messages).toEqual([]);
  });

  it('keeps nothing with :memory:', async () => {
    const device = makeDevice();
    const first = await start(':memory:');
    await new DynamoDbDeviceStore(first.clients.documentClient, first.backends.tableName).createDevice(device, []);
    await first.stop();

    const second = await start(':memory:');

    expect(await new DynamoDbDeviceStore(second.clients.documentClient, second.backends.tableName).getDevice(device.deviceId)).toBeUndefined();
  });

  it('stops idempotently', async () => {
    const local = await start(':memory:');

    await local.backends.stop();
    await local.backends.stop();
  });
});
