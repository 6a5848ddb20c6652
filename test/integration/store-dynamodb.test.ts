import { DeleteCommand, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbDecisionLog } from '../../functions/_lib/adapters/dynamodb-decision-log.js';
import { DynamoDbDedupeStore } from '../../functions/_lib/adapters/dynamodb-dedupe-store.js';
import { DynamoDbSettlementLog } from '../../functions/_lib/adapters/dynamodb-settlement-log.js';
import { DynamoDbManagedSubscriptions } from '../../functions/_lib/adapters/dynamodb-managed-subscriptions.js';
import { dynamoDbDeviceStore, type AllDevicePorts } from '../support/device-ports.js';
import { MailboxLimitError } from '../../shared/errors.js';
import { DECISION_RETENTION_MS } from '../../shared/store/ports.js';
import { callbackKey, dedupeKey, deviceKey, devicePk, mailboxKey, pushTokenKey } from '../../functions/_lib/adapters/table-design.js';
import { hashSecret } from '../../functions/_lib/device-secrets.js';
import { dueShardOf } from '../../shared/store/due-shard.js';
import { withLocalBackends, type LocalBackendsHarness } from '../support/local-backends.js';
import { decisionAt, describeStoreBehaviour } from '../support/store-behaviour.js';
import { T0, makeDevice, makeMailbox, uniqueId } from '../support/store-fixtures.js';

let local: LocalBackendsHarness;
beforeAll(async () => {
  local = await withLocalBackends();
});
afterAll(() => local?.stop());

describeStoreBehaviour('DynamoDB adapters on dynalite', (now) => {
  const { documentClient } = local.clients;
  const table = local.backends.tableName;
  return {
    devices: dynamoDbDeviceStore(documentClient, table, { now }),
    dedupe: new DynamoDbDedupeStore(documentClient, table),
    decisions: new DynamoDbDecisionLog(documentClient, table, { now }),
    settlements: new DynamoDbSettlementLog(documentClient, table, { now }),
    managed: new DynamoDbManagedSubscriptions(documentClient, table, { now }),
  };
});

describe('DynamoDB adapters: the table as others see it', () => {
  let devices: AllDevicePorts;
  let nowMs: number;
  const raw = () => local.clients.documentClient;
  const table = () => local.backends.tableName;
  const getItem = async (key: { pk: string; sk: string }) =>
    (await raw().send(new GetCommand({ TableName: table(), Key: key, ConsistentRead: true }))).Item;
  const putItem = (item: Record<string, unknown>) => raw().send(new PutCommand({ TableName: table(), Item: item }));
  const itemsUnder = async (pk: string) =>
    (await raw().send(new QueryCommand({ TableName: table(), KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk }, ConsistentRead: true })))
      .Items ?? [];

  beforeEach(() => {
    nowMs = T0;
    devices = dynamoDbDeviceStore(raw(), table(), { now: () => nowMs });
  });

  it('lays items out as the table design says', async () => {
    const device = makeDevice();
    const primary = makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary' });
    await devices.createDevice(device, [primary]);
    await new DynamoDbDedupeStore(raw(), table()).claim({ deviceId: device.deviceId, keys: ['k1'], claimant: 'msg-1', now: T0, ttlSeconds: 90 });
    await new DynamoDbDecisionLog(raw(), table()).record(device.deviceId, decisionAt(T0, 'pushed'));

    expect(await getItem(deviceKey(device.deviceId))).toEqual({ pk: `DEVICE#${device.deviceId}`, sk: 'META', ...device });
    expect(await getItem(mailboxKey(device.deviceId, 'primary'))).toEqual({ pk: `DEVICE#${device.deviceId}`, sk: 'MAILBOX#primary', ...primary });
    expect(await getItem(callbackKey(primary.callbackKey))).toEqual({
      pk: `CALLBACK#${primary.callbackKey}`,
      sk: 'META',
      deviceId: device.deviceId,
      mailboxId: 'primary',
    });
    expect(await getItem(dedupeKey(device.deviceId, 'k1'))).toEqual({
      pk: `DEVICE#${device.deviceId}`,
      sk: 'DEDUPE#k1',
      claimant: 'msg-1',
      state: 'pending',
      expiresAt: T0 + 90_000,
      ttl: (T0 + 90_000) / 1000,
    });
    const events = (await itemsUnder(devicePk(device.deviceId))).filter((item) => String(item.sk).startsWith('EVENT#'));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ ...decisionAt(T0, 'pushed'), ttl: (T0 + DECISION_RETENTION_MS) / 1000 });
    expect(events[0]?.sk).toMatch(new RegExp(`^EVENT#${new Date(T0).toISOString()}#.+`));
  });

  it('keeps a push-token claim under the hash of the token, never the token itself, and the org count beside the org', async () => {
    const token = 'feedface'.repeat(8);
    await devices.claimPushToken(token, 'device-hash');
    const claim = await getItem(pushTokenKey(hashSecret(token)));
    expect(claim).toEqual({ ...pushTokenKey(hashSecret(token)), deviceId: 'device-hash' });
    expect(JSON.stringify(claim)).not.toContain(token);
    const org = uniqueId('org');
    await devices.reserveDevice(org, 10);
    expect(await getItem({ pk: `ORG#${org}`, sk: 'DEVICE-COUNT' })).toMatchObject({ devices: 1 });
  });

  it('writes dueShard next to every dueAt and removes both together, on every write path', async () => {
    const device = makeDevice({ mode: 'interval', dueAt: T0 });
    const shard = `DUE#${dueShardOf(device.deviceId)}`;
    await devices.createDevice(device, [makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary', dueAt: T0 + 1 })]);
    await devices.addMailbox(makeMailbox(device.deviceId, { mailboxId: 'added', dueAt: T0 + 2 }), 4);
    await devices.addMailbox(makeMailbox(device.deviceId, { mailboxId: 'plain' }), 4);
    const due = async (key: { pk: string; sk: string }) => {
      const item = await getItem(key);
      return { dueAt: item?.dueAt, dueShard: item?.dueShard };
    };

    expect(await due(deviceKey(device.deviceId))).toEqual({ dueAt: T0, dueShard: shard });
    expect(await due(mailboxKey(device.deviceId, 'primary'))).toEqual({ dueAt: T0 + 1, dueShard: shard });
    expect(await due(mailboxKey(device.deviceId, 'added'))).toEqual({ dueAt: T0 + 2, dueShard: shard });
    expect(await due(mailboxKey(device.deviceId, 'plain'))).toEqual({ dueAt: undefined, dueShard: undefined });

    await devices.updateMailboxSupervision(device.deviceId, 'plain', { dueAt: T0 + 3 });
    expect(await due(mailboxKey(device.deviceId, 'plain'))).toEqual({ dueAt: T0 + 3, dueShard: shard });
    await devices.setSubscription(device.deviceId, 'plain', { subscriptionId: 's', expiresAt: T0, reportedAt: T0, dueAt: T0 + 4 });
    expect(await due(mailboxKey(device.deviceId, 'plain'))).toEqual({ dueAt: T0 + 4, dueShard: shard });

    await devices.updateDevice(device.deviceId, { dueAt: null }, T0);
    await devices.updateMailboxSupervision(device.deviceId, 'primary', { dueAt: null });
    expect(await due(deviceKey(device.deviceId))).toEqual({ dueAt: undefined, dueShard: undefined });
    expect(await due(mailboxKey(device.deviceId, 'primary'))).toEqual({ dueAt: undefined, dueShard: undefined });
    await devices.updateDevice(device.deviceId, { dueAt: T0 + 5 }, T0);
    expect(await due(deviceKey(device.deviceId))).toEqual({ dueAt: T0 + 5, dueShard: shard });
  });

  it('treats device, mailbox and callback items whose ttl has passed as absent', async () => {
    const device = makeDevice();
    const primary = makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary' });
    const stale = makeMailbox(device.deviceId, { mailboxId: 'stale' });
    await devices.createDevice(device, [primary, stale]);
    const ttl = T0 / 1000 - 1;
    await putItem({ ...mailboxKey(device.deviceId, 'stale'), ...stale, ttl });
    await putItem({ ...callbackKey(stale.callbackKey), deviceId: device.deviceId, mailboxId: 'stale', ttl });

    expect((await devices.getDeviceWithMailboxes(device.deviceId))?.mailboxes.map((m) => m.mailboxId)).toEqual(['primary']);
    expect((await devices.getDeviceAndMailbox(device.deviceId, 'stale')).mailbox).toBeUndefined();
    expect(await devices.findCallback(stale.callbackKey)).toBeUndefined();

    await putItem({ ...deviceKey(device.deviceId), ...device, ttl });
    expect(await devices.getDevice(device.deviceId)).toBeUndefined();
    expect(await devices.getDeviceWithMailboxes(device.deviceId)).toBeUndefined();
    expect((await devices.getDeviceAndMailbox(device.deviceId, 'primary')).device).toBeUndefined();

    nowMs = T0 - 2000; // before the ttl, the same items are there
    expect(await devices.getDevice(device.deviceId)).toEqual(device);
  });

  it('refuses a malformed stored record at the adapter edge, naming the field and not its value', async () => {
    const device = makeDevice();
    const primary = makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary' });
    await devices.createDevice(device, [primary]);
    await putItem({ ...deviceKey(device.deviceId), ...device, pushTokenUpdatedAt: 'yesterday' });
    await putItem({ ...mailboxKey(device.deviceId, 'primary'), ...primary, kind: 'shared' });

    await expect(devices.getDevice(device.deviceId)).rejects.toMatchObject({ name: 'InvalidStoredRecordError', message: expect.stringContaining('pushTokenUpdatedAt') });
    await expect(devices.getDevice(device.deviceId)).rejects.not.toMatchObject({ message: expect.stringContaining('yesterday') });
    await expect(devices.getDeviceAndMailbox(device.deviceId, 'primary')).rejects.toMatchObject({ name: 'InvalidStoredRecordError' });
    await putItem({ ...deviceKey(device.deviceId), ...device });
    await expect(devices.getDeviceWithMailboxes(device.deviceId)).rejects.toMatchObject({ message: expect.stringContaining('kind') });
  });

  it('treats a dedupe item whose expiresAt has passed as free even if TTL deletion never ran', async () => {
    const deviceId = uniqueId('dev');
    await putItem({ ...dedupeKey(deviceId, 'k'), claimant: 'old', state: 'done', outcome: 'pushed', expiresAt: T0 - 1, ttl: T0 / 1000 });

    const result = await new DynamoDbDedupeStore(raw(), table()).claim({ deviceId, keys: ['k'], claimant: 'new', now: T0, ttlSeconds: 60 });

    expect(result.get('k')).toBe('claimed');
    expect(await getItem(dedupeKey(deviceId, 'k'))).toMatchObject({ claimant: 'new', state: 'pending' });
  });

  it('completes a claim as done with its outcome', async () => {
    const deviceId = uniqueId('dev');
    const dedupe = new DynamoDbDedupeStore(raw(), table());
    await dedupe.claim({ deviceId, keys: ['k'], claimant: 'm', now: T0, ttlSeconds: 60 });

    await dedupe.complete({ deviceId, keys: ['k'], claimant: 'm', outcome: 'suppressed', now: T0 });

    expect(await getItem(dedupeKey(deviceId, 'k'))).toMatchObject({ state: 'done', outcome: 'suppressed' });
  });

  it('deletes every item under the device key and every callback item, across many batches', async () => {
    const device = makeDevice();
    const mailboxes = [makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary' }), makeMailbox(device.deviceId)];
    await devices.createDevice(device, mailboxes);
    const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
    await new DynamoDbDedupeStore(raw(), table()).claim({ deviceId: device.deviceId, keys, claimant: 'm', now: T0, ttlSeconds: 60 });
    const log = new DynamoDbDecisionLog(raw(), table());
    for (let i = 0; i < 30; i++) await log.record(device.deviceId, decisionAt(T0 - i * 1000, 'pushed'));
    expect(await itemsUnder(devicePk(device.deviceId))).toHaveLength(1 + 2 + 40 + 30);

    await devices.deleteDevice(device.deviceId);

    expect(await itemsUnder(devicePk(device.deviceId))).toEqual([]);
    for (const mailbox of mailboxes) expect(await getItem(callbackKey(mailbox.callbackKey))).toBeUndefined();
  });

  it('finishes a deletion that a crash interrupted after the device item was gone', async () => {
    const device = makeDevice();
    const primary = makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary' });
    await devices.createDevice(device, [primary]);
    // The crash: only the first step, deleting the device item, happened.
    await raw().send(new DeleteCommand({ TableName: table(), Key: deviceKey(device.deviceId) }));

    await devices.deleteDevice(device.deviceId);

    expect(await itemsUnder(devicePk(device.deviceId))).toEqual([]);
    expect(await getItem(callbackKey(primary.callbackKey))).toBeUndefined();
  });

  it('deletes the mailboxes before the device item, so that no alert slot is taken for a device being deleted', async () => {
    const device = makeDevice();
    const primary = makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary' });
    await devices.createDevice(device, [primary]);
    const client = raw();
    const atDeviceDelete: Array<{ mailbox: unknown; callback: unknown; slot: boolean }> = [];
    const crashing = new Proxy(client, {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver);
        return async (command: Parameters<typeof client.send>[0]) => {
          if (command instanceof DeleteCommand && command.input.Key?.sk === deviceKey(device.deviceId).sk) {
            // What the dispatcher finds just before the device item goes: a carried registration's alert slot
            // (conditional on the mailbox item) is refused, so nothing is pushed or recorded.
            atDeviceDelete.push({
              mailbox: await getItem(mailboxKey(device.deviceId, 'primary')),
              callback: await getItem(callbackKey(primary.callbackKey)),
              slot: await devices.claimAlertSlot(device.deviceId, 'primary', T0, { windowMs: 60_000, maxPerWindow: 3 }),
            });
            throw new Error('crash before the device item is deleted');
          }
          return target.send(command as never);
        };
      },
    });

    await expect(dynamoDbDeviceStore(crashing, table(), { now: () => nowMs }).deleteDevice(device.deviceId)).rejects.toThrow(/crash/);

    expect(atDeviceDelete).toEqual([{ mailbox: undefined, callback: undefined, slot: false }]);
    // The crash left the device without its mailboxes: it still authenticates, and a repeated DELETE completes.
    expect(await devices.getDevice(device.deviceId)).toEqual(device);
    expect(await devices.getDeviceAndMailbox(device.deviceId, 'primary')).toEqual({ device });
    await devices.deleteDevice(device.deviceId);
    expect(await itemsUnder(devicePk(device.deviceId))).toEqual([]);
  });

  it('deletes a mailbox added while the device was being deleted, before its device item went', async () => {
    const device = makeDevice();
    await devices.createDevice(device, [makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary' })]);
    const late = makeMailbox(device.deviceId, { mailboxId: 'late' });
    const client = raw();
    let added = false;
    const racing = new Proxy(client, {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver);
        return async (command: Parameters<typeof client.send>[0]) => {
          if (!added && command instanceof DeleteCommand && command.input.Key?.sk === deviceKey(device.deviceId).sk) {
            added = true;
            await devices.addMailbox(late, 5);
          }
          return target.send(command as never);
        };
      },
    });

    const removed = await dynamoDbDeviceStore(racing, table(), { now: () => nowMs }).deleteDevice(device.deviceId);

    expect(removed.map((mailbox) => mailbox.mailboxId).sort()).toEqual(['late', 'primary']);
    expect(await itemsUnder(devicePk(device.deviceId))).toEqual([]);
    expect(await getItem(callbackKey(late.callbackKey))).toBeUndefined();
  });

  it('refuses an add at the limit that checked before a concurrent add finished, whatever its createdAt', async () => {
    const device = makeDevice();
    const stored = Array.from({ length: 3 }, (_, i) => makeMailbox(device.deviceId, { mailboxId: `d${i}`, createdAt: T0 + 10 }));
    await devices.createDevice(device, [makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary' }), ...stored]);
    const later = makeMailbox(device.deviceId, { mailboxId: 'later', createdAt: T0 + 20 });
    const earlier = makeMailbox(device.deviceId, { mailboxId: 'earlier', createdAt: T0 });
    // `earlier` finds room (3 of 4), then `later` is added completely, then `earlier` writes and reads back 5.
    const client = raw();
    let interleaved = false;
    const racingClient = new Proxy(client, {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver);
        return async (command: Parameters<typeof client.send>[0]) => {
          const output = await target.send(command as never);
          if (!interleaved && command instanceof QueryCommand) {
            interleaved = true;
            await devices.addMailbox(later, 4);
          }
          return output;
        };
      },
    });

    await expect(dynamoDbDeviceStore(racingClient, table(), { addMailboxAttempts: 1 }).addMailbox(earlier, 4)).rejects.toBeInstanceOf(
      MailboxLimitError,
    );

    const mailboxes = (await devices.getDeviceWithMailboxes(device.deviceId))?.mailboxes.map((m) => m.mailboxId).sort();
    expect(mailboxes).toEqual(['d0', 'd1', 'd2', 'later', 'primary']);
    expect(await getItem(callbackKey(earlier.callbackKey))).toBeUndefined();
  });

  it('gets a collided add through on a later try once the device has room again', async () => {
    const device = makeDevice();
    const stored = Array.from({ length: 3 }, (_, i) => makeMailbox(device.deviceId, { mailboxId: `d${i}` }));
    await devices.createDevice(device, [makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary' }), ...stored]);
    const other = makeMailbox(device.deviceId, { mailboxId: 'other' });
    const mine = makeMailbox(device.deviceId, { mailboxId: 'mine' });
    // Another add writes right after `mine` checked for room, so `mine` reads back five and steps back; the other
    // add then gives up too, which frees the slot for `mine`'s second try.
    const client = raw();
    let otherWritten = false;
    let collided = false;
    const racingClient = new Proxy(client, {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver);
        return async (command: Parameters<typeof client.send>[0]) => {
          if (!collided && command instanceof DeleteCommand && command.input.Key?.sk === 'MAILBOX#mine') {
            collided = true;
            await raw().send(new DeleteCommand({ TableName: table(), Key: mailboxKey(device.deviceId, 'other') }));
          }
          const output = await target.send(command as never);
          if (!otherWritten && command instanceof QueryCommand) {
            otherWritten = true;
            await putItem({ ...mailboxKey(device.deviceId, 'other'), ...other });
          }
          return output;
        };
      },
    });

    await dynamoDbDeviceStore(racingClient, table(), { addMailboxBackoffMs: 1 }).addMailbox(mine, 4);

    expect(collided).toBe(true);
    expect((await devices.getDeviceWithMailboxes(device.deviceId))?.mailboxes.map((m) => m.mailboxId).sort()).toEqual([
      'd0',
      'd1',
      'd2',
      'mine',
      'primary',
    ]);
    expect(await devices.findCallback(mine.callbackKey)).toEqual({ deviceId: device.deviceId, mailboxId: 'mine' });
  });

  it('removes its own mailbox again when the device was deleted while it was being added', async () => {
    const device = makeDevice();
    await devices.createDevice(device, [makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary' })]);
    const added = makeMailbox(device.deviceId);
    // A client that lets the device be deleted right after the mailbox item was written, i.e. after addMailbox
    // found the device but before it read back.
    const client = raw();
    const racingClient = new Proxy(client, {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver);
        return async (command: Parameters<typeof client.send>[0]) => {
          const output = await target.send(command as never);
          if (command instanceof PutCommand && command.input.Item?.sk === `MAILBOX#${added.mailboxId}`) {
            await devices.deleteDevice(device.deviceId);
          }
          return output;
        };
      },
    });
    const racing = dynamoDbDeviceStore(racingClient, table(), { now: () => nowMs });

    await expect(racing.addMailbox(added, 4)).rejects.toThrow('no such device');

    expect(await itemsUnder(devicePk(device.deviceId))).toEqual([]);
    expect(await getItem(callbackKey(added.callbackKey))).toBeUndefined();
  });

  it('hands a mailbox back with the device’s secrets even when the relay’s first rotation comes in between, and leaves no lookup of the relay’s', async () => {
    const device = makeDevice();
    const held = { callbackKey: uniqueId('cb-device'), clientStateHash: 'state-device' };
    await devices.createDevice(device, [makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary', managedProtocol: 'graph', ...held })]);
    const managed = new DynamoDbManagedSubscriptions(raw(), table());
    const relays = uniqueId('cb-relay');
    // The hand-back read the device's secrets as current; its write reaches the table just after a recreation moved
    // the mailbox to the relay's own (keeping the device's for the first time).
    let raced = false;
    const racing = Object.create(raw()) as ReturnType<typeof raw>;
    racing.send = (async (command: { input: { ReturnValues?: string } }) => {
      if (!raced && command.input.ReturnValues === 'ALL_OLD') {
        raced = true;
        await managed.rotateManagedSecrets(device.deviceId, 'primary', { callbackKey: relays, clientStateHash: 'state-relay', subscribingSince: T0 });
      }
      return raw().send(command as never);
    }) as never;

    const handedBack = await new DynamoDbManagedSubscriptions(racing, table()).handBack(device.deviceId, 'primary', { dueAt: T0, clearManagedBy: false });

    expect(raced).toBe(true);
    expect(handedBack).toMatchObject({ callbackKey: relays });
    expect(await getItem(mailboxKey(device.deviceId, 'primary'))).toMatchObject(held);
    expect(await devices.findCallback(held.callbackKey)).toEqual({ deviceId: device.deviceId, mailboxId: 'primary' });
    expect(await getItem(callbackKey(relays))).toBeUndefined();
  });
});
